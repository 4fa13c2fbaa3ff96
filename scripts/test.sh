#!/bin/bash
# test.sh - install the dependencies, build libvirtuos, and run the whole
# test suite: -Werror build, `make check` on the io_uring backend and on the
# compat backend (with netd and stord started for real), again under
# ASan+UBSan, under TSan; an install check; fuzzing of every decoder of
# shared memory (clang, libFuzzer); and `make distcheck`.
# Prints one summary line at the end: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
top=$PWD
jobs=$(nproc)

if [ "$(id -u)" -eq 0 ]; then
	scripts/deps.sh --test || exit 1
else
	echo "test.sh: not root: skipping apt-get; assuming the dependencies are there"
fi
autoreconf -fi || exit 1

passed=0
failed=0
declare -a failures=()

# run_check NAME BUILDDIR [VAR=value ...]: make check, tally the results
run_check() {
	local name=$1 dir=$2 p f
	shift 2
	echo "=== $name"
	if (cd "$dir" && env "$@" make -s check); then :; fi
	p=$(sed -n 's/^# PASS: *//p' "$dir/test-suite.log" | head -n 1)
	f=$(awk '/^# (FAIL|ERROR|XPASS):/ {s += $3} END {print s + 0}' "$dir/test-suite.log")
	p=${p:-0}
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -ne 0 ] || [ "$p" -eq 0 ]; then
		failures+=("$name")
		[ "$p" -ne 0 ] || failed=$((failed + 1))
		cat "$dir/test-suite.log"
	fi
	echo "--- $name: $p passed, $f failed"
}

# record NAME STATUS LOG LINES: count a one-shot check (install, fuzz,
# distcheck) as passed if STATUS is 0, else show the last LINES of LOG
record() {
	if [ "$2" -eq 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures+=("$1")
		[ -f "$3" ] && tail -n "$4" "$3"
	fi
}

# configure_build NAME FLAGS...: a fresh out-of-tree build
configure_build() {
	local dir=$top/_build/$1
	shift
	rm -rf "$dir"
	mkdir -p "$dir"
	(cd "$dir" && "$top/configure" -q "$@" && make -s -j"$jobs") || {
		failures+=("build $dir")
		failed=$((failed + 1))
		return 1
	}
}

if configure_build werror --enable-werror; then
	run_check "io_uring backend" "$top/_build/werror" VOS_LOCAL_BACKEND=uring
	run_check "compat backend" "$top/_build/werror" VOS_LOCAL_BACKEND=compat
fi
if configure_build asan --enable-werror --enable-sanitizers; then
	run_check "ASan+UBSan, io_uring backend" "$top/_build/asan" VOS_LOCAL_BACKEND=uring
	run_check "ASan+UBSan, compat backend" "$top/_build/asan" VOS_LOCAL_BACKEND=compat
fi
if configure_build tsan --enable-werror --enable-tsan; then
	run_check "TSan, io_uring backend" "$top/_build/tsan" VOS_LOCAL_BACKEND=uring
	run_check "TSan, compat backend" "$top/_build/tsan" VOS_LOCAL_BACKEND=compat
fi

# The installed library, as a user meets it: headers, pkg-config (shared and
# static), man pages.
install_check() {
	local dest=$top/_build/dest prefix pc
	rm -rf "$dest"
	(cd "$top/_build/werror" && make -s install DESTDIR="$dest") || return 1
	prefix=$(sed -n 's/^prefix=//p' "$top/_build/werror/virtuos.pc")
	pc=(env PKG_CONFIG_SYSROOT_DIR="$dest" PKG_CONFIG_PATH="$dest$prefix/lib/pkgconfig" pkg-config)
	# shellcheck disable=SC2046 # word splitting of pkg-config output is meant
	cc -std=c11 -Wall -Werror -o "$dest/hello" "$top/examples/hello.c" \
		$("${pc[@]}" --cflags --libs virtuos) || return 1
	echo "install check: the installed library" | tee "$dest/in.txt" >/dev/null
	LD_LIBRARY_PATH="$dest$prefix/lib" "$dest/hello" "$dest/in.txt" | cmp - "$dest/in.txt" || return 1
	# shellcheck disable=SC2046
	cc -std=c11 -Wall -Werror -o "$dest/hello-static" "$top/examples/hello.c" \
		$("${pc[@]}" --cflags virtuos) "$dest$prefix/lib/libvirtuos.a" \
		$("${pc[@]}" --static --libs virtuos | sed 's/-lvirtuos//') || return 1
	"$dest/hello-static" "$dest/in.txt" | cmp - "$dest/in.txt" || return 1
	# (the NAME line wraps: one line of words before the grep)
	MANWIDTH=80 man -M "$dest$prefix/share/man" vos_prep_read 2>/dev/null |
		tr -s ' \n' '  ' | grep -q "prepare libvirtuos requests" || return 1
	# the daemons and vosctl, with their pages (stord's is an alias)
	local run=(env LD_LIBRARY_PATH="$dest$prefix/lib")
	"${run[@]}" "$dest$prefix/sbin/netd" --help | grep -q "network service" || return 1
	"${run[@]}" "$dest$prefix/sbin/stord" --help | grep -q "export root" || return 1
	"${run[@]}" "$dest$prefix/bin/vosctl" --help | grep -q "vosctl" || return 1
	for page in netd stord vosctl virtuos-routes; do
		MANWIDTH=80 man -M "$dest$prefix/share/man" "$page" 2>/dev/null |
			grep -q "^NAME" || return 1
	done
	echo "installed: headers, libvirtuos.so and .a, virtuos.pc, netd, stord, vosctl, man pages: ok"
}
echo "=== install"
status=1
if [ -d "$top/_build/werror" ]; then install_check; status=$?; fi
record "install check" "$status" /dev/null 0

# Fuzz every decoder of what the other side writes (`make fuzz`): the
# core's bookkeeping against a hostile transport (60 s), the service's
# request decoder, the client's result and header decoders, the control
# channel, and both ends' ring logic against a peer writing anywhere
# (30 s each).  A crash, a sanitizer report or an invariant's abort fails
# the run.
echo "=== fuzz (60 s + 4 x 30 s)"
if configure_build fuzz CC=clang --enable-fuzz --enable-werror --disable-shared; then
	for target in core:60 server_decode:30 client_result:30 control_msg:30 ring:30; do
		name=${target%%:*}
		(cd "$top/_build/fuzz" && make -s fuzz FUZZ_TARGETS="$name" \
			FUZZ_TIME="${target#*:}" >"$top/_build/fuzz/make-fuzz-$name.log" 2>&1)
		record "fuzz_$name" $? "$top/_build/fuzz/make-fuzz-$name.log" 40
		cat "$top/_build/fuzz/make-fuzz-$name.log"
	done
fi

echo "=== make distcheck"
(cd "$top/_build/werror" && make -s distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror >"$top/_build/distcheck.log" 2>&1)
record "make distcheck" $? "$top/_build/distcheck.log" 60
grep -A3 "archives ready" "$top/_build/distcheck.log" || true

echo
if [ ${#failures[@]} -ne 0 ]; then
	printf 'FAILED: %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
