/*
 * Lint fixture (not compiled): tools/check-atomics.sh must reject the
 * implicit seq_cst calls below, commented or not.
 */
#include <stdatomic.h>

static _Atomic int flag;

int bad_implicit(void)
{
	/* an implicit seq_cst load */
	int v = atomic_load(&flag);
	/* an implicit seq_cst increment */
	atomic_fetch_add (&flag, 1);
	return v;
}
