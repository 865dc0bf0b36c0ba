/*
 * USDT probes (provider "weft"), for perf, bpftrace and SystemTap.
 *
 * A probe is a single nop in the code plus a note in the ELF file
 * (.note.stapsdt, listed by `readelf -n libweft.so`) that says where the
 * nop is and where its arguments live. Nothing runs unless a tracer
 * attaches, which replaces the nop with a breakpoint; the arguments are
 * values the code already has in registers or memory, so an unattached
 * probe costs nothing measurable. No semaphores are used.
 *
 * The build defines WEFT_USDT when <sys/sdt.h> (Debian: systemtap-sdt-dev)
 * was found and -Dusdt is not disabled; without it every probe is
 * compiled out.
 *
 * The probes and their arguments (pool and task are addresses, worker is
 * the worker's index in its pool, -1 for a thread outside the pool):
 *   submit(pool, worker, task, fn)   a task or continuation became ready:
 *                                    pushed on a worker's deque or
 *                                    injected from outside
 *   start(pool, worker, task, fn)    a worker starts running it
 *   finish(pool, worker, task, state) it completed (enum weft_state)
 *   steal(pool, worker, task, victim) a worker took a task from the deque
 *                                    of worker `victim`
 *   park(pool, worker)               a worker goes to sleep
 *   unpark(pool, worker)             a parked worker woke up
 *   wake(pool, n)                    a thread wakes up to n parked workers
 */
#ifndef WEFT_RUNTIME_PROBES_H
#define WEFT_RUNTIME_PROBES_H

#ifdef WEFT_USDT
#include <sys/sdt.h>
/* sdt.h's macros pass empty variadic arguments, which clang's -Wpedantic
 * flags when sdt.h is not seen as a system header (liburcu's pkg-config
 * adds its directory with -I). */
#ifdef __clang__
#define WEFT__SDT_PUSH                                                        \
	_Pragma("clang diagnostic push")                                      \
	_Pragma("clang diagnostic ignored \"-Wgnu-zero-variadic-macro-arguments\"")
#define WEFT__SDT_POP _Pragma("clang diagnostic pop")
#else
#define WEFT__SDT_PUSH
#define WEFT__SDT_POP
#endif
#define WEFT__PROBE2(name, a, b)                                              \
	WEFT__SDT_PUSH STAP_PROBE2(weft, name, a, b) WEFT__SDT_POP
#define WEFT__PROBE4(name, a, b, c, d)                                        \
	WEFT__SDT_PUSH STAP_PROBE4(weft, name, a, b, c, d) WEFT__SDT_POP

/* v in a register: an argument the compiler knows to be constant would
 * be noted as an immediate, which perf cannot read. */
static inline int weft__probe_reg(int v)
{
	__asm__("" : "+r"(v));
	return v;
}
#else
#define WEFT__PROBE2(name, a, b) ((void)0)
#define WEFT__PROBE4(name, a, b, c, d) ((void)0)
#endif

#endif
