/*
 * The log-linear histogram (see hist.h).
 *
 * Index of a value v: below 2^(SUB_BITS+1) = 128, v itself. Above, with
 * e the index of v's top bit (e >= 7), the top SUB_BITS+1 bits of v form
 * m in [64, 128), and the index is (e - SUB_BITS) * 64 + m. At e = 7 that
 * gives 128..191, right after the exact range, and each further octave
 * takes the next 64 indexes. The bucket holds [m << s, (m + 1) << s) with
 * s = e - SUB_BITS.
 */
#include "hist.h"

#include <string.h>

#define SUB (1u << HIST_SUB_BITS)

static unsigned index_of(uint64_t v)
{
	if (v < 2 * SUB)
		return (unsigned)v;
	unsigned e = 63u - (unsigned)__builtin_clzll(v);
	if (e >= HIST_MAX_EXP)
		return HIST_BUCKETS - 1;
	unsigned s = e - HIST_SUB_BITS;
	return s * SUB + (unsigned)(v >> s);
}

/* The largest value bucket i holds. */
static uint64_t upper_of(unsigned i)
{
	if (i < 2 * SUB)
		return i;
	unsigned s = i / SUB - 1;
	uint64_t m = i % SUB + SUB;
	return ((m + 1) << s) - 1;
}

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

void hist_record(struct hist *h, uint64_t ns)
{
	h->bucket[index_of(ns)]++;
	h->count++;
	h->sum += (double)ns;
	if (ns > h->max)
		h->max = ns;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	if (h->count == 0)
		return 0;
	/* The rank of the value: ceil(q * count), at least 1. */
	uint64_t rank = (uint64_t)(q * (double)h->count);
	if ((double)rank < q * (double)h->count)
		rank++;
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank) {
			uint64_t v = upper_of(i);
			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}
