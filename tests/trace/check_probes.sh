#!/bin/bash
# Checks the USDT probes in the shared library: with <sys/sdt.h> found
# (HAVE_SDT=yes), `readelf -n` must list each probe of runtime/probes.h
# under provider weft; without it, none.
# Usage: check_probes.sh LIBWEFT.so yes|no
set -uo pipefail
lib=$1
have=$2
if ! command -v readelf >/dev/null; then
	echo "readelf not found (binutils)"
	exit 77
fi
notes=$(readelf -n "$lib") || { echo "readelf -n $lib failed"; exit 1; }
found=$(awk '/Provider: weft/ { getline; print $2 }' <<<"$notes" | sort -u)
echo "probes in $lib:" $found
if [ "$have" = no ]; then
	[ -z "$found" ] && exit 0
	echo "FAIL: probes present in a build without sys/sdt.h"
	exit 1
fi
status=0
for probe in submit start finish steal park unpark wake; do
	if ! grep -qx "$probe" <<<"$found"; then
		echo "FAIL: probe weft:$probe missing"
		status=1
	fi
done
exit $status
