/*
 * The load generator of the server benchmark: an open-loop, constant-rate
 * HTTP/1.1 client over loopback keep-alive connections, one thread, epoll.
 *
 * usage: loadgen --port P [--rate R] [--connections N] [--duration S]
 *                [--warmup S] [--drain S] [--mark-pid PID] [--path PATH]
 *
 * Open loop (--rate R > 0): request i is due at t0 + i/R, whatever
 * happened to the earlier ones. It goes out on an idle connection (the
 * one idle longest) as soon as it is due; if every connection is busy it
 * waits for one. Its latency runs from when it was DUE (its intended send
 * time) to the end of its reply, as wrk2 measures it: a server that
 * stalls is charged for every request that should have gone out during
 * the stall, not only for the one it held (no coordinated omission).
 * Closed loop (--rate 0): each connection sends its next request as soon
 * as the reply to the last arrives, and latency runs from the send.
 *
 * Requests due in the first --warmup seconds are not measured. After the
 * schedule's end (warm-up + --duration) no new request is due; replies
 * still owed are awaited for up to --drain seconds, and a measured request
 * without a reply by then is counted as incomplete and recorded with its
 * latency so far (a lower bound), so a server that falls behind cannot
 * shorten its tail by never answering. The whole run is bounded: an alarm
 * ends the process 10 s after the drain.
 *
 * One output line, key=value: the target and achieved rate (2xx replies
 * received inside the measured window, per second), the latency
 * percentiles in microseconds (log-linear histogram, hist.h), errors
 * (failed connections and non-2xx replies; neither is in the latency
 * figures), lag: how late requests went out against their intended time
 * (waits for a free connection, and the generator's own delay), and wake:
 * how late the generator's timer wake-ups ran, its own scheduling delay
 * alone. A wake p99 near the latency p99 says the figures measure a
 * machine too busy to run the client on time, more than the server.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "hist.h"
#include "http.h"

#define RBUF 4096
#define MAX_EVENTS 256
#define TIMER_TAG UINT64_MAX /* epoll data of the timerfd */

struct lconn {
	int fd;               /* -1: dead (could not reconnect) */
	bool busy;            /* a request in flight */
	bool queued;          /* in the idle ring */
	bool measured;        /* ... and it was due in the measured window */
	uint64_t intended;    /* its intended send time (ns) */
	size_t rlen;          /* bytes of reply in rbuf */
	char rbuf[RBUF];
};

struct opts {
	int port;
	double rate;          /* requests/s; 0: closed loop */
	unsigned connections;
	double duration, warmup, drain;
	pid_t mark_pid;       /* 0: none */
	const char *path;
};

struct gen {
	struct opts o;
	int epfd, tfd;
	char req[512];
	size_t req_len;
	struct lconn *conns;
	unsigned *idle;           /* ring of idle connection indexes */
	unsigned idle_head, idle_count;
	unsigned busy_count, live_count;
	uint64_t t0, warm_end, sched_end, drain_end; /* ns, CLOCK_MONOTONIC */
	double period_ns;
	uint64_t total;           /* open loop: requests in the schedule */
	uint64_t next_send;       /* open loop: index of the next to send */
	uint64_t armed;           /* the timer's expiry, 0 when not armed */
	unsigned marks_sent;      /* SIGUSR1s sent to mark_pid (0..2) */
	uint64_t window_ok;       /* 2xx replies received in the window */
	uint64_t errors, non2xx, reconnects, incomplete;
	struct hist lat, lag;
	struct hist wake;         /* timer wake-ups: how late they ran */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ------------------------------------------------------------------ */
/* Connections                                                          */

/* Connects to 127.0.0.1:port within a second; returns the non-blocking
 * socket, or -1 with errno set. */
static int connect_to(int port)
{
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int err = 0;
		socklen_t elen = sizeof(err);
		if (errno != EINPROGRESS)
			err = errno;
		else if (poll(&p, 1, 1000) != 1)
			err = ETIMEDOUT;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen))
			err = errno;
		if (err) {
			close(fd);
			errno = err;
			return -1;
		}
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Each connection is in the ring at most once (queued), so it never
 * holds more than `connections` entries. */
static void push_idle(struct gen *g, unsigned i)
{
	g->idle[(g->idle_head + g->idle_count) % g->o.connections] = i;
	g->idle_count++;
	g->conns[i].queued = true;
}

/* Takes the connection idle longest (FIFO, so the load spreads over all
 * of them as it would over many clients), skipping any that died while
 * queued. Returns false when none is left. */
static bool pop_idle(struct gen *g, unsigned *out)
{
	while (g->idle_count > 0) {
		unsigned i = g->idle[g->idle_head];
		g->idle_head = (g->idle_head + 1) % g->o.connections;
		g->idle_count--;
		g->conns[i].queued = false;
		if (g->conns[i].fd >= 0) {
			*out = i;
			return true;
		}
	}
	return false;
}

static bool add_to_epoll(struct gen *g, unsigned i)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
				  .data.u64 = i };

	return epoll_ctl(g->epfd, EPOLL_CTL_ADD, g->conns[i].fd, &ev) == 0;
}

static void send_on(struct gen *g, unsigned i, uint64_t intended,
		    uint64_t now);

/* Connection i can take a request: closed loop, it sends one at once
 * (until the schedule's end); open loop, it waits in the idle ring. */
static void conn_ready(struct gen *g, unsigned i, uint64_t now)
{
	if (g->o.rate == 0 && now < g->sched_end)
		send_on(g, i, now, now);
	else
		push_idle(g, i);
}

/* Replaces connection i: after a failure (reset, closed, garbage; its
 * request in flight, if any, is an error) or after the server closed it
 * on purpose (error false). A connection that cannot reconnect, or one
 * past the reconnection budget (a server that fails every request would
 * otherwise keep the loop reconnecting), stays dead. */
static void reconnect(struct gen *g, unsigned i, bool error)
{
	struct lconn *c = &g->conns[i];

	if (error)
		g->errors++;
	if (c->busy) {
		c->busy = false;
		g->busy_count--;
	}
	close(c->fd);
	c->rlen = 0;
	c->fd = -1;
	if (g->reconnects < 100 + 10 * (uint64_t)g->o.connections) {
		c->fd = connect_to(g->o.port);
		if (c->fd >= 0 && add_to_epoll(g, i)) {
			g->reconnects++;
			/* One that failed while idle is still in the ring. */
			if (!c->queued)
				conn_ready(g, i, now_ns());
			return;
		}
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
	}
	g->live_count--;
}

/* Sends the request due at `intended` on idle connection i. */
static void send_on(struct gen *g, unsigned i, uint64_t intended,
		    uint64_t now)
{
	struct lconn *c = &g->conns[i];
	ssize_t k = send(c->fd, g->req, g->req_len, MSG_NOSIGNAL);

	c->busy = true;
	g->busy_count++;
	c->intended = intended;
	c->measured = intended >= g->warm_end && intended < g->sched_end;
	if (c->measured)
		hist_record(&g->lag, now - intended);
	if (k != (ssize_t)g->req_len)
		reconnect(g, i, true); /* a short request always fits */
}

/* ------------------------------------------------------------------ */
/* The schedule                                                         */

static uint64_t due_at(const struct gen *g, uint64_t n)
{
	return g->t0 + (uint64_t)((double)n * g->period_ns);
}

/* Open loop: sends every request that is due, while connections are
 * idle. */
static void send_due(struct gen *g, uint64_t now)
{
	unsigned i;

	while (g->next_send < g->total) {
		uint64_t due = due_at(g, g->next_send);
		if (due > now || !pop_idle(g, &i))
			break;
		send_on(g, i, due, now);
		g->next_send++;
	}
}

/* A reply to connection i's request ended at `now`. */
static void finish(struct gen *g, unsigned i, int status, uint64_t now)
{
	struct lconn *c = &g->conns[i];
	bool ok = status >= 200 && status < 300;

	c->busy = false;
	g->busy_count--;
	if (!ok) {
		g->errors++;
		g->non2xx++;
	} else {
		if (c->measured)
			hist_record(&g->lat, now - c->intended);
		if (now >= g->warm_end && now < g->sched_end)
			g->window_ok++;
	}
}

/* Reads what connection i has; handles each complete reply. */
static void on_readable(struct gen *g, unsigned i)
{
	struct lconn *c = &g->conns[i];
	ssize_t n = recv(c->fd, c->rbuf + c->rlen, RBUF - c->rlen, 0);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		reconnect(g, i, true);
		return;
	}
	c->rlen += (size_t)n;
	uint64_t now = now_ns();
	for (;;) {
		bool close_after;
		long len = http_message_length(c->rbuf, c->rlen, RBUF,
					       &close_after);
		if (len == 0)
			return;
		int status = http_status(c->rbuf, c->rlen);
		if (len < 0 || status < 0 || !c->busy) {
			reconnect(g, i, true); /* garbage, or a reply unasked */
			return;
		}
		c->rlen -= (size_t)len;
		memmove(c->rbuf, c->rbuf + len, c->rlen);
		finish(g, i, status, now);
		if (close_after) {
			/* The server closes it: no error, but it must be
			 * replaced. */
			reconnect(g, i, false);
			return;
		}
		conn_ready(g, i, now);
	}
}

/* Sends SIGUSR1 to mark_pid when the window starts and when it ends, so
 * the server prints its CPU time at both. */
static void marks(struct gen *g, uint64_t now)
{
	while (g->marks_sent < 2 &&
	       now >= (g->marks_sent == 0 ? g->warm_end : g->sched_end)) {
		if (g->o.mark_pid && kill(g->o.mark_pid, SIGUSR1) != 0)
			die("kill(--mark-pid)");
		g->marks_sent++;
	}
}

/* When the loop next has something to do without a reply arriving. */
static uint64_t next_wake(const struct gen *g)
{
	uint64_t t = g->drain_end;

	if (g->marks_sent == 0 && g->warm_end < t)
		t = g->warm_end;
	if (g->marks_sent < 2 && g->sched_end < t)
		t = g->sched_end;
	if (g->o.rate > 0 && g->next_send < g->total && g->idle_count > 0) {
		uint64_t due = due_at(g, g->next_send);
		if (due < t)
			t = due;
	}
	return t;
}

static void arm(struct gen *g, uint64_t at)
{
	if (at == g->armed)
		return;
	struct itimerspec it = {
		.it_value = { .tv_sec = (time_t)(at / 1000000000u),
			      .tv_nsec = (long)(at % 1000000000u) },
	};
	if (timerfd_settime(g->tfd, TFD_TIMER_ABSTIME, &it, NULL) != 0)
		die("timerfd_settime");
	g->armed = at;
}

static bool finished(const struct gen *g, uint64_t now)
{
	if (now >= g->drain_end || g->live_count == 0)
		return true;
	if (now < g->sched_end)
		return false;
	bool all_sent = g->o.rate == 0 || g->next_send >= g->total;
	return all_sent && g->busy_count == 0;
}

static void run(struct gen *g)
{
	struct epoll_event evs[MAX_EVENTS];

	if (g->o.rate == 0) {
		uint64_t now = now_ns();
		unsigned i;
		while (pop_idle(g, &i))
			send_on(g, i, now, now);
	}
	for (;;) {
		uint64_t now = now_ns();
		marks(g, now);
		if (g->o.rate > 0)
			send_due(g, now);
		if (finished(g, now))
			return;
		arm(g, next_wake(g));
		int n = epoll_wait(g->epfd, evs, MAX_EVENTS, -1);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int k = 0; k < n; k++) {
			if (evs[k].data.u64 == TIMER_TAG) {
				uint64_t expirations;
				if (read(g->tfd, &expirations,
					 sizeof(expirations)) < 0 &&
				    errno != EAGAIN)
					die("read(timerfd)");
				if (g->armed >= g->warm_end &&
				    g->armed < g->sched_end)
					hist_record(&g->wake,
						    now_ns() - g->armed);
				g->armed = 0;
				continue;
			}
			unsigned i = (unsigned)evs[k].data.u64;
			/* An earlier event in this batch may have replaced
			 * or killed the connection; a stale event on the
			 * new socket only finds nothing to read. */
			if (g->conns[i].fd >= 0)
				on_readable(g, (unsigned)evs[k].data.u64);
		}
	}
}

/* Requests owed a reply at the end: each measured one counts as
 * incomplete, with its latency so far. */
static void account_incomplete(struct gen *g, uint64_t now)
{
	for (unsigned i = 0; i < g->o.connections; i++) {
		struct lconn *c = &g->conns[i];
		if (c->fd >= 0 && c->busy && c->measured) {
			hist_record(&g->lat, now - c->intended);
			g->incomplete++;
		}
	}
	/* Open loop: due in the window but never sent. */
	for (uint64_t n = g->next_send; n < g->total; n++) {
		uint64_t due = due_at(g, n);
		if (due >= g->warm_end && due < g->sched_end && due <= now) {
			hist_record(&g->lat, now - due);
			g->incomplete++;
		}
	}
}

static void report(const struct gen *g)
{
	const struct hist *h = &g->lat;
	double window = (double)(g->sched_end - g->warm_end) / 1e9;

	printf("loadgen mode=%s target_rate=%.1f connections=%u window_s=%.3f "
	       "achieved_rate=%.1f requests=%" PRIu64 " errors=%" PRIu64
	       " non2xx=%" PRIu64 " incomplete=%" PRIu64 " reconnects=%" PRIu64
	       " p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f"
	       " mean_us=%.1f lag_p99_us=%.1f lag_max_us=%.1f"
	       " wake_p99_us=%.1f wake_max_us=%.1f\n",
	       g->o.rate > 0 ? "open" : "closed", g->o.rate, g->o.connections,
	       window, (double)g->window_ok / window, h->count, g->errors,
	       g->non2xx, g->incomplete, g->reconnects,
	       hist_quantile(h, 0.50) / 1e3, hist_quantile(h, 0.90) / 1e3,
	       hist_quantile(h, 0.99) / 1e3, hist_quantile(h, 0.999) / 1e3,
	       h->max / 1e3, h->count ? h->sum / (double)h->count / 1e3 : 0.0,
	       hist_quantile(&g->lag, 0.99) / 1e3, g->lag.max / 1e3,
	       hist_quantile(&g->wake, 0.99) / 1e3, g->wake.max / 1e3);
	fflush(stdout);
}

/* ------------------------------------------------------------------ */
/* Set-up                                                               */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: loadgen --port P [--rate R] [--connections N] "
		"[--duration S]\n"
		"               [--warmup S] [--drain S] [--mark-pid PID] "
		"[--path PATH]\n"
		"  --port         the server's port on 127.0.0.1\n"
		"  --rate         requests per second over all connections "
		"(default 1000);\n"
		"                 0: closed loop (send the next when the "
		"reply arrives)\n"
		"  --connections  keep-alive connections (default 32)\n"
		"  --duration     measured seconds (default 5)\n"
		"  --warmup       seconds first, not measured (default 1)\n"
		"  --drain        seconds to wait for replies still owed at "
		"the end (default 2)\n"
		"  --mark-pid     send SIGUSR1 to this process when the "
		"measured window starts\n"
		"                 and ends (the server prints its CPU time)\n"
		"  --path         the request's path (default /)\n");
}

static double number_arg(const char *opt, const char *s, double lo,
			 double hi, bool integer)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || errno != 0 || !(v >= lo && v <= hi) ||
	    (integer && v != floor(v))) {
		fprintf(stderr, "loadgen: --%s: expected %s from %g to %g, got "
			"'%s'\n", opt, integer ? "an integer" : "a number",
			lo, hi, s);
		exit(2);
	}
	return v;
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "rate", required_argument, NULL, 'r' },
		{ "connections", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "drain", required_argument, NULL, 'D' },
		{ "mark-pid", required_argument, NULL, 'm' },
		{ "path", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	*o = (struct opts){ .port = -1, .rate = 1000, .connections = 32,
			    .duration = 5, .warmup = 1, .drain = 2,
			    .path = "/" };
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			o->port = (int)number_arg("port", optarg, 1, 65535,
						  true);
			break;
		case 'r':
			o->rate = number_arg("rate", optarg, 0, 1e7, false);
			break;
		case 'c':
			o->connections = (unsigned)number_arg(
				"connections", optarg, 1, 10000, true);
			break;
		case 'd':
			o->duration = number_arg("duration", optarg, 0.01,
						 3600, false);
			break;
		case 'w':
			o->warmup = number_arg("warmup", optarg, 0, 3600,
					       false);
			break;
		case 'D':
			o->drain = number_arg("drain", optarg, 0, 3600, false);
			break;
		case 'm':
			o->mark_pid = (pid_t)number_arg("mark-pid", optarg, 1,
							 4194304, true);
			break;
		case 'P':
			if (optarg[0] != '/' || strpbrk(optarg, " \r\n")) {
				fprintf(stderr, "loadgen: --path: expected a "
					"path starting with / and without "
					"spaces, got '%s'\n", optarg);
				exit(2);
			}
			o->path = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "loadgen: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		exit(2);
	}
	if (o->port < 0) {
		fprintf(stderr, "loadgen: --port is required\n");
		usage(stderr);
		exit(2);
	}
	if (o->rate > 0 && o->rate * (o->warmup + o->duration) > 1e10) {
		fprintf(stderr, "loadgen: --rate times the run's length is "
			"over 1e10 requests\n");
		exit(2);
	}
}

int main(int argc, char **argv)
{
	struct gen *g = calloc(1, sizeof(*g));

	if (!g)
		die("calloc");
	parse(argc, argv, &g->o);
	/* The bound on the whole run: connecting, the schedule, the drain,
	 * and 10 s to spare. SIGALRM's default action ends the process. */
	alarm((unsigned)ceil(g->o.warmup + g->o.duration + g->o.drain) + 10);
	/* Timers fire within 1 us of the schedule rather than the default
	 * 50 us of slack, which would add to every measured latency. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	int n = snprintf(g->req, sizeof(g->req),
			 "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n",
			 g->o.path, g->o.port);
	if (n < 0 || (size_t)n >= sizeof(g->req)) {
		fprintf(stderr, "loadgen: --path is too long\n");
		return 2;
	}
	g->req_len = (size_t)n;
	hist_init(&g->lat);
	hist_init(&g->lag);
	hist_init(&g->wake);
	g->conns = calloc(g->o.connections, sizeof(*g->conns));
	g->idle = calloc(g->o.connections, sizeof(*g->idle));
	g->epfd = epoll_create1(EPOLL_CLOEXEC);
	g->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (!g->conns || !g->idle || g->epfd < 0 || g->tfd < 0)
		die("setting up");
	struct epoll_event tev = { .events = EPOLLIN, .data.u64 = TIMER_TAG };
	if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, g->tfd, &tev) != 0)
		die("epoll_ctl(timerfd)");
	for (unsigned i = 0; i < g->o.connections; i++) {
		g->conns[i].fd = connect_to(g->o.port);
		if (g->conns[i].fd < 0) {
			fprintf(stderr, "loadgen: cannot connect to "
				"127.0.0.1:%d (connection %u of %u): %s\n",
				g->o.port, i + 1, g->o.connections,
				strerror(errno));
			return 1;
		}
		if (!add_to_epoll(g, i))
			die("epoll_ctl(connection)");
		push_idle(g, i);
	}
	g->live_count = g->o.connections;

	g->t0 = now_ns();
	g->warm_end = g->t0 + (uint64_t)(g->o.warmup * 1e9);
	g->sched_end = g->warm_end + (uint64_t)(g->o.duration * 1e9);
	g->drain_end = g->sched_end + (uint64_t)(g->o.drain * 1e9);
	if (g->o.rate > 0) {
		g->period_ns = 1e9 / g->o.rate;
		/* Every request due before the schedule's end. */
		g->total = (uint64_t)ceil((double)(g->sched_end - g->t0) /
					  g->period_ns);
	}
	run(g);
	uint64_t end = now_ns();
	marks(g, UINT64_MAX); /* the end mark, if the run stopped early */
	account_incomplete(g, end);
	report(g);
	int status = 0;
	if (g->live_count == 0) {
		fprintf(stderr, "loadgen: every connection failed\n");
		status = 1;
	}
	for (unsigned i = 0; i < g->o.connections; i++)
		if (g->conns[i].fd >= 0)
			close(g->conns[i].fd);
	close(g->tfd);
	close(g->epfd);
	free(g->conns);
	free(g->idle);
	free(g);
	return status;
}
