#!/usr/bin/env python3
"""Runs the server benchmark: weft, the mutex+condvar pool and inline
behind one epoll HTTP server, under open-loop and closed-loop load.

usage: bench/server/run.py [quick|full|smoke] [--build DIR] [--work W,...]
           [--backends B,...] [--rates F,...] [--reps N] [--seconds S]
           [--warmup S] [--connections N] [--workers N]
           [--capacity W=RATE,...] [--closed-seconds S] [--closed-reps N]
           [--no-closed] [--out DIR]

  quick    ~3 us and ~50 us requests, 50% and 80% of capacity, 3 runs
           each of 1 s; closed loop 2 s once per backend (about 2 min)
  full     ~3 us, ~50 us and the mix (1% of 1 ms), 10% to 90% of
           capacity in steps of 10%, 3 runs each of 5 s; closed loop 5 s,
           3 runs per backend (its estimated length is printed first)
  smoke    a check, not a measurement: each backend serves 2,000 req/s
           for 1 s with no errors (meson test runs it)
  --build          the Meson build directory, configured with
                   -Dbenchmarks=true (default: build-bench)
  --work           request work: light (~3 us), heavy (~50 us), mix, or
                   microseconds
  --backends       among weft, mutex, inline (default: all three)
  --rates          fractions of the mutex pool's capacity (0.1,0.5,...)
  --reps           runs per backend and rate (default 3)
  --seconds        measured seconds per open-loop run
  --warmup         unmeasured seconds before each
  --connections    the generator's keep-alive connections (default 32)
  --workers        pool threads (default 2)
  --capacity       skip measuring capacity: light=47000,heavy=30000
  --closed-seconds, --closed-reps   the closed-loop runs (wrk -c64)
  --no-closed      no closed-loop runs (needs --capacity)
  --out            where results go (default: results/); a folder named
                   after the date, with runs.csv (every run), summary.csv,
                   one SVG plot per work (p99 and p50 against the rate)
                   and report.md (everything printed)

It prints the date, the machine and its real parallelism first
(bench_parallelism, as bench/run.py does), then per work:

1. Closed loop: wrk -t1 -c64 (Debian's wrk; the generator's closed loop
   if wrk is absent) against each backend, interleaved. The mutex pool's
   median req/s is the CAPACITY the open-loop rates are fractions of.
2. Open loop: bench/server/loadgen at each rate, every backend at each,
   the backends' order rotated from one repetition to the next. Latency
   runs from each request's intended send time (wrk2's method).

Every run is a fresh server process (bench/server/server) that calibrated
its work loop once for the whole run (--iters-per-us), so every backend
does the same work. Per backend and rate: achieved rate, p50, p99, p99.9
and max latency in microseconds, the server's CPU (cores: user + system
time over the measured window, from the server's getrusage at the
window's start and end) and involuntary context switches per second; the
median of the runs and their range (min-max). The generator shares the
machine with the server, as a client of a real server on the same host
would; its own lateness is in runs.csv (lag_p99_us).

Every process is bounded in time and killed if it overstays; servers are
killed when the runner exits, however it exits.
"""
import argparse
import csv
import importlib.util
import math
import os
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

BACKENDS = ['weft', 'mutex', 'inline']
# weft-cq (replies through a completion queue) runs on request:
# --backends weft,weft-cq,mutex,inline
LABELS = {'weft': 'weft', 'mutex': 'mutex pool', 'inline': 'inline',
          'weft-cq': 'weft (completion queue)'}
COLORS = {'weft': '#1f77b4', 'mutex': '#d62728', 'inline': '#7f7f7f',
          'weft-cq': '#2ca02c'}
WORK_TITLES = {'light': '~3 us requests', 'heavy': '~50 us requests',
               'mix': '3 us requests, 1% of 1 ms'}

MODES = {
    'smoke': dict(work=['light'], rates=[], reps=1, seconds=1.0,
                  warmup=0.2, closed_seconds=0, closed_reps=0),
    'quick': dict(work=['light', 'heavy'], rates=[0.5, 0.8], reps=3,
                  seconds=1.0, warmup=0.5, closed_seconds=2,
                  closed_reps=1),
    'full': dict(work=['light', 'heavy', 'mix'],
                 rates=[i / 10 for i in range(1, 10)], reps=3, seconds=5.0,
                 warmup=1.0, closed_seconds=5, closed_reps=3),
}
SMOKE_RATE = 2000
DRAIN = 2.0        # the generator's wait for replies owed at the end
START_COST = 0.6   # seconds a run costs beyond its load: start, calibrate,
                   # connect, drain, stop (measured on 2 shared cores)

# Every server and client still running, killed on the way out.
CHILDREN = []


def suite():
    """bench/run.py, for the header it prints (date, machine,
    parallelism, versions): loaded by path, as its name clashes with this
    file's."""
    spec = importlib.util.spec_from_file_location(
        'weft_bench_suite', os.path.join(ROOT, 'bench', 'run.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def kill_children():
    for p in CHILDREN:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            p.wait()
    CHILDREN.clear()


def on_signal(signum, frame):
    raise SystemExit(128 + signum)


class RunError(Exception):
    pass


# ---------------------------------------------------------------------
# Processes


def keyvals(line):
    """"name k=v k=v ..." -> {k: v}, numbers as floats where they are."""
    out = {}
    for f in line.split()[1:]:
        if '=' in f:
            k, v = f.split('=', 1)
            try:
                out[k] = float(v)
            except ValueError:
                out[k] = v
    return out


class Server:
    """A server process: started, its port read from its first line; its
    "cpu" lines collected when it stops."""

    def __init__(self, build, backend, work, workers, iters_per_us,
                 max_seconds, extra=()):
        self.cmd = [os.path.join(build, 'bench', 'server', 'server'),
                    '--backend', backend, '--work', work,
                    '--workers', str(workers),
                    '--iters-per-us', '%.3f' % iters_per_us,
                    '--max-seconds', '%.0f' % max_seconds] + list(extra)
        self.err = tempfile.TemporaryFile(mode='w+')
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE,
                                     stderr=self.err, text=True,
                                     start_new_session=True)
        CHILDREN.append(self.proc)
        self.out = []
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        ready = sel.select(timeout=10)
        sel.close()
        line = self.proc.stdout.readline() if ready else ''
        if not line.startswith('server '):
            self.stop()
            raise RunError('server did not start: %s' % (
                self.stderr() or line.strip() or 'no output in 10 s'))
        self.port = int(keyvals(line)['port'])

    def mark(self):
        """Asks for a "cpu" line now (SIGUSR1)."""
        self.proc.send_signal(signal.SIGUSR1)

    def stderr(self):
        self.err.seek(0)
        return self.err.read().strip()

    def stop(self):
        """SIGTERM, then the rest of its output; SIGKILL after 10 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rest, _ = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            rest, _ = self.proc.communicate()
        if self.proc in CHILDREN:
            CHILDREN.remove(self.proc)
        self.out = [keyvals(line) for line in (rest or '').splitlines()
                    if line.startswith('cpu ')]
        self.latency = [keyvals(line) for line in (rest or '').splitlines()
                        if line.startswith('latency ')]
        code = self.proc.returncode
        self.err.close()
        return code

    def window(self):
        """The server's CPU between its first two marks: cores, CPU us a
        request, involuntary switches a second (all threads, and the IO
        thread alone)."""
        marks = [m for m in self.out if m.get('mark') != 'final']
        if len(marks) < 2:
            raise RunError('the server printed %d of its 2 cpu marks'
                           % len(marks))
        a, b = marks[0], marks[1]
        dt = b['t'] - a['t']
        cpu = (b['user_s'] + b['sys_s']) - (a['user_s'] + a['sys_s'])
        reqs = b['requests'] - a['requests']
        return {
            'cpu_cores': cpu / dt if dt > 0 else 0.0,
            'cpu_us_per_req': cpu / reqs * 1e6 if reqs > 0 else 0.0,
            'nivcsw_per_s': (b['nivcsw'] - a['nivcsw']) / dt,
            'io_nivcsw_per_s': (b['io_nivcsw'] - a['io_nivcsw']) / dt,
        }


def run_client(cmd, timeout):
    """Runs a client to completion; its stdout. Killed after timeout."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    CHILDREN.append(p)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise RunError('%s: still running after %d s' % (
            os.path.basename(cmd[0]), timeout))
    finally:
        CHILDREN.remove(p)
    if p.returncode != 0:
        raise RunError('%s: exit %d: %s' % (
            os.path.basename(cmd[0]), p.returncode,
            (err.strip().splitlines() or [''])[-1]))
    return out


def to_us(s):
    """wrk's "1.23ms" -> 1230.0."""
    for unit, scale in (('us', 1), ('ms', 1e3), ('s', 1e6), ('m', 6e7)):
        if s.endswith(unit):
            return float(s[:-len(unit)]) * scale
    return float(s)


def parse_wrk(out):
    r = {'errors': 0.0}
    for line in out.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == 'Requests/sec:':
            r['achieved_rate'] = float(f[1])
        elif f[0] == 'Latency' and len(f) >= 4:
            r['max_us'] = to_us(f[3])
        elif f[0] in ('50%', '90%', '99%') and len(f) == 2:
            r['p%s_us' % f[0][:-1]] = to_us(f[1])
        elif line.strip().startswith('Non-2xx'):
            r['errors'] += float(f[-1])
        elif line.strip().startswith('Socket errors:'):
            r['errors'] += sum(float(x.strip(',')) for x in f[3::2])
    if 'achieved_rate' not in r:
        raise RunError('wrk printed no Requests/sec')
    return r


# ---------------------------------------------------------------------
# Runs


class Bench:
    def __init__(self, a, build):
        self.a = a
        self.build = build
        self.loadgen = os.path.join(build, 'bench', 'server', 'loadgen')
        self.wrk = shutil.which('wrk')
        self.rows = []       # every run: dicts (runs.csv)
        self.failures = []
        self.done = 0
        self.total = 0
        self.started = time.monotonic()

    def progress(self, what):
        if not sys.stderr.isatty():
            return
        el = time.monotonic() - self.started
        sys.stderr.write('\r\033[K[%d/%d, %s] %s' % (
            self.done, self.total, fmt_duration(el), what))
        sys.stderr.flush()

    def clear(self):
        if sys.stderr.isatty():
            sys.stderr.write('\r\033[K')
            sys.stderr.flush()

    def server(self, backend, work, seconds, extra=()):
        return Server(self.build, backend, work, self.a.workers,
                      self.iters_per_us, seconds + 60, extra)

    def latency(self, work, rate):
        """One more weft run at `rate` with the pool's timing on (its
        cost stays out of the tables): the schedule-latency histogram,
        as lines to print."""
        a = self.a
        self.progress('%s at %.0f req/s, weft with timing' % (work, rate))
        srv = self.server('weft', work, a.warmup + a.seconds + DRAIN,
                          ['--timing'])
        try:
            run_client([self.loadgen, '--port', str(srv.port),
                        '--rate', '%.1f' % rate,
                        '--connections', str(a.connections),
                        '--warmup', str(a.warmup),
                        '--duration', str(a.seconds),
                        '--drain', str(DRAIN)],
                       a.warmup + a.seconds + DRAIN + 30)
        except RunError as e:
            srv.stop()
            return ['weft schedule latency: the run failed (%s)' % e]
        srv.stop()
        if not srv.latency:
            return ['weft schedule latency: the server printed none']
        lat = srv.latency[0]
        tasks = lat['tasks']
        lines = ['weft schedule latency (submit to start, one more run '
                 'at %s req/s with timing on; %s tasks, busy %.3f s):' % (
                     fmt_num(rate), fmt_num(tasks), lat['busy_ns'] / 1e9)]
        cum = 0
        for i in range(64):
            n = lat.get('b%d' % i)
            if not n:
                continue
            cum += n
            lines.append('  [%s, %s) ns  %10s  %5.1f%%  (%5.1f%% below)' % (
                fmt_num(2 ** i), fmt_num(2 ** (i + 1)), fmt_num(n),
                100.0 * n / tasks, 100.0 * cum / tasks))
        return lines

    def record(self, row, cmd):
        row['command'] = ' '.join(cmd)
        self.rows.append(row)
        self.done += 1

    def closed(self, work, backend, rep):
        """One closed-loop run: wrk -t1 -c64 (or the generator's closed
        loop)."""
        secs = self.a.closed_seconds
        row = dict(work=work, loop='closed', backend=backend, rep=rep,
                   load=float('nan'), target_rate=float('nan'),
                   status='ok')
        self.progress('%s closed loop, %s' % (work, backend))
        cmd = []
        srv = None
        try:
            srv = self.server(backend, work, secs)
            url = 'http://127.0.0.1:%d/' % srv.port
            if self.wrk:
                cmd = [self.wrk, '-t1', '-c64', '-d%ds' % secs, '--latency',
                       url]
            else:
                cmd = [self.loadgen, '--port', str(srv.port), '--rate', '0',
                       '--connections', '64', '--warmup', '0.5',
                       '--duration', str(secs), '--mark-pid',
                       str(srv.proc.pid)]
            if self.wrk:
                srv.mark()
                out = run_client(cmd, secs + 30)
                srv.mark()
                row.update(parse_wrk(out))
            else:
                out = run_client(cmd, secs + DRAIN + 30)
                row.update(parse_loadgen(out))
            time.sleep(0.05)  # let the server print its second mark
            code = srv.stop()
            row.update(srv.window())
            if code != 0:
                raise RunError('server exit %s: %s' % (code, srv.stderr()))
            if row.get('errors'):
                raise RunError('%d errors' % row['errors'])
        except RunError as e:
            row['status'] = str(e)
            self.failures.append('%s closed loop, %s, run %d: %s (%s)' % (
                work, backend, rep + 1, e, ' '.join(cmd or (srv.cmd if srv
                                                            else []))))
        finally:
            if srv and srv.proc.poll() is None:
                srv.stop()
        self.record(row, cmd)
        return row

    def open(self, work, backend, rep, load, rate):
        """One open-loop run at `rate` requests a second."""
        a = self.a
        row = dict(work=work, loop='open', backend=backend, rep=rep,
                   load=load, target_rate=rate, status='ok')
        self.progress('%s at %.0f req/s, %s' % (work, rate, backend))
        cmd = []
        srv = None
        try:
            srv = self.server(backend, work, a.warmup + a.seconds + DRAIN)
            cmd = [self.loadgen, '--port', str(srv.port),
                   '--rate', '%.1f' % rate,
                   '--connections', str(a.connections),
                   '--warmup', str(a.warmup), '--duration', str(a.seconds),
                   '--drain', str(DRAIN), '--mark-pid', str(srv.proc.pid)]
            out = run_client(cmd, a.warmup + a.seconds + DRAIN + 30)
            row.update(parse_loadgen(out))
            time.sleep(0.05)
            code = srv.stop()
            row.update(srv.window())
            if code != 0:
                raise RunError('server exit %s: %s' % (code, srv.stderr()))
            # Unanswered requests are a result (the server fell behind;
            # the generator counted them at their latency so far), not
            # a failure; errors are.
            if row.get('errors'):
                raise RunError('%d errors' % row['errors'])
        except RunError as e:
            row['status'] = str(e)
            self.failures.append('%s at %.0f req/s, %s, run %d: %s (%s)' % (
                work, rate, backend, rep + 1, e,
                ' '.join(cmd or (srv.cmd if srv else []))))
        finally:
            if srv and srv.proc.poll() is None:
                srv.stop()
        self.record(row, cmd)
        return row


def parse_loadgen(out):
    for line in out.splitlines():
        if line.startswith('loadgen '):
            return {k: v for k, v in keyvals(line).items()
                    if isinstance(v, float)}
    raise RunError('the generator printed no result line')


# ---------------------------------------------------------------------
# Summaries


def fmt_duration(s):
    s = int(round(s))
    return '%d:%02d' % (s // 60, s % 60)


def fmt_num(v):
    """A figure for a table: thousands separated, 3 significant digits
    below 100."""
    if v is None or v != v:
        return '-'
    if abs(v) >= 100:
        return '{:,.0f}'.format(v)
    if abs(v) >= 10:
        return '%.1f' % v
    return '%.2f' % v


def fmt_range(vals):
    """"median (min-max)" of the runs' values."""
    vals = [v for v in vals if v == v]
    if not vals:
        return '-'
    if len(vals) == 1:
        return fmt_num(vals[0])
    return '%s (%s-%s)' % (fmt_num(statistics.median(vals)),
                           fmt_num(min(vals)), fmt_num(max(vals)))


def ok_rows(rows, **match):
    return [r for r in rows if r['status'] == 'ok' and
            all(r.get(k) == v for k, v in match.items())]


def table(headers, body):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *body)]
    line = '  '.join('%-*s' % (w, h) for w, h in zip(widths, headers))
    out = [line.rstrip(), '  '.join('-' * w for w in widths)]
    for r in body:
        out.append('  '.join('%-*s' % (w, c) for w, c in
                             zip(widths, r)).rstrip())
    return out


METRICS = ['achieved_rate', 'p50_us', 'p90_us', 'p99_us', 'p999_us',
           'max_us', 'mean_us', 'lag_p99_us', 'wake_p99_us', 'cpu_cores',
           'cpu_us_per_req', 'nivcsw_per_s', 'io_nivcsw_per_s']


def summarize_closed(rows, work, backends, client):
    lines = ['closed loop (%s):' % client]
    body = []
    for b in backends:
        rs = ok_rows(rows, work=work, loop='closed', backend=b)
        if not rs:
            body.append([LABELS[b], 'failed', '', '', '', ''])
            continue
        body.append([LABELS[b],
                     fmt_range([r['achieved_rate'] for r in rs]),
                     fmt_range([r.get('p50_us', float('nan')) for r in rs]),
                     fmt_range([r.get('p99_us', float('nan')) for r in rs]),
                     fmt_range([r['cpu_cores'] for r in rs]),
                     fmt_range([r['cpu_us_per_req'] for r in rs])])
    lines += table(['backend', 'req/s', 'p50 us', 'p99 us',
                    'server CPU (cores)', 'CPU us/request'], body)
    return lines


def summarize_open(rows, work, backends, loads):
    body = []
    ratios = []
    for load in loads:
        by = {}
        for b in backends:
            rs = ok_rows(rows, work=work, loop='open', backend=b, load=load)
            by[b] = rs
            if not rs:
                body.append(['%.0f%%' % (load * 100), '', LABELS[b],
                             'failed'] + [''] * 6)
                continue
            body.append(['%.0f%%' % (load * 100),
                         fmt_num(rs[0]['target_rate']), LABELS[b],
                         fmt_range([r['achieved_rate'] for r in rs]),
                         fmt_range([r['p50_us'] for r in rs]),
                         fmt_range([r['p99_us'] for r in rs]),
                         fmt_range([r['p999_us'] for r in rs]),
                         fmt_range([r['max_us'] for r in rs]),
                         fmt_range([r['cpu_cores'] for r in rs]),
                         fmt_range([r['nivcsw_per_s'] for r in rs])])
        if by.get('weft') and by.get('mutex'):
            w = statistics.median(r['p99_us'] for r in by['weft'])
            m = statistics.median(r['p99_us'] for r in by['mutex'])
            wc = statistics.median(r['cpu_cores'] for r in by['weft'])
            mc = statistics.median(r['cpu_cores'] for r in by['mutex'])
            ratios.append('%.0f%%: p99 %.2fx, CPU %.2fx' % (
                load * 100, w / m if m else float('nan'),
                wc / mc if mc else float('nan')))
    lines = table(['load', 'target/s', 'backend', 'achieved/s', 'p50 us',
                   'p99 us', 'p99.9 us', 'max us', 'CPU (cores)',
                   'invol. switches/s'], body)
    wakes = [r['wake_p99_us'] for r in ok_rows(rows, work=work, loop='open')
             if 'wake_p99_us' in r]
    if wakes:
        lines += ['', 'the generator\'s own timer wake-ups ran late by '
                  '%s us at p99 (median of the runs; max %s): latencies '
                  'near that are the machine\'s, not the server\'s' % (
                      fmt_num(statistics.median(wakes)),
                      fmt_num(max(wakes)))]
    behind = ['%s at %.0f%% (%d)' % (LABELS[r['backend']], r['load'] * 100,
                                     r['incomplete'])
              for r in ok_rows(rows, work=work, loop='open')
              if r.get('incomplete')]
    if behind:
        lines += ['', 'requests still unanswered %g s after the schedule '
                  'ended, counted at their latency then: %s' % (
                      DRAIN, ', '.join(behind))]
    if ratios:
        lines += ['', 'weft / mutex pool (medians; below 1: weft is '
                  'ahead): ' + '; '.join(ratios)]
    return lines


def summary_rows(rows):
    """summary.csv: one line per work, loop, load, backend and metric."""
    keys = []
    for r in rows:
        k = (r['work'], r['loop'], r['load'], r['backend'])
        if k not in keys:
            keys.append(k)
    out = []
    for work, loop, load, backend in keys:
        rs = [r for r in rows if r['status'] == 'ok' and r['work'] == work
              and r['loop'] == loop and r['backend'] == backend and
              (r['load'] == load or (load != load and r['load'] != r['load']))]
        for m in METRICS:
            vals = [r[m] for r in rs if m in r and r[m] == r[m]]
            if vals:
                out.append([work, loop, '' if load != load else load,
                            backend, m, statistics.median(vals), min(vals),
                            max(vals), len(vals)])
    return out


# ---------------------------------------------------------------------
# The plot (SVG written by hand: no plotting package needed)


def svg_plot(path, title, rows, work, backends):
    """p99 (solid, min-max bars) and p50 (dashed) against the target
    rate, one colour per backend, log-scale latency."""
    series = {}
    for b in backends:
        pts = []
        for load in sorted({r['load'] for r in ok_rows(rows, work=work,
                                                        loop='open',
                                                        backend=b)}):
            rs = ok_rows(rows, work=work, loop='open', backend=b, load=load)
            p99 = [r['p99_us'] for r in rs]
            pts.append((rs[0]['target_rate'], statistics.median(p99),
                        min(p99), max(p99),
                        statistics.median(r['p50_us'] for r in rs)))
        if pts:
            series[b] = pts
    if not series:
        return False
    W, H, L, R, T, B = 780, 440, 95, 150, 40, 50
    xs = [p[0] for s in series.values() for p in s]
    ys = [v for s in series.values() for p in s for v in p[1:]]
    x0, x1 = 0.0, max(xs) * 1.05
    y0 = 10 ** math.floor(math.log10(max(min(ys), 1.0)))
    y1 = 10 ** math.ceil(math.log10(max(ys) * 1.01))

    def px(x):
        return L + (x - x0) / (x1 - x0) * (W - L - R)

    def py(y):
        y = max(y, y0)
        return T + (1 - (math.log10(y) - math.log10(y0)) /
                    (math.log10(y1) - math.log10(y0))) * (H - T - B)

    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
         'font-family="sans-serif" font-size="12">' % (W, H),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="22" font-size="14">%s</text>' % (L, esc(title))]
    # Grid and axes: a line per power of ten, ticks at 2 and 5 too.
    d = y0
    while d <= y1 * 1.0001:
        for m in (1, 2, 5):
            v = d * m
            if v > y1 * 1.0001:
                break
            o.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" '
                     'stroke="#ddd"/>' % (L, W - R, py(v), py(v)))
            o.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (
                L - 6, py(v) + 4, '{:,.0f}'.format(v) if v >= 1 else
                '%g' % v))
        d *= 10
    step = nice_step(x1 / 6)
    v = 0.0
    while v <= x1:
        o.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#eee"/>'
                 % (px(v), px(v), T, H - B))
        o.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (
            px(v), H - B + 16, '{:,.0f}'.format(v)))
        v += step
    o.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" '
             'stroke="black"/>' % (L, T, W - L - R, H - T - B))
    o.append('<text x="%d" y="%d" text-anchor="middle">target rate '
             '(requests/s)</text>' % ((L + W - R) // 2, H - 12))
    o.append('<text x="14" y="%d" text-anchor="middle" transform="rotate('
             '-90 14 %d)">latency (us, log scale)</text>' % (
                 (T + H - B) // 2, (T + H - B) // 2))
    for i, (b, pts) in enumerate(series.items()):
        c = COLORS[b]
        # Each backend's points a few pixels apart, so that bars at the
        # same rate do not hide each other.
        dx = (i - (len(series) - 1) / 2) * 5

        def pxo(x):
            return px(x) + dx
        o.append('<polyline fill="none" stroke="%s" stroke-width="2" '
                 'points="%s"/>' % (c, ' '.join(
                     '%.1f,%.1f' % (pxo(p[0]), py(p[1])) for p in pts)))
        o.append('<polyline fill="none" stroke="%s" stroke-width="1" '
                 'stroke-dasharray="4 3" points="%s"/>' % (c, ' '.join(
                     '%.1f,%.1f' % (pxo(p[0]), py(p[4])) for p in pts)))
        for p in pts:
            o.append('<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" '
                     'stroke="%s"/>' % (pxo(p[0]), pxo(p[0]), py(p[2]),
                                        py(p[3]), c))
            o.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>' % (
                pxo(p[0]), py(p[1]), c))
        ly = T + 10 + 20 * i
        o.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" '
                 'stroke-width="2"/>' % (W - R + 12, W - R + 36, ly, ly, c))
        o.append('<text x="%d" y="%d">%s</text>' % (W - R + 42, ly + 4,
                                                    esc(LABELS[b])))
    ly = T + 10 + 20 * len(series) + 10
    o.append('<text x="%d" y="%d" font-size="11">solid: p99 (median, '
             '</text>' % (W - R + 12, ly))
    o.append('<text x="%d" y="%d" font-size="11">bars: min-max)</text>' % (
        W - R + 12, ly + 14))
    o.append('<text x="%d" y="%d" font-size="11">dashed: p50</text>' % (
        W - R + 12, ly + 28))
    o.append('</svg>')
    with open(path, 'w') as f:
        f.write('\n'.join(o) + '\n')
    return True


def nice_step(raw):
    e = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * e >= raw:
            return m * e
    return 10 * e


def esc(s):
    return (s.replace('&', '&amp;').replace('<', '&lt;')
            .replace('>', '&gt;'))


# ---------------------------------------------------------------------


def parse_args():
    ap = argparse.ArgumentParser(
        usage='%(prog)s [quick|full|smoke] [options]', description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('mode', nargs='?', default='quick', choices=list(MODES))
    ap.add_argument('--build', default=os.path.join(ROOT, 'build-bench'))
    ap.add_argument('--work')
    ap.add_argument('--backends', default=','.join(BACKENDS))
    ap.add_argument('--rates')
    ap.add_argument('--reps', type=int)
    ap.add_argument('--seconds', type=float)
    ap.add_argument('--warmup', type=float)
    ap.add_argument('--connections', type=int, default=32)
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--capacity', default='')
    ap.add_argument('--closed-seconds', type=int)
    ap.add_argument('--closed-reps', type=int)
    ap.add_argument('--no-closed', action='store_true')
    ap.add_argument('--out', default=os.path.join(ROOT, 'results'))
    a = ap.parse_args()
    m = MODES[a.mode]
    a.work = a.work.split(',') if a.work else m['work']
    for w in a.work:
        try:
            ok = w in WORK_TITLES or 0 <= float(w) <= 1e6
        except ValueError:
            ok = False
        if not ok:
            ap.error('--work: expected light, heavy, mix or microseconds '
                     '(0 to 1000000), got %s' % w)
    a.backends = a.backends.split(',')
    bad = [b for b in a.backends if b not in LABELS]
    if bad or not a.backends:
        ap.error('--backends: expected some of %s, got %s' % (
            ', '.join(LABELS), ','.join(bad) or 'nothing'))
    try:
        a.rates = ([float(x) for x in a.rates.split(',')] if a.rates
                   else m['rates'])
    except ValueError:
        ap.error('--rates: expected fractions such as 0.1,0.5,0.9, got %s'
                 % a.rates)
    if any(not 0 < r <= 2 for r in a.rates):
        ap.error('--rates: each fraction of capacity must be in (0, 2]')
    for k in ('reps', 'seconds', 'warmup', 'closed_seconds', 'closed_reps'):
        if getattr(a, k) is None:
            setattr(a, k, m[k])
    if a.reps < 1 or a.seconds <= 0 or a.warmup < 0 or a.connections < 1 \
            or a.workers < 1:
        ap.error('--reps, --seconds, --connections and --workers must be '
                 'positive and --warmup at least 0')
    caps = {}
    for item in filter(None, a.capacity.split(',')):
        try:
            w, v = item.split('=')
            caps[w] = float(v)
        except ValueError:
            ap.error('--capacity: expected WORK=RATE,..., got %s' % item)
    a.capacity = caps
    if a.mode == 'smoke':
        a.no_closed = True
        a.capacity = {w: SMOKE_RATE for w in a.work}
        a.rates = [1.0]
    if a.no_closed:
        missing = [w for w in a.work if w not in a.capacity]
        if missing:
            ap.error('--no-closed needs --capacity for %s' %
                     ', '.join(missing))
    return a


def estimate(a):
    closed = 0 if a.no_closed else (
        len(a.work) * len(a.backends) * a.closed_reps *
        (a.closed_seconds + START_COST))
    opened = (len(a.work) * len(a.backends) * len(a.rates) * a.reps *
              (a.warmup + a.seconds + START_COST))
    return closed + opened, (0 if a.no_closed else
                             len(a.work) * len(a.backends) * a.closed_reps) + \
        len(a.work) * len(a.backends) * len(a.rates) * a.reps


def main():
    a = parse_args()
    build = os.path.abspath(a.build)
    for prog in ('server', 'loadgen'):
        if not os.access(os.path.join(build, 'bench', 'server', prog),
                         os.X_OK):
            sys.exit('%s: no bench/server/%s in %s: configure it with meson '
                     'setup -Dbenchmarks=true and build it first' % (
                         sys.argv[0], prog, build))
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        return run(a, build)
    except KeyboardInterrupt:
        return 130
    finally:
        kill_children()


def run(a, build):
    est, count = estimate(a)
    b = Bench(a, build)
    b.total = count
    if a.mode == 'smoke':
        head = []
    else:
        now, head = suite().header(build)
    client = ('wrk -t1 -c64, %d s, %d run%s per backend' % (
        a.closed_seconds, a.closed_reps, '' if a.closed_reps == 1 else 's')
        if b.wrk else 'wrk absent: the generator\'s closed loop, 64 '
        'connections, %d s' % a.closed_seconds)
    if a.mode == 'smoke':
        head.append('server benchmark, smoke: each backend at %d req/s for '
                    '%g s, no errors allowed' % (SMOKE_RATE, a.seconds))
    else:
        head.append('server benchmark, %s mode: work %s; backends %s, %d '
                    'workers; open loop at %s of capacity, %d run%s each '
                    'of %g s after %g s warm-up, %d connections, '
                    'interleaved; estimated length %s' % (
                        a.mode, ','.join(a.work), ','.join(a.backends),
                        a.workers,
                        ','.join('%g%%' % (r * 100) for r in a.rates),
                        a.reps, '' if a.reps == 1 else 's', a.seconds,
                        a.warmup, a.connections, fmt_duration(est)))
    print('\n'.join(head))
    print()
    sys.stdout.flush()

    # One calibration for every server of the run: the same work loop
    # length for every backend.
    cal = subprocess.run([os.path.join(build, 'bench', 'server', 'server'),
                          '--calibrate'], capture_output=True, text=True,
                         timeout=30)
    b.iters_per_us = keyvals(cal.stdout)['iters_per_us']

    report = []
    for work in a.work:
        lines = ['## work %s (%s)' % (work, WORK_TITLES.get(
            work, '%s us requests' % work)), '']
        if not a.no_closed:
            for rep in range(a.closed_reps):
                for be in rotate(a.backends, rep):
                    b.closed(work, be, rep)
            if 'mutex' not in a.backends and work not in a.capacity:
                for rep in range(a.closed_reps):
                    b.closed(work, 'mutex', rep)
            b.clear()
            lines += summarize_closed(b.rows, work, a.backends, client)
            lines.append('')
        if work in a.capacity:
            cap = a.capacity[work]
            how = 'given'
        else:
            rs = ok_rows(b.rows, work=work, loop='closed', backend='mutex')
            if not rs:
                lines.append('no capacity: every closed-loop run of the '
                             'mutex pool failed')
                print('\n'.join(lines))
                report += lines
                continue
            cap = statistics.median(r['achieved_rate'] for r in rs)
            how = 'the mutex pool\'s closed-loop median'
        for rep in range(a.reps):
            for load in a.rates:
                for be in rotate(a.backends, rep):
                    b.open(work, be, rep, load, cap * load)
        b.clear()
        if a.mode != 'smoke':
            lines.append('open loop: capacity %s req/s (%s); latency from '
                         'the intended send time, median (min-max) of %d '
                         'runs' % (fmt_num(cap), how, a.reps))
            lines += summarize_open(b.rows, work, a.backends, a.rates)
            lines.append('')
            if 'weft' in a.backends:
                lines += b.latency(work, cap * 0.5)
                lines.append('')
        print('\n'.join(lines))
        sys.stdout.flush()
        report += lines

    elapsed = time.monotonic() - b.started
    tail = ['Took %s.' % fmt_duration(elapsed)]
    try:
        with open('/proc/loadavg') as f:
            tail[0] += ' Load average at the end: %s.' % ' '.join(
                f.read().split()[:3])
    except OSError:
        pass
    if b.failures:
        tail += ['', 'FAILURES (each ends with the command that reproduces '
                 'it):'] + ['- ' + f for f in b.failures]
    if a.mode == 'smoke':
        for r in b.rows:
            print('%s: %s, %s req/s, p99 %s us' % (
                r['backend'], r['status'], fmt_num(r.get('achieved_rate')),
                fmt_num(r.get('p99_us'))))
        print('\n'.join(tail))
        return 1 if b.failures else 0
    outdir = os.path.join(a.out, now.strftime('%Y-%m-%dT%H%M%SZ') +
                          '-server-' + a.mode)
    os.makedirs(outdir, exist_ok=True)
    cols = ['work', 'loop', 'backend', 'rep', 'load', 'target_rate'] + \
        METRICS + ['errors', 'incomplete', 'status', 'command']
    with open(os.path.join(outdir, 'runs.csv'), 'w', newline='') as f:
        wr = csv.DictWriter(f, fieldnames=cols, extrasaction='ignore')
        wr.writeheader()
        wr.writerows(b.rows)
    with open(os.path.join(outdir, 'summary.csv'), 'w', newline='') as f:
        wr = csv.writer(f)
        wr.writerow(['work', 'loop', 'load', 'backend', 'metric', 'median',
                     'min', 'max', 'runs'])
        wr.writerows(summary_rows(b.rows))
    charts = []
    for work in a.work:
        svg = os.path.join(outdir, 'server-%s.svg' % work)
        if svg_plot(svg, 'server, %s: latency against rate (%d workers)' % (
                WORK_TITLES.get(work, work), a.workers), b.rows, work,
                a.backends):
            charts.append(os.path.basename(svg))
    shown = os.path.relpath(outdir, ROOT)
    tail.append('Results: %s' % (outdir if shown.startswith('..')
                                 else shown))
    print('\n'.join(tail))
    with open(os.path.join(outdir, 'report.md'), 'w') as f:
        f.write('# weft server benchmark (%s mode)\n\n```\n%s\n```\n\n' % (
            a.mode, '\n'.join(head)))
        f.write('```\n%s\n```\n\n' % '\n'.join(report))
        for c in charts:
            f.write('![%s](%s)\n\n' % (c, c))
        f.write('\n'.join(tail) + '\n')
    return 1 if b.failures else 0


def rotate(xs, k):
    k %= len(xs)
    return xs[k:] + xs[:k]


if __name__ == '__main__':
    sys.exit(main())
