/*
 * Every allocation weft makes goes through these functions, so a test
 * build can make any one of them fail.
 *
 * A build configured with -Dalloc_hook=true defines WEFT_ALLOC_HOOK: the
 * functions below then ask runtime/alloc_hook.c whether this allocation
 * fails, and count what is allocated and freed (runtime/alloc_hook.h is
 * the tests' interface). Without it they are plain malloc and free.
 */
#ifndef WEFT_RUNTIME_ALLOC_H
#define WEFT_RUNTIME_ALLOC_H

#include <stddef.h>
#include <stdlib.h>

#ifdef WEFT_ALLOC_HOOK
#include <stdbool.h>
/* runtime/alloc_hook.c: true if this allocation must fail (counts it). */
bool weft__alloc_hook_fails(void);
/* runtime/alloc_hook.c: counts a block handed out / given back. */
void weft__alloc_hook_live(int delta);
#endif

static inline void *weft__malloc(size_t size)
{
#ifdef WEFT_ALLOC_HOOK
	if (weft__alloc_hook_fails())
		return NULL;
	void *p = malloc(size);
	if (p)
		weft__alloc_hook_live(1);
	return p;
#else
	return malloc(size);
#endif
}

/* size is rounded up to a multiple of align (a power of two). */
static inline void *weft__aligned_alloc(size_t align, size_t size)
{
#ifdef WEFT_ALLOC_HOOK
	if (weft__alloc_hook_fails())
		return NULL;
	void *p = aligned_alloc(align, (size + align - 1) & ~(align - 1));
	if (p)
		weft__alloc_hook_live(1);
	return p;
#else
	return aligned_alloc(align, (size + align - 1) & ~(align - 1));
#endif
}

/* Like realloc: on failure p is left as it was. */
static inline void *weft__realloc(void *p, size_t size)
{
#ifdef WEFT_ALLOC_HOOK
	if (weft__alloc_hook_fails())
		return NULL;
	void *q = realloc(p, size);
	if (q && !p)
		weft__alloc_hook_live(1);
	return q;
#else
	return realloc(p, size);
#endif
}

static inline void weft__free(void *p)
{
#ifdef WEFT_ALLOC_HOOK
	if (p)
		weft__alloc_hook_live(-1);
#endif
	free(p);
}

#endif
