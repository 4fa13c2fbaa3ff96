# shellcheck shell=bash
# lib.sh - what the service-daemon tests share: starting netd and stord
# on private sockets, a routes file for them, stopping them cleanly.
# Sourced, with top_builddir and top_srcdir set by `make check`.
set -eu

sbin=${top_builddir:-.}/servers
work=$(mktemp -d "${TMPDIR:-/tmp}/vos-svc-XXXXXX")
memwork=$(mktemp -d /dev/shm/vos-svc-XXXXXX)
daemon_pids=()

cleanup() {
	local p
	for p in "${daemon_pids[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	rm -rf "$work" "$memwork"
}
trap cleanup EXIT

fail() {
	local f
	echo "FAIL: $*" >&2
	for f in "$work"/*.log; do
		[ -f "$f" ] || continue
		echo "--- $f:" >&2
		tail -n 30 "$f" >&2
	done
	exit 1
}

# start_daemon NAME PROGRAM ARGS...: run it in the foreground on
# $work/NAME.sock, wait (at most 20 s) until it says it is ready.  Its pid
# goes to pid_NAME, its log to $work/NAME.log.
start_daemon() {
	local name=$1 prog=$2 ready
	shift 2
	rm -f "$work/$name.ready"
	mkfifo "$work/$name.ready"
	exec 8<>"$work/$name.ready"
	"$sbin/$prog/$prog" -f -c /dev/null -s "$work/$name.sock" \
		--ready-fd 9 "$@" 9>"$work/$name.ready" 2>>"$work/$name.log" &
	eval "pid_$name=$!"
	daemon_pids+=("$!")
	ready=
	read -r -t 20 -u 8 ready || fail "$name did not get ready in 20 s"
	exec 8<&-
	[ "$ready" = ready ] || fail "$name: unexpected readiness '$ready'"
}

# stop_daemon NAME: SIGTERM; it must exit 0 within 20 s.
stop_daemon() {
	local name=$1 pid status=0 watchdog
	eval "pid=\$pid_$name"
	kill -TERM "$pid"
	( sleep 20; kill -KILL "$pid" 2>/dev/null ) &
	watchdog=$!
	wait "$pid" || status=$?
	# SIGKILL: a subshell killed with SIGTERM before its sleep starts
	# runs our EXIT trap (bash), which removed $work under us
	kill -KILL "$watchdog" 2>/dev/null || true
	[ "$status" -ne 137 ] || fail "$name ignored SIGTERM for 20 s"
	[ "$status" -eq 0 ] || fail "$name exited with status $status"
}

# write_routes: netd for inet/inet6, stord "mem" (tmpfs) and "disk".
write_routes() {
	mkdir -p "$memwork/export" "$work/export"
	cat > "$work/routes.conf" <<EOR
# made by tests/services/lib.sh
service netd shm path=$work/netd.sock
service mem  shm path=$work/mem.sock
service disk shm path=$work/disk.sock
family inet  netd
family inet6 netd
path $memwork/export mem
path $work/export disk
EOR
}

start_all() {
	write_routes
	start_daemon netd netd "$@"
	start_daemon mem stord --root "$memwork/export" "$@"
	start_daemon disk stord --root "$work/export" "$@"
}
