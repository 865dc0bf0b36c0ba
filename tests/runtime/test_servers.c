/*
 * What a server needs from the API: completion queues (weft_cq_*,
 * weft_future_post), admission control (weft_config.max_queued), the
 * worker stack size and the default worker count (affinity mask and
 * cgroup v2 quota, read from fixture files here).
 */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"

/* Internal (runtime/cpus.c); the test links the static library. */
unsigned weft__cpu_quota_cap(const char *root, unsigned cpus);
unsigned weft__affinity_cpus(void);

static void fini(void)
{
	unit_leak_check();
}

TestSuite(cq, .timeout = UNIT_TIMEOUT, .fini = fini);
TestSuite(admission, .timeout = UNIT_TIMEOUT, .fini = fini);
TestSuite(stack, .timeout = UNIT_TIMEOUT, .fini = fini);
TestSuite(cpus, .timeout = UNIT_TIMEOUT, .fini = fini);

/* True if fd polls readable within ms. */
static bool readable(int fd, int ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	return poll(&pfd, 1, ms) == 1 && (pfd.revents & POLLIN);
}

/* ------------------------------------------------------------------ */
/* Completion queues                                                    */

Test(cq, bad_arguments)
{
	weft_cq *cq = NULL;
	weft_future *f = NULL;
	void *tag = NULL;
	cr_expect_eq(weft_cq_create(NULL), -EINVAL);
	cr_expect_eq(weft_cq_fd(NULL), -EINVAL);
	cr_expect_eq(weft_cq_pop(NULL, &f, &tag), -EINVAL);
	cr_expect_eq(weft_cq_destroy(NULL), 0);
	cr_assert_eq(weft_cq_create(&cq), 0);
	cr_expect_eq(weft_cq_pop(cq, NULL, &tag), -EINVAL);
	cr_expect_eq(weft_future_post(NULL, cq, NULL), -EINVAL);
	weft_pool *p = unit_pool(1);
	cr_assert_eq(weft_submit(p, unit_identity, NULL, &f), 0);
	cr_expect_eq(weft_future_post(f, NULL, NULL), -EINVAL);
	cr_expect_eq(weft_future_wait(f, WEFT_FOREVER), 0);
	weft_future_release(f);
	cr_expect_eq(weft_cq_destroy(cq), 0);
	cr_expect_eq(weft_pool_destroy(p), 0);
}

Test(cq, pop_on_empty)
{
	weft_cq *cq = NULL;
	cr_assert_eq(weft_cq_create(&cq), 0);
	int fd = weft_cq_fd(cq);
	cr_assert_geq(fd, 0);
	cr_expect(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	cr_expect(fcntl(fd, F_GETFL) & O_NONBLOCK);
	weft_future *f = (weft_future *)&fd;
	void *tag = &fd;
	cr_expect_eq(weft_cq_pop(cq, &f, &tag), 0);
	cr_expect_eq(weft_cq_pop(cq, &f, NULL), 0);
	cr_expect_eq(f, (weft_future *)&fd, "pop on empty wrote *f");
	cr_expect_eq(tag, &fd, "pop on empty wrote *tag");
	cr_expect_not(readable(fd, 0));
	cr_expect_eq(weft_cq_destroy(cq), 0);
}

Test(cq, post_on_done_future)
{
	weft_pool *p = unit_pool(1);
	weft_cq *cq = NULL;
	cr_assert_eq(weft_cq_create(&cq), 0);
	int fd = weft_cq_fd(cq);
	weft_future *f = NULL;
	int x = 42;
	cr_assert_eq(weft_submit(p, unit_identity, &x, &f), 0);
	cr_assert_eq(weft_future_wait(f, WEFT_FOREVER), 0);
	cr_assert_eq(weft_future_post(f, cq, (void *)(intptr_t)7), 0);
	/* Queued at once, on this thread. */
	cr_expect(readable(fd, 0));
	weft_future_release(f); /* the post holds its own reference */
	weft_future *got = NULL;
	void *tag = NULL;
	cr_assert_eq(weft_cq_pop(cq, &got, &tag), 1);
	cr_expect_eq(got, f);
	cr_expect_eq((intptr_t)tag, 7);
	void *r = NULL;
	cr_expect_eq(weft_future_get(got, &r), 0);
	cr_expect_eq(r, &x);
	cr_expect_eq(weft_cq_pop(cq, &got, &tag), 0);
	cr_expect_not(readable(fd, 0), "readable with nothing queued");
	weft_future_release(got);
	cr_expect_eq(weft_cq_destroy(cq), 0);
	cr_expect_eq(weft_pool_destroy(p), 0);
}

/* Posted while pending: delivered on completion; destroy refuses while
 * posted-not-delivered and while queued-not-popped. */
Test(cq, destroy_busy_while_pending)
{
	weft_pool *p = unit_pool(1);
	weft_cq *cq = NULL;
	cr_assert_eq(weft_cq_create(&cq), 0);
	int fd = weft_cq_fd(cq);
	struct unit_gate g = {0};
	weft_future *running = unit_block(p, &g);
	weft_future *queued = NULL;
	cr_assert_eq(weft_submit(p, unit_identity, NULL, &queued), 0);
	cr_assert_eq(weft_future_post(running, cq, (void *)1), 0);
	cr_assert_eq(weft_future_post(queued, cq, (void *)2), 0);
	/* The same future twice, to the same queue. */
	cr_assert_eq(weft_future_post(queued, cq, (void *)3), 0);
	weft_future *got = NULL;
	void *tag = NULL;
	cr_expect_eq(weft_cq_pop(cq, &got, &tag), 0);
	cr_expect_not(readable(fd, 0));
	cr_expect_eq(weft_cq_destroy(cq), -EBUSY);
	unit_open(&g);
	int seen = 0;
	while (seen != 0x7) {
		cr_assert(readable(fd, 5000), "no wake-up");
		int rc;
		while ((rc = weft_cq_pop(cq, &got, &tag)) == 1) {
			intptr_t t = (intptr_t)tag;
			cr_expect(!(seen & (1 << (t - 1))), "tag %d twice",
				  (int)t);
			seen |= 1 << (t - 1);
			cr_expect(weft_future_done(got));
			cr_expect_eq(got, t == 1 ? running : queued);
			if (seen != 0x7)
				cr_expect_eq(weft_cq_destroy(cq), -EBUSY);
			weft_future_release(got);
		}
		cr_assert_eq(rc, 0);
	}
	cr_expect_not(readable(fd, 0));
	weft_future_release(running);
	weft_future_release(queued);
	cr_expect_eq(weft_cq_destroy(cq), 0);
	cr_expect_eq(weft_pool_destroy(p), 0);
}

/* A cancelled future is done: its post is delivered. */
Test(cq, post_cancelled)
{
	weft_pool *p = unit_pool(1);
	weft_cq *cq = NULL;
	cr_assert_eq(weft_cq_create(&cq), 0);
	struct unit_gate g = {0};
	weft_future *running = unit_block(p, &g);
	weft_future *f = NULL;
	cr_assert_eq(weft_submit(p, unit_identity, NULL, &f), 0);
	cr_assert_eq(weft_future_post(f, cq, NULL), 0);
	cr_assert(weft_future_cancel(f));
	weft_future *got = NULL;
	cr_assert_eq(weft_cq_pop(cq, &got, NULL), 1);
	cr_expect_eq(got, f);
	cr_expect_eq(weft_future_get(got, NULL), -ECANCELED);
	weft_future_release(got);
	weft_future_release(f);
	unit_open(&g);
	weft_future_release(running);
	cr_expect_eq(weft_cq_destroy(cq), 0);
	cr_expect_eq(weft_pool_destroy(p), 0);
}

/* Many workers complete and post at once while an epoll loop pops: every
 * post comes out exactly once, and the loop never waits out its timeout
 * with entries queued (a lost wake-up). */
#define MANY 20000

struct many {
	weft_cq *cq;
	_Atomic int posted;
	_Atomic int post_errors;
};

static void *post_self(void *arg)
{
	/* The task posts a future of its own: a child it submits and
	 * releases, so completions and posts race on every worker. */
	struct many *m = arg;
	(void)m;
	return NULL;
}

static void *spawn_and_post(void *arg)
{
	struct many *m = arg;
	for (;;) {
		int i = atomic_fetch_add(&m->posted, 1);
		if (i >= MANY)
			return NULL;
		weft_future *c = NULL;
		if (weft_submit(weft_current_pool(), post_self, m, &c) ||
		    weft_future_post(c, m->cq, (void *)(intptr_t)i))
			atomic_fetch_add(&m->post_errors, 1);
		weft_future_release(c);
	}
}

Test(cq, many_posting_workers_exactly_once)
{
	weft_pool *p = unit_pool(2);
	struct many m = {0};
	cr_assert_eq(weft_cq_create(&m.cq), 0);
	int fd = weft_cq_fd(m.cq);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	cr_assert_geq(ep, 0);
	struct epoll_event ev = {.events = EPOLLIN};
	cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
	unsigned char *seen = calloc(MANY, 1);
	cr_assert_not_null(seen);
	weft_future *spawners[4];
	for (int i = 0; i < 4; i++)
		cr_assert_eq(weft_submit(p, spawn_and_post, &m, &spawners[i]),
			     0);
	int popped = 0, dup = 0;
	while (popped < MANY) {
		int n = epoll_wait(ep, &ev, 1, 5000);
		cr_assert_eq(n, 1, "epoll waited 5 s with %d of %d popped",
			     popped, MANY);
		weft_future *f;
		void *tag;
		int rc;
		while ((rc = weft_cq_pop(m.cq, &f, &tag)) == 1) {
			intptr_t i = (intptr_t)tag;
			cr_assert(i >= 0 && i < MANY);
			dup += seen[i]++ != 0;
			cr_expect(weft_future_done(f));
			weft_future_release(f);
			popped++;
		}
		cr_assert_eq(rc, 0);
	}
	for (int i = 0; i < 4; i++) {
		cr_expect_eq(weft_future_wait(spawners[i], WEFT_FOREVER), 0);
		weft_future_release(spawners[i]);
	}
	cr_expect_eq(dup, 0);
	cr_expect_eq(atomic_load(&m.post_errors), 0);
	weft_future *f;
	cr_expect_eq(weft_cq_pop(m.cq, &f, NULL), 0);
	cr_expect_not(readable(fd, 0));
	cr_expect_eq(weft_cq_destroy(m.cq), 0);
	close(ep);
	free(seen);
	cr_expect_eq(weft_pool_destroy(p), 0);
}

/* ------------------------------------------------------------------ */
/* Admission control                                                    */

static weft_pool *bounded_pool(unsigned workers, size_t max_queued)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	cfg.max_queued = max_queued;
	weft_pool *p = NULL;
	cr_assert_eq(weft_pool_create(&p, &cfg), 0);
	return p;
}

static void *then_count(weft_future *a, void *ctx)
{
	(void)a;
	atomic_fetch_add((_Atomic int *)ctx, 1);
	return NULL;
}

Test(admission, refuses_outside_submits_with_nothing_lost)
{
	weft_pool *p = bounded_pool(1, 4);
	struct unit_gate g = {0};
	weft_future *gate = unit_block(p, &g);
	_Atomic int runs = 0, refused_runs = 0;
	weft_future *fs[4];
	for (int i = 0; i < 2; i++)
		cr_assert_eq(weft_submit(p, unit_count_task, &runs, &fs[i]), 0);
	/* All or nothing: the two it queued before the refusal are
	 * cancelled (and wait, cancelled, for the worker to discard them). */
	weft_future *mapped[3] = {NULL, NULL, NULL};
	cr_expect_eq(weft_map(p, unit_count_task, NULL, 3, mapped), -EAGAIN);
	weft_future *out = (weft_future *)&g;
	cr_expect_eq(weft_submit(p, unit_count_task, &refused_runs, &out),
		     -EAGAIN);
	cr_expect_eq(out, (weft_future *)&g, "a refused submit wrote *out");
	cr_expect_eq(weft_submit(p, unit_count_task, &refused_runs, NULL),
		     -EAGAIN);
	weft_future *done = NULL;
	cr_expect_eq(weft_future_then(gate, then_count, &refused_runs, 0,
				      &done),
		     0, "then on a pending future is registered, not queued");
	unit_open(&g);
	for (int i = 0; i < 2; i++) {
		cr_expect_eq(weft_future_wait(fs[i], WEFT_FOREVER), 0);
		weft_future_release(fs[i]);
	}
	cr_expect_eq(weft_future_wait(done, WEFT_FOREVER), 0);
	weft_future_release(done);
	/* The bound frees as tasks start: accepted again. */
	weft_future *again = NULL;
	cr_expect_eq(weft_submit(p, unit_count_task, &runs, &again), 0);
	cr_expect_eq(weft_future_wait(again, WEFT_FOREVER), 0);
	weft_future_release(again);
	weft_future_release(gate);
	cr_expect_eq(weft_pool_destroy(p), 0);
	cr_expect_eq(atomic_load(&runs), 3);
	/* Only the continuation registered on the pending gate ran. */
	cr_expect_eq(atomic_load(&refused_runs), 1);
}

Test(admission, then_on_done_future_refused)
{
	weft_pool *p = bounded_pool(1, 1);
	weft_future *done = NULL;
	cr_assert_eq(weft_submit(p, unit_identity, NULL, &done), 0);
	cr_assert_eq(weft_future_wait(done, WEFT_FOREVER), 0);
	struct unit_gate g = {0};
	weft_future *gate = unit_block(p, &g);
	_Atomic int runs = 0;
	weft_future *queued = NULL;
	cr_assert_eq(weft_submit(p, unit_count_task, &runs, &queued), 0);
	weft_future *c = (weft_future *)&g;
	cr_expect_eq(weft_future_then(done, then_count, &runs, 0, &c), -EAGAIN);
	cr_expect_eq(c, (weft_future *)&g);
	unit_open(&g);
	cr_expect_eq(weft_future_wait(queued, WEFT_FOREVER), 0);
	weft_future_release(queued);
	weft_future_release(gate);
	weft_future_release(done);
	cr_expect_eq(weft_pool_destroy(p), 0);
	cr_expect_eq(atomic_load(&runs), 1);
}

struct inside {
	_Atomic int runs;
	_Atomic int refused;
	struct unit_gate g;
};

static void *child(void *arg)
{
	atomic_fetch_add(&((struct inside *)arg)->runs, 1);
	return NULL;
}

/* Runs on the pool while outside submitters are refused: its own
 * submissions are never refused. */
static void *spawner(void *arg)
{
	struct inside *in = arg;
	while (!atomic_load(&in->g.open))
		unit_sleep_us(50);
	for (int i = 0; i < 100; i++)
		if (weft_submit(weft_current_pool(), child, in, NULL))
			atomic_fetch_add(&in->refused, 1);
	return NULL;
}

Test(admission, pool_tasks_never_refused)
{
	weft_pool *p = bounded_pool(2, 1);
	struct inside in = {0};
	struct unit_gate g2 = {0};
	weft_future *busy = unit_block(p, &g2);
	weft_future *sp = NULL;
	cr_assert_eq(weft_submit(p, spawner, &in, &sp), 0);
	/* Fill the bound from outside while spawner waits. */
	int64_t end = unit_now_ns() + 5000000000;
	weft_future *filler = NULL;
	while (weft_submit(p, child, &in, &filler) != 0 &&
	       unit_now_ns() < end)
		unit_sleep_us(50);
	cr_assert_not_null(filler);
	while (weft_submit(p, child, &in, NULL) != -EAGAIN &&
	       unit_now_ns() < end)
		unit_sleep_us(50);
	unit_open(&in.g);
	cr_expect_eq(weft_future_wait(sp, WEFT_FOREVER), 0);
	unit_open(&g2);
	weft_future_release(busy);
	weft_future_release(sp);
	cr_expect_eq(weft_future_wait(filler, WEFT_FOREVER), 0);
	weft_future_release(filler);
	cr_expect_eq(weft_pool_destroy(p), 0);
	cr_expect_eq(atomic_load(&in.refused), 0);
	cr_expect_geq(atomic_load(&in.runs), 101);
}

Test(admission, zero_is_unbounded)
{
	weft_pool *p = bounded_pool(1, 0);
	struct unit_gate g = {0};
	weft_future *gate = unit_block(p, &g);
	_Atomic int runs = 0;
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(weft_submit(p, unit_count_task, &runs, NULL), 0);
	unit_open(&g);
	weft_future_release(gate);
	cr_expect_eq(weft_pool_destroy(p), 0);
	cr_expect_eq(atomic_load(&runs), 1000);
}

/* ------------------------------------------------------------------ */
/* Stack size                                                           */

static void *stack_of_worker(void *arg)
{
	(void)arg;
	pthread_attr_t attr;
	size_t size = 0;
	if (pthread_getattr_np(pthread_self(), &attr) == 0) {
		pthread_attr_getstacksize(&attr, &size);
		pthread_attr_destroy(&attr);
	}
	return (void *)size;
}

Test(stack, applied)
{
	size_t want = WEFT_MIN_STACK_SIZE * 5 + 100; /* rounded to pages */
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = 2;
	cfg.stack_size = want;
	weft_pool *p = NULL;
	cr_assert_eq(weft_pool_create(&p, &cfg), 0);
	for (int i = 0; i < 4; i++) {
		weft_future *f = NULL;
		void *r = NULL;
		cr_assert_eq(weft_submit(p, stack_of_worker, NULL, &f), 0);
		cr_assert_eq(weft_future_get(f, &r), 0);
		cr_expect_eq((size_t)r, (want + page - 1) / page * page);
		weft_future_release(f);
	}
	cr_expect_eq(weft_pool_destroy(p), 0);
}

Test(stack, invalid_sizes)
{
	size_t bad[] = {1, WEFT_MIN_STACK_SIZE - 1, WEFT_MAX_STACK_SIZE + 1,
			SIZE_MAX};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		weft_config cfg;
		weft_config_init(&cfg);
		cfg.workers = 1;
		cfg.stack_size = bad[i];
		weft_pool *p = (weft_pool *)&cfg;
		cr_expect_eq(weft_pool_create(&p, &cfg), -EINVAL, "size %zu",
			     bad[i]);
		cr_expect_eq(p, (weft_pool *)&cfg);
	}
}

/* ------------------------------------------------------------------ */
/* Default worker count                                                 */

Test(cpus, default_follows_affinity)
{
	cpu_set_t one;
	CPU_ZERO(&one);
	cpu_set_t all;
	cr_assert_eq(sched_getaffinity(0, sizeof(all), &all), 0);
	int cpu = 0;
	while (!CPU_ISSET(cpu, &all))
		cpu++;
	CPU_SET(cpu, &one);
	cr_assert_eq(sched_setaffinity(0, sizeof(one), &one), 0);
	weft_pool *p = NULL;
	cr_assert_eq(weft_pool_create(&p, NULL), 0);
	cr_expect_eq(weft_pool_workers(p), 1);
	cr_expect_eq(weft_pool_destroy(p), 0);
	cr_assert_eq(sched_setaffinity(0, sizeof(all), &all), 0);
	cr_expect_eq(weft__affinity_cpus(), (unsigned)CPU_COUNT(&all));
}

/* A fixture tree: root/proc/self/cgroup and cpu.max files. */
static char root[64];

static void put(const char *rel, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *s = path + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		mkdir(path, 0700);
		*s = '/';
	}
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

static void fresh_root(void)
{
	if (root[0]) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		cr_assert_eq(system(cmd), 0);
	}
	snprintf(root, sizeof(root), "/tmp/weft-cpus-XXXXXX");
	cr_assert_not_null(mkdtemp(root));
}

static void cpus_fini(void)
{
	if (root[0]) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		cr_expect_eq(system(cmd), 0);
	}
	root[0] = '\0';
}

static const char v1_and_v2[] = "4:memory:/x\n1:cpu:/\n0::/a/b\n";

Test(cpus, cgroup_quota, .fini = cpus_fini)
{
	struct {
		const char *cgroup;                /* proc/self/cgroup */
		const char *files[3][2];           /* cpu.max files */
		unsigned cpus, want;
	} cases[] = {
		/* No files at all: the affinity count. */
		{NULL, {{NULL}}, 8, 8},
		/* No v2 line (cgroup v1 only). */
		{"4:memory:/x\n1:cpu:/\n", {{"sys/fs/cgroup/cpu.max",
					     "100000 100000\n"}}, 8, 8},
		/* No cpu.max along the path. */
		{v1_and_v2, {{NULL}}, 8, 8},
		{v1_and_v2, {{"sys/fs/cgroup/a/b/cpu.max", "max 100000\n"}},
		 8, 8},
		/* 1.5 CPUs rounds up to 2. */
		{v1_and_v2, {{"sys/fs/cgroup/a/b/cpu.max", "150000 100000\n"}},
		 8, 2},
		/* Under one CPU: at least 1. */
		{v1_and_v2, {{"sys/fs/cgroup/a/b/cpu.max", "1000 100000\n"}},
		 8, 1},
		/* Exact. */
		{v1_and_v2, {{"sys/fs/cgroup/a/b/cpu.max", "300000 100000\n"}},
		 8, 3},
		/* A quota above the affinity count does not raise it. */
		{v1_and_v2, {{"sys/fs/cgroup/a/b/cpu.max", "1600000 100000\n"}},
		 8, 8},
		/* A parent's smaller limit binds. */
		{v1_and_v2, {{"sys/fs/cgroup/a/b/cpu.max", "max 100000\n"},
			     {"sys/fs/cgroup/a/cpu.max", "250000 100000\n"}},
		 8, 3},
		{v1_and_v2, {{"sys/fs/cgroup/a/b/cpu.max", "200000 100000\n"},
			     {"sys/fs/cgroup/a/cpu.max", "500000 100000\n"},
			     {"sys/fs/cgroup/cpu.max", "700000 100000\n"}},
		 8, 2},
		/* The namespace root's own limit. */
		{"0::/\n", {{"sys/fs/cgroup/cpu.max", "400000 100000\n"}}, 8,
		 4},
		/* Malformed files are ignored. */
		{v1_and_v2, {{"sys/fs/cgroup/a/b/cpu.max", "garbage\n"}}, 8, 8},
		{v1_and_v2, {{"sys/fs/cgroup/a/b/cpu.max", "100000 0\n"}}, 8,
		 8},
		{v1_and_v2, {{"sys/fs/cgroup/a/b/cpu.max", "-5 100000\n"}}, 8,
		 8},
		{v1_and_v2, {{"sys/fs/cgroup/a/b/cpu.max", "12x 100000\n"}}, 8,
		 8},
		{v1_and_v2, {{"sys/fs/cgroup/a/b/cpu.max", ""}}, 8, 8},
		/* A cgroup outside the namespace's root. */
		{"0::/../c\n", {{"sys/fs/cgroup/cpu.max", "100000 100000\n"}},
		 8, 8},
		/* Not a path. */
		{"0::garbage\n", {{"sys/fs/cgroup/cpu.max", "100000 100000\n"}},
		 8, 8},
		/* Huge quota saturates. */
		{v1_and_v2,
		 {{"sys/fs/cgroup/a/b/cpu.max", "99999999999999999999 1\n"}},
		 8, 8},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fresh_root();
		if (cases[i].cgroup)
			put("proc/self/cgroup", cases[i].cgroup);
		for (int j = 0; j < 3 && cases[i].files[j][0]; j++)
			put(cases[i].files[j][0], cases[i].files[j][1]);
		cr_expect_eq(weft__cpu_quota_cap(root, cases[i].cpus),
			     cases[i].want, "case %zu", i);
	}
}
