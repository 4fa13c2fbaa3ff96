#!/bin/bash
# demo.sh - install the dependencies, build libvirtuos, and serve a
# directory with vhttpd on the local transport; fetch it with curl.
#   scripts/demo.sh           fetch a page and a header, then stop
#   scripts/demo.sh --serve   keep serving until Ctrl-C (open the URL in
#                             a browser)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

if [ "$(id -u)" -eq 0 ]; then
	scripts/deps.sh
else
	echo "demo.sh: not root: skipping apt-get; assuming the dependencies are there"
fi

build=$top/_build/demo
mkdir -p "$build"
[ -x configure ] || autoreconf -fi
(cd "$build" && { [ -f Makefile ] || "$top/configure" -q; } && make -s -j"$(nproc)")

site=$(mktemp -d "${TMPDIR:-/tmp}/vhttpd-demo-XXXXXX")
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$site"' EXIT
cat >"$site/index.html" <<'HTML'
<!doctype html>
<title>libvirtuos demo</title>
<h1>Served by vhttpd</h1>
<p>Every recv, open, statx, pread and send of this page went through the
libvirtuos async API (vos_submit / vos_wait) on the io_uring-local transport.</p>
HTML
echo "hello from a plain text file" >"$site/hello.txt"

mkfifo "$site/ready"
exec 8<>"$site/ready"
"$build/examples/vhttpd" --root "$site" --port "${PORT:-0}" --ready-fd 9 9>"$site/ready" &
pid=$!
read -r -t 20 -u 8 port
url=http://127.0.0.1:$port

echo
echo "== curl $url/"
curl -sS --max-time 10 "$url/"
echo "== curl $url/hello.txt"
curl -sS --max-time 10 "$url/hello.txt"
echo "== curl -I $url/hello.txt"
curl -sS -I --max-time 10 "$url/hello.txt"
echo "== curl $url/missing  (status)"
curl -sS -o /dev/null -w '%{http_code}\n' --max-time 10 "$url/missing"

if [ "${1:-}" = "--serve" ]; then
	echo "Serving $site on $url/ -- open it in a browser; Ctrl-C stops."
	wait "$pid"
else
	kill -TERM "$pid"
	wait "$pid"
	echo "demo: ok (run 'scripts/demo.sh --serve' to keep the server up)"
fi
