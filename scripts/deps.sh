#!/bin/bash
# deps.sh - install what building and testing libvirtuos needs, from
# Debian's archive (Debian 12).  Run as root; safe to run again.
#   scripts/deps.sh         build + demo dependencies
#   scripts/deps.sh --test  also what the test suite needs
#   scripts/deps.sh --bench also what bench/run draws with (gnuplot)
set -euo pipefail

pkgs=(build-essential autoconf automake libtool pkg-config man-db
      liburing-dev libaio-dev curl ca-certificates)
if [ "${1:-}" = "--test" ]; then
	# iproute2: tests/services/netns.test makes namespaces and a veth
	pkgs+=(check clang libclang-rt-14-dev iproute2)
fi
if [ "${1:-}" = "--bench" ]; then
	pkgs+=(gnuplot-nox)
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: run as root (it calls apt-get)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${pkgs[@]}"
