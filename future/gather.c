/*
 * weft_gather: the waiting half of Python's executor.map. Results in
 * order; the first failure, cancellation or the deadline stops it, and
 * the futures after that point that have not started are cancelled.
 */
#include <errno.h>

#include "future/future.h"
#include "future/futex.h"

int weft_gather(weft_future *const *fs, size_t n, void **results,
		int64_t timeout_ns, size_t *stopped_at)
{
	if ((n && !fs) || timeout_ns < WEFT_FOREVER)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!fs[i])
			return -EINVAL;
	int64_t deadline = weft__deadline(timeout_ns);
	size_t i, cancel_from = n;
	int err = 0;
	for (i = 0; i < n; i++) {
		if (!weft_future_done(fs[i]) && weft__running_here(fs[i])) {
			/* Its body is beneath this call: it would wait for
			 * itself. */
			err = -EDEADLK;
			cancel_from = i + 1;
			break;
		}
		if (!weft_future_done(fs[i]) &&
		    (timeout_ns == 0 ||
		     weft__future_wait_final(fs[i], deadline))) {
			err = -ETIMEDOUT;
			cancel_from = i;
			break;
		}
		void *r = NULL;
		err = weft_future_get(fs[i], &r);
		if (err) {
			cancel_from = i + 1;
			break;
		}
		if (results)
			results[i] = r;
	}
	for (size_t k = cancel_from; k < n; k++)
		weft_future_cancel(fs[k]);
	if (stopped_at)
		*stopped_at = i;
	return err;
}
