#!/usr/bin/env bash
# Installs the Debian packages weft needs that are missing. Usage:
#   tools/deps.sh test    build + test dependencies
#   tools/deps.sh bench   build + benchmark dependencies (the peers)
set -euo pipefail

want=(meson ninja-build pkg-config gcc clang liburcu-dev)
case "${1:-test}" in
test)  want+=(libcriterion-dev python3 libclang-rt-14-dev systemtap-sdt-dev) ;;
bench) want+=(libtbb-dev libomp-dev g++ python3 gnuplot-nox wrk) ;;
*)     echo "usage: $0 test|bench" >&2; exit 2 ;;
esac

missing=()
for pkg in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$pkg")
done
if ((${#missing[@]})); then
	echo "installing: ${missing[*]}"
	sudo=""
	[ "$(id -u)" = 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
