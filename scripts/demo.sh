#!/bin/bash
# demo.sh - install the dependencies, build libvirtuos, start the service
# daemons (netd for sockets, stord for the site's files) and serve a
# directory with vhttpd through them; fetch it with curl, show what the
# daemons report, then SIGKILL netd and show that stord and the program's
# local calls are unaffected.
#   scripts/demo.sh           run the demo, then stop everything
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

work=$(mktemp -d "${TMPDIR:-/tmp}/vos-demo-XXXXXX")
site=$work/site
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir "$site"
cat >"$site/index.html" <<'HTML'
<!doctype html>
<title>libvirtuos demo</title>
<h1>Served by vhttpd through netd and stord</h1>
<p>vhttpd's sockets live in netd and this file was read by stord: each
recv, open, statx, pread and send went through a shared-memory ring to a
service daemon (vos_submit / vos_wait on the routed transport).</p>
HTML
echo "hello from a plain text file" >"$site/hello.txt"

# start_daemon NAME ARGS...: foreground, wait until it says ready
start_daemon() {
	local name=$1
	shift
	mkfifo "$work/$name.ready"
	exec 8<>"$work/$name.ready"
	"$build/servers/$name/$name" -f -c /dev/null -s "$work/$name.sock" \
		--ready-fd 9 "$@" 9>"$work/$name.ready" 2>>"$work/daemons.log" &
	pids+=($!)
	eval "${name}_pid=$!"
	read -r -t 20 -u 8 _ || { cat "$work/daemons.log"; exit 1; }
	exec 8<&-
}
start_daemon netd
start_daemon stord --root "$site"
cat >"$work/routes.conf" <<EOR
service netd  shm path=$work/netd.sock
service stord shm path=$work/stord.sock
family inet  netd
family inet6 netd
path $site stord
EOR
export VOS_ROUTES=$work/routes.conf

mkfifo "$work/ready"
exec 8<>"$work/ready"
"$build/examples/vhttpd" --root "$site" --port "${PORT:-0}" --ready-fd 9 \
	9>"$work/ready" 2>"$work/vhttpd.log" &
pid=$!
pids+=("$pid")
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
echo "== vosctl list"
"$build/servers/vosctl/vosctl" list || true

if [ "${1:-}" = "--serve" ]; then
	echo "Serving $site on $url/ -- open it in a browser; Ctrl-C stops."
	wait "$pid"
	exit 0
fi

echo "== SIGKILL netd: vhttpd's sockets were there, its files are in stord"
kill -KILL "$netd_pid"
wait "$pid" 2>/dev/null && status=0 || status=$?
echo "vhttpd exited with status $status; it said:"
tail -n 3 "$work/vhttpd.log"
echo "== vosctl list (netd down, stord up)"
"$build/servers/vosctl/vosctl" list || true
echo "== the stord files are still served, to a new program (vcp)"
"$build/examples/vcp" "$site/hello.txt" "$work/copy.txt"
cat "$work/copy.txt"
kill -TERM "$stord_pid"
wait "$stord_pid"
echo "demo: ok (run 'scripts/demo.sh --serve' to keep the server up)"
