# shellcheck shell=bash
# lib.sh - what the example tests share.  Sourced, with top_builddir and
# top_srcdir set by `make check`.
set -eu

# shellcheck disable=SC2034 # used by the scripts that source this
bin=${top_builddir:-.}/examples
work=$(mktemp -d "${TMPDIR:-/tmp}/vos-example-XXXXXX")
server_pid=

cleanup() {
	if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
		kill -KILL "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	if [ -f "$work/server.log" ]; then
		echo "--- server log:" >&2
		cat "$work/server.log" >&2
	fi
	exit 1
}

# start_server PROGRAM ARGS...: start it in the background with
# --ready-fd, wait (at most 20 s) for the port it announces: $port.
start_server() {
	mkfifo "$work/ready"
	# read-write open: never blocks, whatever the server does
	exec 8<>"$work/ready"
	"$@" --ready-fd 9 9>"$work/ready" 2>"$work/server.log" &
	server_pid=$!
	port=
	read -r -t 20 -u 8 port || fail "$1 did not announce a port in 20 s"
	exec 8<&-
	[ -n "$port" ] || fail "$1 announced no port"
}

# stop_server: SIGTERM, and it must exit 0 within 20 s.  We wait for the
# process itself; the watchdog only bounds the wait.
stop_server() {
	local status=0 watchdog
	kill -TERM "$server_pid"
	( sleep 20; kill -KILL "$server_pid" 2>/dev/null ) &
	watchdog=$!
	wait "$server_pid" || status=$?
	# SIGKILL: a subshell killed with SIGTERM before its sleep starts
	# runs our EXIT trap (bash), which removed $work under us
	kill -KILL "$watchdog" 2>/dev/null || true
	server_pid=
	[ "$status" -ne 137 ] || fail "server ignored SIGTERM for 20 s"
	[ "$status" -eq 0 ] || fail "server exited with status $status"
}

expect_eq() { # what got want
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}
