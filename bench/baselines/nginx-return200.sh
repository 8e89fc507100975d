#!/bin/sh
# nginx, one worker, answering every request with `return 200` (the issue's
# per-request floor). Honours PORT/HOST like the other servers. The config and
# runtime files live in /tmp/fastmock-bench-nginx-$PORT (rewritten at every
# start); the script execs nginx, so the benchmark measures nginx itself.
#   python3 bench/run.py --baseline bench/baselines/nginx-return200.sh
set -eu
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
[ -x "$NGINX" ] || { echo "nginx-return200.sh: nginx not found (apt-get install -y nginx-light)" >&2; exit 2; }
port=${PORT:-3000}
dir=/tmp/fastmock-bench-nginx-$port
rm -rf "$dir"
mkdir -p "$dir/logs" "$dir/tmp"
cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
error_log $dir/logs/error.log warn;
pid $dir/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $dir/tmp; proxy_temp_path $dir/tmp; fastcgi_temp_path $dir/tmp;
    uwsgi_temp_path $dir/tmp; scgi_temp_path $dir/tmp;
    keepalive_requests 1000000;
    server {
        listen ${HOST:-127.0.0.1}:$port backlog=4096;
        location / { return 200; }
    }
}
CONF
exec "$NGINX" -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;'
