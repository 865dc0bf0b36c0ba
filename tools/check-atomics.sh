#!/bin/bash
# check-atomics.sh: a checkpatch-style lint for C11 atomics (style.md §2.5).
#
# Usage: tools/check-atomics.sh [--strict] [PATH...]
#   PATH: C files, or directories searched for *.c and *.h. Without PATH it
#   checks deque/ future/ runtime/ include/ of the source tree holding this
#   script.
#   --strict: the comment must belong to the statement: on one of its lines,
#   or on comment-only lines directly above its first line (preprocessor
#   lines may sit between). The default 3-line window also accepts the
#   comment of the statement before.
#
# Reports FILE:LINE and exits 1 when
#  - a line whose code (comments and string literals removed) names a
#    memory_order_* constant, atomic_thread_fence or atomic_signal_fence
#    has no comment nearby: on the same line, within the 3 lines above it,
#    or within the 3 lines above (or on) the line where its statement
#    starts, so a call split over several lines may carry one comment above
#    its first line. A statement starts at the first code line after a line
#    ending in ';', '{' or '}', a preprocessor line, a blank line or a
#    comment-only line;
#  - a generic atomic operation is called without _explicit
#    (atomic_load(), atomic_store(), atomic_fetch_add(), ...), which would
#    be an unreviewed seq_cst.
# It does not parse C: it will not see `x++` on an _Atomic variable, and a
# comment only has to exist, not to be right. Reviewers check the rest.
# Exits 2 on usage errors.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

strict=0
if [ "${1:-}" = "--strict" ]; then
	strict=1
	shift
fi

files=()
# add_dir DIR: appends the C sources under DIR to files, sorted.
add_dir() {
	local f
	while IFS= read -r -d '' f; do
		files+=("$f")
	done < <(find "$1" -type f \( -name '*.c' -o -name '*.h' \) -print0 |
		 sort -z)
}

if [ $# -eq 0 ]; then
	for dir in deque future runtime include; do
		if [ -d "$root/$dir" ]; then
			add_dir "$root/$dir"
		fi
	done
else
	for p in "$@"; do
		if [ -d "$p" ]; then
			add_dir "$p"
		elif [ -f "$p" ]; then
			files+=("$p")
		else
			echo "check-atomics: no such file or directory: $p" >&2
			exit 2
		fi
	done
fi

[ ${#files[@]} -gt 0 ] || exit 0

awk -v q="'" -v strict="$strict" '
BEGIN {
	# Generic operations whose non-_explicit form is seq_cst.
	ops = "load|store|exchange|fetch_add|fetch_sub|fetch_or|fetch_xor|"
	ops = ops "fetch_and|compare_exchange_strong|compare_exchange_weak|"
	ops = ops "flag_test_and_set|flag_clear"
	implicit_re = "(^|[^A-Za-z0-9_])atomic_(" ops ")[ \t]*[(]"
}

FNR == 1 {
	in_comment = 0
	new_stmt = 1
	stmt_start = 1
	delete hc
	delete kind
}

# Splits $0 into code (global "code", comments and literal contents
# removed) and whether the line holds any part of a comment (return value).
function split_line(line,    i, n, c, c2, has, state) {
	code = ""
	has = in_comment
	n = length(line)
	state = in_comment ? "comment" : "code"
	for (i = 1; i <= n; i++) {
		c = substr(line, i, 1)
		c2 = substr(line, i, 2)
		if (state == "comment") {
			if (c2 == "*/") {
				state = "code"
				i++
			}
		} else if (state == "string" || state == "char") {
			if (c == "\\") {
				i++
			} else if ((state == "string" && c == "\"") ||
				   (state == "char" && c == q)) {
				code = code c
				state = "code"
			}
		} else if (c2 == "/*") {
			has = 1
			state = "comment"
			code = code " "
			i++
		} else if (c2 == "//") {
			has = 1
			break
		} else if (c == "\"") {
			code = code c
			state = "string"
		} else if (c == q) {
			code = code c
			state = "char"
		} else {
			code = code c
		}
	}
	in_comment = (state == "comment")
	return has
}

function near_comment(l,    k) {
	for (k = l - 3; k <= l; k++)
		if (k >= 1 && hc[k])
			return 1
	return 0
}

# --strict: a comment on a line of the statement [s, l], or comment-only
# lines directly above s (skipping preprocessor lines).
function attached_comment(s, l,    k) {
	for (k = s; k <= l; k++)
		if (hc[k])
			return 1
	for (k = s - 1; k >= 1 && kind[k] == "pp"; k--)
		;
	return k >= 1 && kind[k] == "comment"
}

function report(msg) {
	printf "%s:%d: %s\n\t%s\n", FILENAME, FNR, msg, $0
	bad++
}

{
	hc[FNR] = split_line($0)
	trimmed = code
	gsub(/^[ \t]+|[ \t]+$/, "", trimmed)
	if (trimmed == "") {
		kind[FNR] = hc[FNR] ? "comment" : "blank"
		new_stmt = 1
		next
	}
	kind[FNR] = trimmed ~ /^#/ ? "pp" : "code"

	if (new_stmt) {
		stmt_start = FNR
		new_stmt = 0
	}

	if (code ~ /memory_order_|atomic_thread_fence|atomic_signal_fence/) {
		if (strict && !attached_comment(stmt_start, FNR))
			report("memory order or fence without a comment " \
			       "on its statement")
		else if (!strict && !near_comment(FNR) &&
			 !near_comment(stmt_start))
			report("memory order or fence without a comment " \
			       "within 3 lines")
	}

	if (code ~ implicit_re)
		report("implicit seq_cst atomic: use the _explicit form")

	if (trimmed ~ /^#/ || trimmed ~ /[;{}]$/)
		new_stmt = 1
}

END {
	if (bad) {
		printf "check-atomics: %d problem(s)\n", bad
		exit 1
	}
}
' "${files[@]}"
