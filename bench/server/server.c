/*
 * The server of the server benchmark (bench/server/README.md): an epoll
 * HTTP/1.1 keep-alive server on loopback whose IO thread reads requests
 * and hands each one to a backend (backend.h): a weft pool, a mutex+condvar
 * pool, or itself (inline). The request's task computes (work.h), writes
 * the reply and re-arms its connection, as a server that embeds a task
 * pool does.
 *
 * usage: server --backend weft|weft-cq|mutex|inline [--workers N] [--work W]
 *               [--port P] [--max-seconds S] [--iters-per-us X]
 *               [--spin-ns N] [--timing]
 *        server --calibrate
 *
 * Output, one line each, key=value:
 *   server backend=... port=P pid=... ...    once listening
 *   cpu mark=N t=... user_s=... sys_s=... requests=... ...
 *       on each SIGUSR1 (N counts them) and once at exit (mark=final):
 *       the process's CPU time (getrusage), the replies sent so far and
 *       context switches, so a runner can compute CPU per request
 *   latency busy_ns=... tasks=... b<i>=...   at exit with --timing: the
 *       weft pool's schedule-latency histogram (backend.c)
 * It stops on SIGINT or SIGTERM, or after --max-seconds (default 600).
 *
 * Connection ownership (the invariant everything below relies on): each
 * connection is registered with EPOLLONESHOT, so after an event it is
 * disarmed and exactly one thread owns it: the IO thread while it handles
 * the event, then the request's task once submitted (with weft-cq, the
 * IO thread again once the request comes out of the completion queue: it
 * replies there). The owner gives it
 * back by re-arming it (rearm()); after that it must not touch it. Only
 * the IO thread closes and frees connections: a task that wants one
 * closed marks it `closing` and shuts the socket down, which makes the
 * re-armed connection readable at once. The epoll instance's lock in the
 * kernel orders the owner's writes before the re-arm with the IO thread's
 * reads after the next event.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "http.h"
#include "work.h"

#define CONN_BUF 4096 /* a request (headers and body) must fit */
#define MAX_EVENTS 256

struct server;

struct conn {
	struct server *srv;
	int fd;
	bool closing;        /* close at the next event (set by the owner) */
	bool close_after;    /* the request asked for Connection: close */
	uint64_t work_iters; /* the current request's work */
	uint64_t result;     /* weft-cq: the work's result, for the reply */
	size_t len;          /* bytes in buf */
	size_t req_len;      /* bytes of the current complete request */
	char buf[CONN_BUF];
};

struct server {
	int epfd, lfd, sigfd, cqfd;
	int spare_fd;             /* closed to accept and drop at EMFILE */
	struct backend *backend;
	struct work_profile work;
	double iters_per_us;
	struct conn **conns;      /* by fd; IO thread only */
	size_t nconns;            /* capacity of conns */
	unsigned marks;           /* SIGUSR1s seen */
	double started;           /* CLOCK_MONOTONIC seconds */
	_Atomic uint64_t seq;     /* requests numbered so far */
	_Atomic uint64_t served;  /* replies sent */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ */
/* Replies                                                              */

/* Sends all of buf on a non-blocking socket. A reply is a few hundred
 * bytes and the socket buffer holds far more; a full one (EAGAIN) means
 * the client stopped reading, and rather than block a worker on it this
 * returns -1 and the caller closes the connection. */
static int send_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t k = send(fd, buf, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		buf += k;
		n -= (size_t)k;
	}
	return 0;
}

static int send_status(int fd, const char *status)
{
	char reply[128];
	int n = snprintf(reply, sizeof(reply),
			 "HTTP/1.1 %s\r\nContent-Length: 0\r\n\r\n", status);

	return send_all(fd, reply, (size_t)n);
}

/* ------------------------------------------------------------------ */
/* Requests                                                             */

/* A well-mixed 64-bit hash (splitmix64's finaliser). */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9u;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebu;
	return x ^ (x >> 31);
}

/* The next request's work in loop iterations. Request n is long iff its
 * hash falls in the profile's fraction: a fixed sequence, whichever
 * thread numbers the request, so every backend gets the same lengths. */
static uint64_t draw_iters(struct server *s)
{
	uint64_t n = atomic_fetch_add_explicit(&s->seq, 1,
					       memory_order_relaxed);
	double us = s->work.base_us;

	if (s->work.long_fraction > 0 &&
	    (double)(mix64(n) >> 11) < s->work.long_fraction * 0x1p53)
		us = s->work.long_us;
	return (uint64_t)(us * s->iters_per_us + 0.5);
}

/* Hands c back to the IO thread (see the ownership note at the top);
 * the caller must not touch c afterwards. */
static void rearm(struct server *s, struct conn *c)
{
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT,
		.data.fd = c->fd,
	};

	/* A shut-down socket reads EOF, so the IO thread hears of it. */
	if (c->closing)
		shutdown(c->fd, SHUT_RDWR);
	if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
		/* Only a bug can get here (the fd is ours and open). */
		perror("server: epoll_ctl(MOD)");
		abort();
	}
}

/* Drops the request just handled from c's buffer. */
static void consume(struct conn *c)
{
	c->len -= c->req_len;
	memmove(c->buf, c->buf + c->req_len, c->len);
	c->req_len = 0;
}

/* Sends the reply to the current request, whose work gave r, and moves to
 * the next one the client pipelined behind it (already in the buffer: it
 * raises no event). True if there is one to serve (req_len and
 * work_iters set); false when c is to be re-armed (closing set if it is
 * to be closed). */
static bool reply_and_next(struct server *s, struct conn *c, uint64_t r)
{
	char reply[160];
	int n = snprintf(reply, sizeof(reply),
			 "HTTP/1.1 200 OK\r\n"
			 "Content-Type: text/plain\r\n"
			 "Content-Length: 17\r\n"
			 "\r\n"
			 "%016" PRIx64 "\n", r);
	if (send_all(c->fd, reply, (size_t)n) != 0) {
		c->closing = true;
		return false;
	}
	atomic_fetch_add_explicit(&s->served, 1, memory_order_relaxed);
	if (c->close_after) {
		c->closing = true;
		return false;
	}
	consume(c);
	long next = http_message_length(c->buf, c->len, CONN_BUF,
					 &c->close_after);
	if (next == 0)
		return false;
	if (next < 0) {
		send_status(c->fd, "400 Bad Request");
		c->closing = true;
		return false;
	}
	c->req_len = (size_t)next;
	c->work_iters = draw_iters(s);
	return true;
}

/* The weft-cq backend's task: the work only; the IO thread replies when
 * the future comes out of the completion queue (on_cq). */
static void *compute(void *arg)
{
	struct conn *c = arg;

	c->result = work_spin(c->work_iters, c->work_iters ^ (uint64_t)c->fd);
	return NULL;
}

/* The request's task: computes, replies, re-arms. Runs on a pool thread
 * (or on the IO thread for inline) and owns c until rearm(). */
static void *handle(void *arg)
{
	struct conn *c = arg;
	struct server *s = c->srv;

	while (reply_and_next(s, c, work_spin(c->work_iters, c->work_iters ^
					       (uint64_t)c->fd)))
		;
	rearm(s, c);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The IO thread                                                        */

static void close_conn(struct server *s, struct conn *c)
{
	s->conns[c->fd] = NULL;
	close(c->fd); /* also removes it from the epoll set */
	free(c);
}

static void submit(struct server *s, struct conn *c, long req);

/* An event on c, which the IO thread now owns. */
static void on_conn(struct server *s, struct conn *c)
{
	if (c->closing) {
		close_conn(s, c);
		return;
	}
	ssize_t n = recv(c->fd, c->buf + c->len, CONN_BUF - c->len, 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		close_conn(s, c); /* the client left */
		return;
	}
	if (n > 0)
		c->len += (size_t)n;
	long req = http_message_length(c->buf, c->len, CONN_BUF,
				       &c->close_after);
	if (req < 0) {
		send_status(c->fd, "400 Bad Request");
		close_conn(s, c);
		return;
	}
	if (req == 0) {
		rearm(s, c); /* level-triggered: more bytes raise an event */
		return;
	}
	c->req_len = (size_t)req;
	c->work_iters = draw_iters(s);
	submit(s, c, req);
}

/* Hands c's current request (req bytes) to the backend, or answers 503
 * when it refuses. */
static void submit(struct server *s, struct conn *c, long req)
{
	int err = backend_submit(s->backend, s->cqfd >= 0 ? compute : handle,
				 c);
	if (err) {
		/* Refused (out of memory, or a bounded queue): nothing was
		 * queued and c is still ours. Answer 503 to this request and
		 * to any pipelined behind it (they raise no event of their
		 * own), and keep the connection. */
		while (req > 0 && !c->closing) {
			int sent = send_status(c->fd,
					       "503 Service Unavailable");
			if (sent != 0 || c->close_after)
				c->closing = true;
			consume(c);
			req = http_message_length(c->buf, c->len, CONN_BUF,
						  &c->close_after);
			c->req_len = req > 0 ? (size_t)req : 0;
		}
		if (req < 0)
			c->closing = true;
		rearm(s, c);
	}
}

/* weft-cq: requests whose work is done come back to the IO thread, which
 * owns their connections again: it replies, then serves the next
 * pipelined request or re-arms. */
static void on_cq(struct server *s)
{
	struct conn *c;

	while ((c = backend_cq_pop(s->backend))) {
		if (reply_and_next(s, c, c->result))
			submit(s, c, (long)c->req_len);
		else
			rearm(s, c);
	}
}

/* Makes room for fd in the connection table. */
static int grow_table(struct server *s, int fd)
{
	if ((size_t)fd < s->nconns)
		return 0;
	size_t n = s->nconns ? s->nconns : 1024;
	while (n <= (size_t)fd)
		n *= 2;
	struct conn **t = realloc(s->conns, n * sizeof(*t));
	if (!t)
		return -ENOMEM;
	memset(t + s->nconns, 0, (n - s->nconns) * sizeof(*t));
	s->conns = t;
	s->nconns = n;
	return 0;
}

static void on_accept(struct server *s)
{
	for (;;) {
		int fd = accept4(s->lfd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if ((errno == EMFILE || errno == ENFILE) &&
			    s->spare_fd >= 0) {
				/* Out of descriptors: the listening socket
				 * would stay readable and spin the loop.
				 * Accept the connection with the spare
				 * descriptor and drop it. */
				close(s->spare_fd);
				fd = accept(s->lfd, NULL, NULL);
				if (fd >= 0)
					close(fd);
				s->spare_fd = open("/dev/null",
						   O_RDONLY | O_CLOEXEC);
				continue;
			}
			return; /* EAGAIN: all accepted */
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct conn *c = calloc(1, sizeof(*c));
		struct epoll_event ev = {
			.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT,
			.data.fd = fd,
		};
		if (!c || grow_table(s, fd) != 0 ||
		    epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			free(c);
			close(fd);
			continue;
		}
		c->srv = s;
		c->fd = fd;
		s->conns[fd] = c;
	}
}

static void print_cpu(struct server *s, const char *mark)
{
	struct rusage ru, io;

	getrusage(RUSAGE_SELF, &ru);
	getrusage(RUSAGE_THREAD, &io);
	printf("cpu mark=%s t=%.6f user_s=%.6f sys_s=%.6f requests=%" PRIu64
	       " nvcsw=%ld nivcsw=%ld io_nvcsw=%ld io_nivcsw=%ld\n",
	       mark, now_s() - s->started,
	       (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
	       atomic_load_explicit(&s->served, memory_order_relaxed),
	       ru.ru_nvcsw, ru.ru_nivcsw, io.ru_nvcsw, io.ru_nivcsw);
	fflush(stdout);
}

/* Returns true when the server should stop. */
static bool on_signal(struct server *s)
{
	struct signalfd_siginfo si;

	while (read(s->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo != SIGUSR1)
			return true;
		char mark[16];
		snprintf(mark, sizeof(mark), "%u", ++s->marks);
		print_cpu(s, mark);
	}
	return false;
}

static void serve(struct server *s, double max_seconds)
{
	struct epoll_event evs[MAX_EVENTS];
	double deadline = s->started + max_seconds;

	for (;;) {
		double left = deadline - now_s();
		if (left <= 0)
			return;
		int timeout = left > 1.0 ? 1000 : (int)(left * 1e3) + 1;
		int n = epoll_wait(s->epfd, evs, MAX_EVENTS, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("server: epoll_wait");
			return;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == s->lfd)
				on_accept(s);
			else if (fd == s->cqfd)
				on_cq(s);
			else if (fd == s->sigfd) {
				if (on_signal(s))
					return;
			} else {
				on_conn(s, s->conns[fd]);
			}
		}
	}
}

/* ------------------------------------------------------------------ */
/* Set-up                                                               */

static int listen_on(int port, int *out_port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);
	int one = 1;
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK), /* loopback only */
	};
	socklen_t alen = sizeof(a);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(fd, 4096) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	*out_port = ntohs(a.sin_port);
	return fd;
}

/* Raises the descriptor limit to its hard limit: a burst of connections
 * should not hit the soft one (1024 on Debian). */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: server --backend weft|weft-cq|mutex|inline [--workers N] "
		"[--work W]\n"
		"              [--port P] [--max-seconds S] "
		"[--iters-per-us X] [--spin-ns N] [--timing]\n"
		"       server --calibrate\n"
		"  --backend       who runs each request: a weft pool, a "
		"mutex+condvar pool,\n"
		"                  or the IO thread itself (inline)\n"
		"  --workers       pool threads (default 2)\n"
		"  --work          light (~3 us), heavy (~50 us), mix (3 us, "
		"1%% of 1 ms)\n"
		"                  or a number of microseconds (default "
		"light)\n"
		"  --port          TCP port on 127.0.0.1 (default 0: any; "
		"printed)\n"
		"  --max-seconds   stop after this long (default 600)\n"
		"  --iters-per-us  the work loop's speed (default: calibrate "
		"at start)\n"
		"  --spin-ns       weft only: weft_config.spin_ns\n"
		"  --timing        weft only: weft_config.timing; prints a "
		"\"latency\" line\n"
		"                  (the schedule-latency histogram) at exit\n"
		"  --calibrate     print the work loop's speed and exit\n"
		"SIGUSR1 prints a \"cpu\" line; SIGINT or SIGTERM stops it.\n");
}

/* Parses a number in [lo, hi] or exits with a message naming the
 * option. */
static double number_arg(const char *opt, const char *s, double lo,
			 double hi, bool integer)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || errno != 0 || !(v >= lo && v <= hi) ||
	    (integer && v != (double)(long long)v)) {
		fprintf(stderr, "server: --%s: expected %s from %g to %g, got "
			"'%s'\n", opt, integer ? "an integer" : "a number",
			lo, hi, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "backend", required_argument, NULL, 'b' },
		{ "workers", required_argument, NULL, 'w' },
		{ "work", required_argument, NULL, 'k' },
		{ "port", required_argument, NULL, 'p' },
		{ "max-seconds", required_argument, NULL, 'm' },
		{ "iters-per-us", required_argument, NULL, 'i' },
		{ "spin-ns", required_argument, NULL, 's' },
		{ "timing", no_argument, NULL, 't' },
		{ "calibrate", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *backend = NULL, *why;
	struct backend_opts bo = { .workers = 2, .spin_ns = -1 };
	struct server s = { .epfd = -1, .lfd = -1, .sigfd = -1, .cqfd = -1 };
	double max_seconds = 600;
	int port = 0, opt;

	work_parse("light", &s.work, &why);
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			backend = optarg;
			break;
		case 'w':
			bo.workers = (unsigned)number_arg("workers", optarg, 1,
							  1024, true);
			break;
		case 'k':
			if (work_parse(optarg, &s.work, &why) != 0) {
				fprintf(stderr, "server: --work: %s, got "
					"'%s'\n", why, optarg);
				return 2;
			}
			break;
		case 'p':
			port = (int)number_arg("port", optarg, 0, 65535, true);
			break;
		case 'm':
			max_seconds = number_arg("max-seconds", optarg, 0.001,
						 1e6, false);
			break;
		case 'i':
			s.iters_per_us = number_arg("iters-per-us", optarg,
						    1e-3, 1e6, false);
			break;
		case 's':
			bo.spin_ns = (int64_t)number_arg("spin-ns", optarg, 0,
							 1e10, true);
			break;
		case 't':
			bo.timing = true;
			break;
		case 'c':
			printf("calibration iters_per_us=%.3f\n",
			       work_calibrate());
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "server: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	if (!backend) {
		fprintf(stderr, "server: --backend is required\n");
		usage(stderr);
		return 2;
	}
	if (strcmp(backend, "weft") && strcmp(backend, "mutex") &&
	    strcmp(backend, "inline") && strcmp(backend, "weft-cq")) {
		fprintf(stderr, "server: --backend: expected weft, weft-cq, "
			"mutex or inline, got '%s'\n", backend);
		return 2;
	}

	/* Signals arrive through a signalfd in the epoll set. They are
	 * blocked before any thread starts, so the pool's threads inherit
	 * the mask and the IO thread alone receives them. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();

	s.started = now_s();
	if (s.iters_per_us == 0)
		s.iters_per_us = work_calibrate();
	int err = 0;
	s.lfd = listen_on(port, &port);
	if (s.lfd < 0) {
		fprintf(stderr, "server: cannot listen on 127.0.0.1:%d: %s\n",
			port, strerror(-s.lfd));
		return 1;
	}
	s.sigfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	s.epfd = epoll_create1(EPOLL_CLOEXEC);
	s.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = s.lfd };
	struct epoll_event sev = { .events = EPOLLIN, .data.fd = s.sigfd };
	if (s.sigfd < 0 || s.epfd < 0 ||
	    epoll_ctl(s.epfd, EPOLL_CTL_ADD, s.lfd, &ev) != 0 ||
	    epoll_ctl(s.epfd, EPOLL_CTL_ADD, s.sigfd, &sev) != 0) {
		perror("server: setting up epoll");
		return 1;
	}
	err = backend_start(&s.backend, backend, &bo);
	if (err) {
		fprintf(stderr, "server: cannot start the %s backend: %s\n",
			backend, strerror(-err));
		return 1;
	}
	s.cqfd = backend_cq_fd(s.backend);
	struct epoll_event cev = { .events = EPOLLIN, .data.fd = s.cqfd };
	if (s.cqfd >= 0 && epoll_ctl(s.epfd, EPOLL_CTL_ADD, s.cqfd, &cev)) {
		perror("server: adding the completion queue");
		return 1;
	}
	printf("server backend=%s workers=%u work=%s base_us=%g long_us=%g "
	       "long_fraction=%g iters_per_us=%.3f port=%d pid=%ld\n",
	       backend, strcmp(backend, "inline") ? bo.workers : 0,
	       s.work.name, s.work.base_us, s.work.long_us,
	       s.work.long_fraction, s.iters_per_us, port, (long)getpid());
	fflush(stdout);

	serve(&s, max_seconds);

	/* The pool finishes every request it holds (each re-arms its
	 * connection into the still-open epoll set); then the IO thread is
	 * the only owner left and frees them all. */
	backend_stop(s.backend);
	print_cpu(&s, "final");
	for (size_t fd = 0; fd < s.nconns; fd++)
		if (s.conns[fd])
			close_conn(&s, s.conns[fd]);
	free(s.conns);
	close(s.lfd);
	close(s.sigfd);
	close(s.epfd);
	if (s.spare_fd >= 0)
		close(s.spare_fd);
	return 0;
}
