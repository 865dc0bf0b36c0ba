/*
 * An HTTP/1.1 server that runs its requests on a weft pool: the pattern
 * to copy for a server that embeds weft.
 *
 *  - One IO thread owns every socket: it accepts, reads and parses,
 *    submits each complete request as a task, and writes the reply. Tasks
 *    never touch a socket, so nothing about a connection is shared but the
 *    request they were handed.
 *  - The task's future is posted to a completion queue (weft_cq) whose
 *    eventfd sits in the IO thread's epoll set: when the fd polls
 *    readable, the IO thread pops finished requests and writes their
 *    replies.
 *  - Admission control: the pool is created with max_queued, so under
 *    overload weft_submit returns -EAGAIN at once and the IO thread
 *    answers 503 instead of letting a queue (and every request's latency)
 *    grow without bound.
 *  - Faults: a client that leaves while its request runs is closed when
 *    the reply comes back; a request that does not arrive whole within
 *    --header-timeout (slowloris) or a connection idle for --idle-timeout
 *    is closed; a request too large for the buffer gets 431 and is
 *    closed; out of descriptors, new connections are accepted and dropped
 *    so the listening socket does not spin the loop.
 *  - SIGINT or SIGTERM: stop accepting, let the requests in flight finish
 *    and reply, close everything, destroy the queue and the pool.
 *
 * Requests: GET /?us=N spins about N microseconds (default --work-us)
 * and answers with a checksum; anything else in the path is ignored.
 *
 * usage: server [--port P] [--workers N] [--max-queued N] [--work-us N]
 *               [--header-timeout S] [--idle-timeout S]
 * It prints "listening port=P" once ready and, at exit, a "stats" line.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "weft.h"

#define BUF_SIZE 8192 /* a request's headers must fit */
#define MAX_EVENTS 128

/* What a task gets and gives back. The IO thread fills it before the
 * submit and reads it after the pop; the task owns it in between. */
struct job {
	long us;       /* work to do */
	char body[64]; /* the reply body */
};

struct conn {
	int fd;
	bool busy;        /* a request is in the pool */
	bool gone;        /* closed by the client while busy */
	bool close_after; /* Connection: close */
	size_t len;       /* bytes in buf */
	size_t req_len;   /* bytes of the request being served */
	double since;     /* when the current partial request began */
	double active;    /* last time anything happened */
	struct job job;
	char buf[BUF_SIZE];
};

struct server {
	weft_pool *pool;
	weft_cq *cq;
	int epfd, lfd, sigfd, cqfd, spare_fd;
	struct conn **conns; /* by fd */
	size_t nconns;
	size_t live;         /* open connections */
	size_t inflight;     /* requests in the pool */
	long work_us;
	double header_timeout, idle_timeout;
	uint64_t served, shed, bad, timed_out, dropped;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ */
/* The request's task: pure computation, no sockets.                    */

static void *run_job(void *arg)
{
	struct job *j = arg;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	double end = now_s() + (double)j->us / 1e6;
	uint64_t x = (uint64_t)ts.tv_nsec | 1;
	do {
		for (int i = 0; i < 64; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
		}
	} while (now_s() < end);
	snprintf(j->body, sizeof(j->body), "%016" PRIx64 "\n", x);
	return j;
}

/* ------------------------------------------------------------------ */
/* Connections (IO thread only)                                         */

/* Sends a whole reply on a non-blocking socket. A reply is small and the
 * socket buffer large: EAGAIN means the client stopped reading, and the
 * connection is closed rather than the IO thread blocked. */
static bool send_reply(struct conn *c, const char *status, const char *body)
{
	char out[256];
	int n = snprintf(out, sizeof(out),
			 "HTTP/1.1 %s\r\nContent-Type: text/plain\r\n"
			 "Content-Length: %zu\r\n%s\r\n%s",
			 status, strlen(body),
			 c->close_after ? "Connection: close\r\n" : "", body);
	const char *p = out;
	while (n > 0) {
		ssize_t k = send(c->fd, p, (size_t)n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		p += k;
		n -= (int)k;
	}
	return true;
}

static void close_conn(struct server *s, struct conn *c)
{
	s->conns[c->fd] = NULL;
	close(c->fd); /* also leaves the epoll set */
	free(c);
	s->live--;
}

/* What the IO thread waits for on c: input when idle; only hang-ups
 * while its request is in the pool (it reads the next request after
 * replying). */
static void watch(struct server *s, struct conn *c)
{
	struct epoll_event ev = {
		.events = c->busy ? EPOLLRDHUP : EPOLLIN | EPOLLRDHUP,
		.data.fd = c->fd,
	};
	epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* The length of the complete request at the start of buf: > 0, 0 if it
 * is not all there yet, -1 if it is malformed (a body is not accepted:
 * this server only serves GET). */
static long request_length(struct conn *c)
{
	char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
	if (!end)
		return 0;
	size_t n = (size_t)(end - c->buf) + 4;
	c->close_after = false;
	for (char *l = memchr(c->buf, '\n', n); l && l < end;
	     l = memchr(l + 1, '\n', (size_t)(end - l))) {
		if (!strncasecmp(l + 1, "content-length:", 15) &&
		    strtol(l + 16, NULL, 10) != 0)
			return -1;
		if (!strncasecmp(l + 1, "transfer-encoding:", 18))
			return -1;
		if (!strncasecmp(l + 1, "connection:", 11) &&
		    strcasestr(l + 12, "close") &&
		    strcasestr(l + 12, "close") < strchr(l + 1, '\r'))
			c->close_after = true;
	}
	return strncmp(c->buf, "GET ", 4) ? -1 : (long)n;
}

/* Starts every complete request in c's buffer, one at a time: submits it,
 * or answers 503 at once when the pool is at max_queued. Returns false if
 * c was closed. */
static bool serve_buffer(struct server *s, struct conn *c)
{
	while (!c->busy) {
		long n = request_length(c);
		if (n == 0) {
			if (c->len == BUF_SIZE) {
				c->close_after = true;
				send_reply(c, "431 Request Header Fields Too "
					      "Large", "");
				s->bad++;
				close_conn(s, c);
				return false;
			}
			watch(s, c);
			return true;
		}
		if (n < 0) {
			c->close_after = true;
			send_reply(c, "400 Bad Request", "");
			s->bad++;
			close_conn(s, c);
			return false;
		}
		c->req_len = (size_t)n;
		char *q = memmem(c->buf, c->req_len, "us=", 3);
		c->job.us = q ? strtol(q + 3, NULL, 10) : s->work_us;
		if (c->job.us < 0 || c->job.us > 1000000)
			c->job.us = s->work_us;
		weft_future *f = NULL;
		int err = weft_submit(s->pool, run_job, &c->job, &f);
		if (err == 0) {
			err = weft_future_post(f, s->cq, c);
			/* -ENOMEM: the task runs but its reply would never
			 * be heard of; wait for it (rare) so c.job stays
			 * the IO thread's, and shed the request. */
			if (err)
				weft_future_wait(f, WEFT_FOREVER);
			/* The post holds its own reference. */
			weft_future_release(f);
		}
		if (err == 0) {
			c->busy = true;
			s->inflight++;
			watch(s, c);
			return true;
		}
		/* -EAGAIN (max_queued reached), -ENOMEM: shed this one. */
		s->shed++;
		bool ok = send_reply(c, "503 Service Unavailable", "");
		memmove(c->buf, c->buf + c->req_len, c->len - c->req_len);
		c->len -= c->req_len;
		if (!ok || c->close_after) {
			close_conn(s, c);
			return false;
		}
	}
	return true;
}

static void on_readable(struct server *s, struct conn *c, uint32_t events)
{
	double t = now_s();
	if (c->busy) {
		/* Only a hang-up wakes a busy connection: the reply, when
		 * it comes, goes nowhere. */
		if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
			/* Out of the set: a hang-up would be reported on
			 * every wait until the request comes back. */
			c->gone = true;
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		}
		return;
	}
	ssize_t n = recv(c->fd, c->buf + c->len, BUF_SIZE - c->len, 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		close_conn(s, c);
		return;
	}
	if (n > 0) {
		if (c->len == 0)
			c->since = t;
		c->len += (size_t)n;
		c->active = t;
	}
	serve_buffer(s, c);
}

/* A finished request: reply, then serve what the client sent meanwhile. */
static void on_done(struct server *s, weft_future *f, struct conn *c)
{
	s->inflight--;
	c->busy = false;
	int err = weft_future_get(f, NULL);
	weft_future_release(f);
	if (c->gone) {
		close_conn(s, c);
		return;
	}
	bool ok = err == 0 ? send_reply(c, "200 OK", c->job.body)
			   : send_reply(c, "500 Internal Server Error", "");
	s->served += err == 0;
	memmove(c->buf, c->buf + c->req_len, c->len - c->req_len);
	c->len -= c->req_len;
	c->since = c->active = now_s();
	if (!ok || c->close_after) {
		close_conn(s, c);
		return;
	}
	serve_buffer(s, c);
}

static void drain_cq(struct server *s)
{
	weft_future *f;
	void *tag;
	while (weft_cq_pop(s->cq, &f, &tag) == 1)
		on_done(s, f, tag);
}

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
				/* Accept with the spare descriptor and drop
				 * it, or the listening socket stays readable
				 * and spins the loop. */
				close(s->spare_fd);
				fd = accept(s->lfd, NULL, NULL);
				if (fd >= 0)
					close(fd);
				s->dropped++;
				s->spare_fd = open("/dev/null",
						   O_RDONLY | O_CLOEXEC);
				continue;
			}
			return; /* EAGAIN: all accepted */
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct conn *c = calloc(1, sizeof(*c));
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP,
					 .data.fd = fd};
		if (!c || grow_table(s, fd) != 0 ||
		    epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			free(c);
			close(fd);
			s->dropped++;
			continue;
		}
		c->fd = fd;
		c->since = c->active = now_s();
		s->conns[fd] = c;
		s->live++;
	}
}

/* Closes idle connections and requests that take too long to arrive. */
static void sweep(struct server *s)
{
	double t = now_s();
	for (size_t fd = 0; fd < s->nconns; fd++) {
		struct conn *c = s->conns[fd];
		if (!c || c->busy)
			continue;
		if ((c->len > 0 && t - c->since > s->header_timeout) ||
		    t - c->active > s->idle_timeout) {
			s->timed_out++;
			close_conn(s, c);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Set-up, the loop, shutdown                                           */

static int listen_on(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);
	int one = 1;
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t alen = sizeof(a);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(fd, 4096) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
		close(fd);
		return -1;
	}
	printf("listening port=%d\n", ntohs(a.sin_port));
	fflush(stdout);
	return fd;
}

static int add_fd(int epfd, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void loop(struct server *s)
{
	struct epoll_event evs[MAX_EVENTS];
	double next_sweep = now_s() + 0.25;
	for (;;) {
		int n = epoll_wait(s->epfd, evs, MAX_EVENTS, 250);
		if (n < 0 && errno != EINTR) {
			perror("server: epoll_wait");
			return;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == s->lfd) {
				on_accept(s);
			} else if (fd == s->cqfd) {
				drain_cq(s);
			} else if (fd == s->sigfd) {
				return;
			} else if ((size_t)fd < s->nconns && s->conns[fd]) {
				on_readable(s, s->conns[fd], evs[i].events);
			}
		}
		if (now_s() >= next_sweep) {
			sweep(s);
			next_sweep = now_s() + 0.25;
		}
	}
}

/* SIGINT: no new connections or requests; the ones in the pool finish
 * and get their replies; then everything is closed and freed. */
static int shut_down(struct server *s)
{
	close(s->lfd);
	while (s->inflight > 0) {
		struct epoll_event ev;
		if (epoll_wait(s->epfd, &ev, 1, 1000) < 0 && errno != EINTR)
			break;
		weft_future *f;
		void *tag;
		while (weft_cq_pop(s->cq, &f, &tag) == 1) {
			struct conn *c = tag;
			s->inflight--;
			c->busy = false;
			if (weft_future_get(f, NULL) == 0 && !c->gone &&
			    send_reply(c, "200 OK", c->job.body))
				s->served++;
			weft_future_release(f);
		}
	}
	for (size_t fd = 0; fd < s->nconns; fd++)
		if (s->conns[fd])
			close_conn(s, s->conns[fd]);
	free(s->conns);
	int err = weft_cq_destroy(s->cq);
	int perr = weft_pool_destroy(s->pool);
	printf("stats served=%" PRIu64 " shed=%" PRIu64 " bad=%" PRIu64
	       " timed_out=%" PRIu64 " dropped=%" PRIu64 "\n",
	       s->served, s->shed, s->bad, s->timed_out, s->dropped);
	if (err || perr) {
		fprintf(stderr, "server: cq destroy: %s, pool destroy: %s\n",
			weft_strerror(err), weft_strerror(perr));
		return 1;
	}
	close(s->sigfd);
	close(s->epfd);
	if (s->spare_fd >= 0)
		close(s->spare_fd);
	return 0;
}

static long number(const char *opt, const char *arg, long lo, long hi)
{
	char *end;
	errno = 0;
	long v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < lo || v > hi) {
		fprintf(stderr, "server: --%s: expected %ld..%ld, got '%s'\n",
			opt, lo, hi, arg);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"port", required_argument, NULL, 'p'},
		{"workers", required_argument, NULL, 'w'},
		{"max-queued", required_argument, NULL, 'q'},
		{"work-us", required_argument, NULL, 'u'},
		{"header-timeout", required_argument, NULL, 'h'},
		{"idle-timeout", required_argument, NULL, 'i'},
		{NULL, 0, NULL, 0},
	};
	struct server s = {.work_us = 50, .header_timeout = 5,
			   .idle_timeout = 60, .spare_fd = -1};
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.max_queued = 256;
	int port = 8080, opt;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			port = (int)number("port", optarg, 0, 65535);
			break;
		case 'w':
			cfg.workers = (unsigned)number("workers", optarg, 0,
						       WEFT_MAX_WORKERS);
			break;
		case 'q':
			cfg.max_queued = (size_t)number("max-queued", optarg,
							0, 1 << 30);
			break;
		case 'u':
			s.work_us = number("work-us", optarg, 0, 1000000);
			break;
		case 'h':
			s.header_timeout = (double)number("header-timeout",
							  optarg, 1, 3600);
			break;
		case 'i':
			s.idle_timeout = (double)number("idle-timeout", optarg,
							1, 86400);
			break;
		default:
			fprintf(stderr, "usage: server [--port P] [--workers N] "
					"[--max-queued N] [--work-us N] "
					"[--header-timeout S] "
					"[--idle-timeout S]\n");
			return 2;
		}
	}

	/* Signals come through a signalfd; blocked before the pool starts,
	 * so its workers inherit the mask and never take them. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* A burst of connections should meet the hard limit, not the soft
	 * one (1024 on Debian). */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	int err = weft_pool_create(&s.pool, &cfg);
	if (err) {
		fprintf(stderr, "server: weft_pool_create: %s\n",
			weft_strerror(err));
		return 1;
	}
	err = weft_cq_create(&s.cq);
	if (err) {
		fprintf(stderr, "server: weft_cq_create: %s\n",
			weft_strerror(err));
		weft_pool_destroy(s.pool);
		return 1;
	}
	s.cqfd = weft_cq_fd(s.cq);
	s.sigfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	s.epfd = epoll_create1(EPOLL_CLOEXEC);
	s.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	s.lfd = listen_on(port);
	if (s.sigfd < 0 || s.epfd < 0 || s.lfd < 0 ||
	    add_fd(s.epfd, s.lfd) || add_fd(s.epfd, s.sigfd) ||
	    add_fd(s.epfd, s.cqfd)) {
		perror("server: set-up");
		return 1;
	}
	loop(&s);
	return shut_down(&s);
}
