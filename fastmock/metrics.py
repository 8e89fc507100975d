"""Counters behind ``GET /metrics``, rendered in the Prometheus text format."""
from __future__ import annotations


class Metrics:
    __slots__ = ("requests", "connections", "streams", "tokens_sent", "bytes_sent",
                 "rejected_connections")

    def __init__(self) -> None:
        self.requests: dict[tuple[str, int], int] = {}   # (route, status) -> count
        self.connections = 0                              # open now
        self.streams = 0                                  # streaming now
        self.tokens_sent = 0
        self.bytes_sent = 0
        self.rejected_connections = 0                     # answered 503 by --max-connections

    def count(self, route: str, status: int) -> None:
        key = (route, status)
        requests = self.requests
        requests[key] = requests.get(key, 0) + 1

    def render(self) -> bytes:
        lines = [
            "# HELP fastmock_requests_total HTTP requests answered, by route and status.",
            "# TYPE fastmock_requests_total counter",
        ]
        for (route, status), n in sorted(self.requests.items()):
            lines.append(f'fastmock_requests_total{{route="{route}",status="{status}"}} {n}')
        for name, kind, value, text in (
            ("open_connections", "gauge", self.connections, "TCP connections open now."),
            ("active_streams", "gauge", self.streams, "Streaming responses in progress."),
            ("tokens_sent_total", "counter", self.tokens_sent, "Stream frames (tokens) sent."),
            ("bytes_sent_total", "counter", self.bytes_sent, "Response bytes written to sockets."),
            ("rejected_connections_total", "counter", self.rejected_connections,
             "Connections answered 503 and closed because --max-connections were open."),
        ):
            lines.append(f"# HELP fastmock_{name} {text}")
            lines.append(f"# TYPE fastmock_{name} {kind}")
            lines.append(f"fastmock_{name} {value}")
        lines.append("")
        return "\n".join(lines).encode()
