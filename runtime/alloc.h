/*
 * Every allocation weft makes goes through these functions, so a test
 * build can make any one of them fail.
 */
#ifndef WEFT_RUNTIME_ALLOC_H
#define WEFT_RUNTIME_ALLOC_H

#include <stddef.h>
#include <stdlib.h>

static inline void *weft__malloc(size_t size)
{
	return malloc(size);
}

/* size is rounded up to a multiple of align (a power of two). */
static inline void *weft__aligned_alloc(size_t align, size_t size)
{
	return aligned_alloc(align, (size + align - 1) & ~(align - 1));
}

static inline void weft__free(void *p)
{
	free(p);
}

#endif
