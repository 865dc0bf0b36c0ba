/*
 * Every allocation weft makes goes through these two functions, so a test
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

static inline void weft__free(void *p)
{
	free(p);
}

#endif
