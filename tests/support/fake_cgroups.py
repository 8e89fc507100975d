"""A fake /proc/self and the cgroup file systems it points to, for fastmock.cgroup's unit tests."""
from __future__ import annotations

from fastmock.cgroup import Cgroup


class Tree:
    """A fake /proc/self (cgroup, mountinfo) and the cgroup file systems it points to."""

    def __init__(self, tmp_path) -> None:
        self.base = tmp_path
        self.proc = tmp_path / "proc"
        self.proc.mkdir()
        self.cgroup_lines: list[str] = []
        self.mount_lines: list[str] = []

    def mount(self, kind: str, point: str, root: str = "/", options: str = "rw") -> str:
        """A v1 ("cgroup", options naming its controllers) or v2 ("cgroup2") mount."""
        path = self.base / point.lstrip("/")
        path.mkdir(parents=True, exist_ok=True)
        shown = str(path).replace(" ", "\\040")
        n = len(self.mount_lines) + 30
        self.mount_lines.append(f"{n} 25 0:{n} {root} {shown} rw,relatime - {kind} {kind} {options}")
        return str(path)

    def member(self, controllers: str, path: str, number: int = 1) -> None:
        self.cgroup_lines.append(f"{number}:{controllers}:{path}")

    def write(self, mount_point: str, cgroup: str, name: str, value: str) -> None:
        directory = self.base / mount_point.lstrip("/") / cgroup.strip("/")
        directory.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(value + "\n")

    def read(self) -> Cgroup:
        (self.proc / "cgroup").write_text("".join(line + "\n" for line in self.cgroup_lines))
        (self.proc / "mountinfo").write_text("".join(line + "\n" for line in self.mount_lines))
        return Cgroup(str(self.proc))
