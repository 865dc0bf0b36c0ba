/*
 * weft_map: the submitting half of Python's executor.map, all or nothing.
 */
#include <errno.h>

#include "runtime/internal.h"

int weft_map(weft_pool *p, weft_fn fn, void *const *args, size_t n,
	     weft_future **out)
{
	if (!p || !fn || (n && !out))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int err = weft_submit(p, fn, args ? args[i] : NULL, &out[i]);
		if (err) {
			while (i--) {
				weft_future_cancel(out[i]);
				weft_future_release(out[i]);
			}
			return err;
		}
	}
	return 0;
}
