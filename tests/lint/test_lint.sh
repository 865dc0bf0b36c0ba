#!/bin/bash
# Tests tools/check-atomics.sh on the fixtures in this directory, then runs
# it on the source tree. Usage: test_lint.sh [SOURCE_ROOT]
set -uo pipefail

root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
lint="$root/tools/check-atomics.sh"
dir="$root/tests/lint"
failed=0
n=0

# expect STATUS OUTPUT-PATTERN ARGS...: runs the lint with ARGS; the exit
# status must be STATUS and the output must match the extended regular
# expression OUTPUT-PATTERN (an empty pattern: no output at all).
expect() {
	local want=$1 pattern=$2 out status
	shift 2
	n=$((n + 1))
	out=$(bash "$lint" "$@" 2>&1)
	status=$?
	if [ "$status" -ne "$want" ]; then
		echo "FAIL: check-atomics.sh $*: exit $status, want $want"
		echo "$out"
		failed=$((failed + 1))
	elif [ -z "$pattern" ] && [ -n "$out" ]; then
		echo "FAIL: check-atomics.sh $*: unexpected output"
		echo "$out"
		failed=$((failed + 1))
	elif [ -n "$pattern" ] && ! grep -Eq -- "$pattern" <<<"$out"; then
		echo "FAIL: check-atomics.sh $*: output lacks /$pattern/"
		echo "$out"
		failed=$((failed + 1))
	else
		echo "ok: check-atomics.sh $* (exit $status)"
	fi
}

fence_line=$(grep -n 'atomic_thread_fence' "$dir/bad_fence.c" | cut -d: -f1)
relaxed_line=$(grep -n 'memory_order_relaxed' "$dir/bad_fence.c" | cut -d: -f1)

expect 0 '' "$dir/good.c"
expect 0 '' --strict "$dir/good.c"
expect 1 "bad_fence\.c:$fence_line:" "$dir/bad_fence.c"
expect 1 "bad_fence\.c:$relaxed_line:" "$dir/bad_fence.c"
expect 1 'bad_implicit\.c:12:.*implicit' "$dir/bad_implicit.c"
expect 1 'bad_implicit\.c:14:.*implicit' "$dir/bad_implicit.c"
expect 0 '' "$dir/loose.c"
expect 1 'loose\.c:14:' --strict "$dir/loose.c"
# Several paths at once: good.c must not hide bad_fence.c.
expect 1 "bad_fence\.c:$fence_line:" "$dir/good.c" "$dir/bad_fence.c"
expect 2 'no such file' "$dir/missing.c"
# The tree itself (deque/ future/ runtime/ include/).
expect 0 '' 

echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
