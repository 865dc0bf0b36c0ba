#!/usr/bin/env python3
"""Runs weft's benchmark suite against its peers and prints the tables.

usage: bench/run.py [quick|full] [--build DIR] [--only W,W...] [--reps N]
                    [--out DIR] [--publish] [--list]

  quick      small sizes, 3 processes per figure: under 2 minutes on 2 cores
  full       the real sizes, 5 processes per figure (3 for the UTS trees);
             its estimated length is printed first
  --build    the Meson build directory, configured with -Dbenchmarks=true
             (default: build-bench)
  --only     run only these workloads (see --list)
  --reps     processes per figure, instead of the mode's
  --out      where results go (default: results/); each run makes a
             folder named after its date, with a CSV of every measurement
             per workload, summary.csv, an SVG chart per workload (when
             gnuplot is installed) and report.md (everything printed,
             in Markdown)
  --publish  also write bench/RESULTS.md and bench/results/ (the charts
             and CSV files it links) from this run, and the summary in
             README.md's Results section
  --list     print the workloads, their implementations and the
             estimated length of each mode, and exit

First it prints the date, the machine and its real parallelism (two
CPU-bound loops at once, bench_parallelism), then one table per workload.
Every implementation of a workload runs as separate processes,
interleaved (A B C, B C A, ...). Each process runs the workload once to
warm up and then times it a few times (the full-size UTS trees: once,
without the warm-up). A table's median is the median of
the processes' medians; min - max spans every timed run of every
process; "peer/weft" divides each figure by weft's (every figure is
lower-is-better, so above 1 means weft is ahead); peak RSS is the
largest resident size (VmHWM) a process of that row reached.

The programs live in bench/workloads/ (one per implementation) and
bench/seeds/; bench/README.md describes each workload and peer.
"""
import argparse
import csv
import datetime
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, 'bench')


class Impl:
    """An implementation: a program and what to say when it is absent."""

    def __init__(self, label, path, absent_hint, python=False):
        self.label = label
        self.path = path          # relative to the build dir, or to bench/
        self.absent_hint = absent_hint
        self.python = python

    def command(self, build):
        if self.python:
            return [sys.executable, os.path.join(HERE, self.path)]
        return [os.path.join(build, 'bench', self.path)]

    def present(self, build):
        return os.access(self.command(build)[-1], os.X_OK if not self.python
                         else os.R_OK)


IMPLS = {
    'weft': Impl('weft', 'workloads/bench_weft', 'not built'),
    'seq': Impl('sequential C', 'workloads/bench_seq', 'not built'),
    'tbb': Impl('oneTBB', 'workloads/bench_tbb',
                'absent (install libtbb-dev and g++, then reconfigure)'),
    'omp-gcc': Impl('OpenMP, gcc/libgomp', 'workloads/bench_omp_gcc',
                    'absent (install gcc, then reconfigure)'),
    'omp-clang': Impl('OpenMP, clang/libomp', 'workloads/bench_omp_clang',
                      'absent (install clang and libomp-dev, then '
                      'reconfigure)'),
    'mutex': Impl('mutex+condvar pool', 'workloads/bench_mutex', 'not built'),
    'weft-seeds': Impl('weft', 'seeds/bench_seeds', 'not built'),
    'python': Impl('Python ThreadPoolExecutor', 'seeds/bench_seeds.py',
                   'absent (install python3)', python=True),
}


class Row:
    """One line of a table: an implementation run with some arguments."""

    def __init__(self, impl, label=None, workload=None, args=()):
        self.impl = impl
        self.label = label or IMPLS[impl].label
        self.workload = workload  # the program's workload name, if not
        self.args = list(args)    # the table's


class Workload:
    """A table: what is measured (cases: output key, name, unit), the rows,
    the arguments per mode, about how long one process takes on average
    (est, seconds, as measured on a shared 2-core machine), timed runs per
    process and processes per figure where they differ from the
    defaults."""

    def __init__(self, name, title, cases, rows, args, est, runs=None,
                 reps=None, notes=(), parser='keys', program_workload=None,
                 speedup_of=None):
        self.name = name
        self.title = title
        self.cases = cases
        self.rows = rows
        self.args = args
        self.est = est
        self.runs = runs or {'quick': 2, 'full': 3}
        self.reps = reps or {}  # processes per figure, if not REPS
        self.notes = list(notes)
        self.parser = parser
        self.program_workload = program_workload or name
        # a workload with the same sizes on all threads: a note gives each
        # implementation's speedup, this table's time over that one's
        self.speedup_of = speedup_of


RECURSIVE = ['weft', 'seq', 'tbb', 'omp-gcc', 'omp-clang', 'mutex']
POOLS = ['weft', 'tbb', 'mutex']
NO_OMP = ('OpenMP: not measured; a thread outside an OpenMP team has no '
          'way to hand it a task')


def rows(*impls):
    return [Row(i) for i in impls]


SEEDS_PATTERNS = ['submit_result', 'map', 'as_completed', 'follow_up',
                  'done_callback', 'map_async_follow_up', 'pipeline']

WORKLOADS = [
    Workload('fib', 'fib(n), no cutoff: spawn+wait throughput, all threads',
             [('seconds', 'time', 's')], rows(*RECURSIVE),
             {'quick': ['-n', '27'], 'full': ['-n', '32']},
             {'quick': 0.35, 'full': 3.3}),
    Workload('fib-1', 'fib(n) on one thread: overhead per task over the '
             'sequential code, (time - sequential time) / tasks',
             [('overhead_ns', 'overhead', 'ns/task')],
             rows('weft', 'tbb', 'omp-gcc', 'omp-clang', 'mutex'),
             {'quick': ['-n', '27', '-t', '1', '-b'],
              'full': ['-n', '32', '-t', '1', '-b']},
             {'quick': 0.15, 'full': 1.5}, program_workload='fib',
             speedup_of='fib'),
    Workload('nqueens', 'nqueens(n): a task per partial board',
             [('seconds', 'time', 's')], rows(*RECURSIVE),
             {'quick': ['-n', '12'], 'full': ['-n', '13']},
             {'quick': 0.3, 'full': 3.1}),
    Workload('uts-geo', 'UTS-style geometric tree (T1L-like): '
             'unbalanced, shallow',
             [('seconds', 'time', 's')], rows(*RECURSIVE),
             {'quick': ['-s', 'geo-quick'], 'full': ['-s', 'geo', '-c']},
             {'quick': 0.8, 'full': 9.7}, runs={'quick': 2, 'full': 1},
             reps={'full': 3}, program_workload='uts'),
    Workload('uts-bin', 'UTS-style binomial tree (T3L-like): '
             'unbalanced, deep and thin',
             [('seconds', 'time', 's')], rows(*RECURSIVE),
             {'quick': ['-s', 'bin-quick'], 'full': ['-s', 'bin', '-c']},
             {'quick': 0.5, 'full': 10.2}, runs={'quick': 2, 'full': 1},
             reps={'full': 3}, program_workload='uts'),
    Workload('skynet', 'skynet: a 10-ary tree of tasks to n leaves',
             [('seconds', 'time', 's')], rows(*RECURSIVE),
             {'quick': ['-n', '1000000'], 'full': ['-n', '1000000']},
             {'quick': 0.8, 'full': 2.1}, runs={'quick': 1, 'full': 3}),
    Workload('matmul', 'recursive blocked matmul, n x n doubles '
             '(work-bound)',
             [('seconds', 'time', 's')], rows(*RECURSIVE),
             {'quick': ['-n', '512'], 'full': ['-n', '1024']},
             {'quick': 0.25, 'full': 1.7}),
    Workload('external', 'external submit: the main thread submits n '
             'empty detached tasks; until the last has run',
             [('ns_per_task', 'until all ran', 'ns/task'),
              ('submit_ns', 'submit loop', 'ns/task')],
             rows(*POOLS),
             {'quick': ['-n', '200000'], 'full': ['-n', '1000000']},
             {'quick': 0.42, 'full': 2.2}, notes=[NO_OMP]),
    Workload('roundtrip-parked', 'round trip to a parked pool: submit one '
             'empty task from outside and wait for it, 1 ms apart',
             [('p50_us', 'p50', 'us'), ('p99_us', 'p99', 'us'),
              ('p999_us', 'p99.9', 'us')],
             rows(*POOLS),
             {'quick': ['-n', '200', '-p', '1000'],
              'full': ['-n', '3000', '-p', '1000']},
             {'quick': 0.26, 'full': 3.6}, runs={'quick': 1, 'full': 1},
             notes=[NO_OMP], program_workload='roundtrip'),
    Workload('roundtrip-hot', 'round trip to a hot pool: the same, back to '
             'back (the workers are still searching)',
             [('p50_us', 'p50', 'us'), ('p99_us', 'p99', 'us'),
              ('p999_us', 'p99.9', 'us')],
             rows(*POOLS),
             {'quick': ['-n', '20000'], 'full': ['-n', '100000']},
             {'quick': 0.55, 'full': 2.4}, runs={'quick': 1, 'full': 1},
             notes=[NO_OMP], program_workload='roundtrip'),
    Workload('chain', 'chain of dependent tasks: each task submits the '
             'next',
             [('ns_per_hop', 'per hop', 'ns')],
             [Row('weft'),
              Row('weft', 'weft, then() links', workload='chain-then'),
              Row('tbb'), Row('omp-gcc'), Row('omp-clang'), Row('mutex')],
             {'quick': ['-n', '200000'], 'full': ['-n', '1000000']},
             {'quick': 0.3, 'full': 1.9}),
    Workload('idle', 'idle CPU: % of one core over a window that starts '
             '100 ms after a burst; then with one task every 1 ms',
             [('idle_pct', 'idle', '% core'),
              ('trickle_pct', 'one task / ms', '% core')],
             rows('weft', 'tbb', 'omp-gcc', 'omp-clang', 'mutex'),
             {'quick': ['-w', '0.2'], 'full': ['-w', '1']},
             {'quick': 0.43, 'full': 2.2}, runs={'quick': 1, 'full': 1},
             notes=['OpenMP: idle only (its default wait policy after a '
                    'parallel region); it cannot be handed one task from '
                    'outside']),
    Workload('pipeline', 'three-stage pipeline: n items, 64 in flight, '
             'three parallel stages of hashing',
             [('ns_per_item', 'per item', 'ns')],
             rows(*POOLS),
             {'quick': ['-n', '50000'], 'full': ['-n', '500000']},
             {'quick': 0.5, 'full': 3.6},
             notes=['oneTBB: tbb::parallel_pipeline; ' + NO_OMP]),
    Workload('seeds', 'the tutorials\' patterns with trivial tasks '
             '(bench/seeds): weft against the Python originals',
             [(p, p, 'ns/task') for p in SEEDS_PATTERNS],
             [Row('weft-seeds'), Row('python')],
             {'quick': ['-n', '2000', '-r', '3', '-m'],
              'full': ['-n', '20000', '-r', '5', '-m']},
             {'quick': 1.6, 'full': 3.8}, parser='seeds'),
]

REPS = {'quick': 3, 'full': 5}
TIMEOUT = {'quick': 120, 'full': 600}


def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True,
                              timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ''


def machine_line():
    model = ''
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0))
    mem = ''
    try:
        with open('/proc/meminfo') as f:
            kb = int(f.readline().split()[1])
            mem = ', %.0f GiB RAM' % (kb / 2**20)
    except (OSError, ValueError, IndexError):
        pass
    return ('machine: %s, %d CPUs (%d usable)%s, Linux %s' %
            (model or platform.machine(), os.cpu_count(), usable, mem,
             platform.release()))


def versions():
    parts = []
    gcc = sh(['gcc', '-dumpfullversion'])
    if gcc:
        parts.append('gcc ' + gcc)
    clang = sh(['clang', '-dumpversion'])
    if clang:
        parts.append('clang ' + clang)
    tbb = sh(['pkg-config', '--modversion', 'tbb'])
    if tbb:
        parts.append('oneTBB ' + tbb)
    parts.append('Python ' + platform.python_version())
    rev = sh(['git', '-C', ROOT, 'describe', '--always', '--dirty'])
    if rev:
        parts.append('weft ' + rev)
    return ', '.join(parts)


def parse_keys(out, cases):
    """key=value lines, one per timed run, and a last "rss
    peak_rss_kb=N" line -> ({case key: [values]}, results seen, RSS).
    seconds= is always kept (for speedups)."""
    vals = {k: [] for k, _, _ in cases}
    vals.setdefault('seconds', [])
    results, rss = set(), 0
    for line in out.splitlines():
        fields = dict(f.split('=', 1) for f in line.split()[1:] if '=' in f)
        for k in vals:
            if k in fields:
                vals[k].append(float(fields[k]))
        if 'result' in fields:
            results.add(fields['result'])
        if 'peak_rss_kb' in fields:
            rss = int(fields['peak_rss_kb'])
    return vals, results, rss


def parse_seeds(out, cases):
    """"PATTERN MEDIAN MIN MAX" lines and "peak_rss_kb N" (bench/seeds)."""
    vals = {k: [] for k, _, _ in cases}
    rss = 0
    for line in out.splitlines():
        f = line.split()
        if len(f) == 4 and f[0] in vals:
            vals[f[0]] = [float(f[1]), float(f[2]), float(f[3])]
        elif len(f) == 2 and f[0] == 'peak_rss_kb':
            rss = int(f[1])
    return vals, set(), rss


def run_measured(cmd, timeout):
    """Runs cmd; returns (stdout, error or None). A watchdog kills it after
    timeout seconds; the runner itself sleeps in wait4 meanwhile."""
    with tempfile.TemporaryFile(mode='w+') as fout, \
            tempfile.TemporaryFile(mode='w+') as ferr:
        try:
            p = subprocess.Popen(cmd, stdout=fout, stderr=ferr,
                                 start_new_session=True)
        except OSError as e:
            return '', str(e)
        expired = threading.Event()

        def kill():
            expired.set()
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        watchdog = threading.Timer(timeout, kill)
        watchdog.start()
        p.wait()
        watchdog.cancel()
        fout.seek(0)
        ferr.seek(0)
        out, err = fout.read(), ferr.read()
    if expired.is_set():
        return out, 'TIMEOUT after %d s (a hang?)' % timeout
    if p.returncode != 0:
        last = (err.strip().splitlines() or [''])[-1]
        if p.returncode < 0:
            return out, 'killed by signal %d %s' % (-p.returncode, last)
        return out, 'exit %d: %s' % (p.returncode, last)
    return out, None


class Progress:
    """Progress on stderr: processes done, elapsed, estimated time left."""

    def __init__(self, total_est):
        self.total_est = total_est
        self.done_est = 0.0
        self.start = time.monotonic()
        self.tty = sys.stderr.isatty()

    def show(self, what):
        elapsed = time.monotonic() - self.start
        left = self.total_est - self.done_est
        if self.done_est > 0:  # scale by how the estimates did so far
            left *= elapsed / self.done_est
        line = '[%s elapsed, about %s left] %s' % (
            fmt_duration(elapsed), fmt_duration(left), what)
        if self.tty:
            sys.stderr.write('\r\033[K' + line)
        else:
            sys.stderr.write(line + '\n')
        sys.stderr.flush()

    def advance(self, est):
        self.done_est += est

    def clear(self):
        if self.tty:
            sys.stderr.write('\r\033[K')
            sys.stderr.flush()


def fmt_duration(s):
    s = int(round(s))
    return '%d:%02d' % (s // 60, s % 60)


def fmt(v):
    if v is None:
        return '-'
    a = abs(v)
    if a >= 1000:
        return '%.0f' % v
    if a >= 100:
        return '%.1f' % v
    if a >= 10:
        return '%.2f' % v
    if a >= 1:
        return '%.3f' % v
    if a == 0:
        return '0'
    return '%.3g' % v


def fmt_rss(kb):
    return '%.1f MB' % (kb / 1024) if kb else '-'


class Result:
    """What the processes of one row gave."""

    def __init__(self):
        self.medians = {}  # case key -> [median per process]
        self.runs = {}     # case key -> [every run]
        self.rss = 0
        self.errors = []
        self.results = set()


def run_workload(w, mode, reps, build, progress, raw):
    present = [r for r in w.rows if IMPLS[r.impl].present(build)]
    res = {id(r): Result() for r in present}
    parse = parse_seeds if w.parser == 'seeds' else parse_keys
    for rep in range(reps):
        order = present[rep % len(present):] + present[:rep % len(present)]
        for row in order:
            impl = IMPLS[row.impl]
            cmd = impl.command(build)
            if w.parser == 'seeds':  # bench/seeds: its own options
                cmd += w.args[mode] + row.args
            else:
                cmd.append(row.workload or w.program_workload)
                cmd += w.args[mode] + row.args + ['-r', str(w.runs[mode])]
            progress.show('%s: %s (%d/%d)' % (w.name, row.label, rep + 1,
                                              reps))
            t0 = time.monotonic()
            out, err = run_measured(cmd, TIMEOUT[mode])
            wall = time.monotonic() - t0
            progress.advance(w.est[mode])
            r = res[id(row)]
            if err:
                r.errors.append('%s: %s' % (err, ' '.join(cmd)))
                continue
            vals, results, rss = parse(out, w.cases)
            r.rss = max(r.rss, rss)
            r.results |= results
            for key, values in vals.items():
                if not values:
                    continue
                if w.parser == 'seeds':  # median, min, max per process
                    r.medians.setdefault(key, []).append(values[0])
                    r.runs.setdefault(key, []).extend(values[1:])
                else:
                    r.medians.setdefault(key, []).append(
                        statistics.median(values))
                    r.runs.setdefault(key, []).extend(values)
                for i, v in enumerate(values):
                    raw.append([w.name, key, row.label, rep + 1, i + 1, v,
                                rss, '%.2f' % wall, ' '.join(cmd)])
    return present, res


def speedups(w, present, res, others):
    """The note of a workload with speedup_of: all threads over one."""
    if w.speedup_of not in others:
        return []
    o_present, o_res = others[w.speedup_of]
    parts = []
    for row in present:
        other = next((r for r in o_present if r.impl == row.impl and
                      r.workload == row.workload), None)
        one = res[id(row)].medians.get('seconds')
        if other is None or not one:
            continue
        many = o_res[id(other)].medians.get('seconds')
        if many:
            parts.append('%s %.2fx' % (row.label, statistics.median(one) /
                                       statistics.median(many)))
    if not parts:
        return []
    return ['- speedup on all threads over one (this table\'s time divided '
            'by the `%s` table\'s, same n): %s' % (w.speedup_of,
                                                   ', '.join(parts))]


def summarize(w, mode, present, res, others):
    """Table lines (Markdown) and summary rows for one workload; others
    holds the workloads run before it."""
    lines, summary, failures = [], [], []
    all_results = set()
    for r in present:
        all_results |= res[id(r)].results
    wrong = len(all_results) > 1
    weft_row = next((r for r in present if r.impl in ('weft', 'weft-seeds')),
                    None)
    lines.append('### %s: %s' % (w.name, w.title))
    lines.append('')
    args = ' '.join(w.args[mode])
    lines.append('Arguments: `%s`. Lower is better; peer/weft above 1 means '
                 'weft is ahead.' % args)
    lines.append('')
    multi = len(w.cases) > 1
    head = ['implementation', 'median', 'min - max', 'peer/weft',
            'peak RSS']
    if multi:
        head.insert(1, 'figure')
    lines.append('| ' + ' | '.join(head) + ' |')
    lines.append('|' + '|'.join(['---'] * len(head)) + '|')
    for key, name, unit in w.cases:
        base = None
        if weft_row is not None and res[id(weft_row)].medians.get(key):
            base = statistics.median(res[id(weft_row)].medians[key])
        for row in w.rows:
            cells = [row.label]
            if multi:
                cells.append(name)
            if row not in present:
                cells += [IMPLS[row.impl].absent_hint, '', '', '']
                lines.append('| ' + ' | '.join(cells) + ' |')
                summary.append([w.name, name, unit, row.label, '', '', '', '',
                                '', 'absent'])
                continue
            r = res[id(row)]
            if not r.medians.get(key):
                status = 'FAILED' if r.errors else 'n/a'
                cells += [status, '', '', fmt_rss(r.rss)]
                lines.append('| ' + ' | '.join(cells) + ' |')
                summary.append([w.name, name, unit, row.label, '', '', '', '',
                                r.rss, status.lower()])
                continue
            med = statistics.median(r.medians[key])
            lo, hi = min(r.runs[key]), max(r.runs[key])
            if base is None:
                ratio = None
            elif base > 0:
                ratio = med / base
            else:
                ratio = None
            ratio_s = ('%.2f' % ratio if ratio is not None else
                       ('weft is 0' if base == 0 else '-'))
            status = 'ok'
            if r.errors:
                status = 'some processes failed'
            if wrong and r.results:
                status = 'WRONG RESULT ' + ','.join(sorted(r.results))
            cells += ['%s %s' % (fmt(med), unit),
                      '%s - %s' % (fmt(lo), fmt(hi)), ratio_s,
                      fmt_rss(r.rss)]
            if status != 'ok':
                cells[-1] += ' (%s)' % status
            lines.append('| ' + ' | '.join(cells) + ' |')
            summary.append([w.name, name, unit, row.label, med, lo, hi,
                            '' if ratio is None else '%.4f' % ratio, r.rss,
                            status])
    for row in present:
        for e in res[id(row)].errors:
            failures.append('%s, %s: %s' % (w.name, row.label, e))
    if wrong:
        failures.append('%s: implementations disagree on the result: %s' %
                        (w.name, ', '.join(sorted(all_results))))
    lines.append('')
    notes = ['- ' + note for note in w.notes]
    if w.speedup_of:
        notes += speedups(w, present, res, others)
    if notes:
        lines += notes + ['']
    return lines, summary, failures


def plot(w, summary, outdir):
    """An SVG bar chart of the medians with min-max bars (gnuplot): one bar
    per implementation; with several figures (percentiles, patterns), one
    group of bars per figure."""
    gnuplot = shutil.which('gnuplot')
    rows = [s for s in summary if s[4] != '']
    if not gnuplot or not rows:
        return None
    labels = []
    for s in rows:
        if s[3] not in labels:
            labels.append(s[3])
    cases = [c for _, c, _ in w.cases if any(s[1] == c for s in rows)]
    value = {(s[1], s[3]): s[4:7] for s in rows}
    if len(cases) > 1:  # a group per figure, a bar per implementation
        groups, bars = cases, labels
    else:
        groups, bars = labels, cases
    dat = os.path.join(outdir, w.name + '.dat')
    with open(dat, 'w') as f:
        for g in groups:
            cols = ['"%s"' % g.replace('"', "'")]
            for b in bars:
                v = value.get((g, b) if len(cases) > 1 else (b, g))
                cols += ['%g' % x for x in v] if v else ['NaN'] * 3
            f.write(' '.join(cols) + '\n')
    values = [x for s in rows for x in s[4:7]]
    log = min(values) > 0 and max(values) / min(values) > 30
    svg = os.path.join(outdir, w.name + '.svg')
    script = [
        'set terminal svg size 800,450 dynamic font "sans,11"',
        'set output "%s"' % svg,
        'set title "%s (%s; lower is better)" noenhanced' % (
            w.name, w.cases[0][2]),
        'set style data histograms',
        'set style histogram errorbars gap 1 lw 1',
        'set style fill solid 0.7 border -1',
        'set bmargin 6',
        'set xtics rotate by 25 right noenhanced nomirror',
        'set grid ytics',
        'set key outside right top noenhanced' if len(bars) > 1 else
        'unset key',
        'set logscale y' if log else 'set yrange [0:*]',
    ]
    plots = []
    for i, b in enumerate(bars):
        col = 2 + 3 * i
        plots.append('"%s" using %d:%d:%d%s title "%s"' % (
            dat, col, col + 1, col + 2, ':xtic(1)' if i == 0 else '',
            b.replace('"', "'")))
    script.append('plot ' + ', '.join(plots))
    try:
        subprocess.run([gnuplot], input='\n'.join(script) + '\n',
                       text=True, capture_output=True, timeout=60,
                       check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    finally:
        os.remove(dat)
    return svg


def latency_note(w, mode, build):
    """Lines for a round-trip table: weft's schedule-latency histogram
    (weft_stats.sched_latency) from one more process run with
    WEFT_BENCH_STATS=1, which turns the pool's timing on. Not part of the
    timed figures: timing costs clock reads per task."""
    cmd = IMPLS['weft'].command(build) + [w.program_workload] + \
        w.args[mode] + ['-r', '1']
    env = dict(os.environ, WEFT_BENCH_STATS='1')
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True,
                           timeout=TIMEOUT[mode])
    except (OSError, subprocess.SubprocessError):
        return []
    for line in p.stderr.splitlines():
        if line.startswith('weft sched_latency'):
            pairs = [x.split(':') for x in
                     line.split(':', 1)[1].split(';')[0].split()[1:]]
            buckets = {int(b): int(c) for b, c in pairs}
            total = sum(buckets.values())
            if not total:
                return []
            cells, cum, marks = [], 0, []
            for b in sorted(buckets):
                cells.append('%s-%s: %d' % (fmt_ns(1 << b), fmt_ns(2 << b),
                                            buckets[b]))
                cum += buckets[b]
                for q in (0.5, 0.99, 0.999):
                    if cum >= q * total and q not in [m[0] for m in marks]:
                        marks.append((q, 2 << b))
            return ['weft schedule latency, submit to start (one more '
                    'process, timing on; %d tasks): %s; %s' % (
                        total, ', '.join('p%g < %s' % (q * 100, fmt_ns(v))
                                         for q, v in marks),
                        ', '.join(cells)), '']
    return []


def fmt_ns(ns):
    if ns >= 1000000:
        return '%g ms' % (ns / 1e6)
    if ns >= 1000:
        return '%g us' % (ns / 1e3)
    return '%d ns' % ns


def header(build):
    lines = []
    now = datetime.datetime.now(datetime.timezone.utc)
    lines.append('date: %s' % now.strftime('%Y-%m-%d %H:%M UTC'))
    lines.append(machine_line())
    par = os.path.join(build, 'bench', 'bench_parallelism')
    p = sh([par]) if os.access(par, os.X_OK) else ''
    lines.append(p or 'parallelism: not measured (bench_parallelism '
                 'missing)')
    try:
        load = open('/proc/loadavg').read().split()[:3]
        lines.append('load average: ' + ' '.join(load))
    except OSError:
        pass
    lines.append('versions: ' + versions())
    env = ['%s=%s' % (k, v) for k, v in sorted(os.environ.items())
           if k.startswith(('OMP_', 'GOMP_', 'KMP_', 'TBB_'))]
    if env:
        lines.append('environment: ' + ' '.join(env))
    return now, lines


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('mode', nargs='?', default='quick',
                    choices=['quick', 'full'])
    ap.add_argument('--build', default=os.path.join(ROOT, 'build-bench'))
    ap.add_argument('--only', default='')
    ap.add_argument('--reps', type=int, default=0)
    ap.add_argument('--out', default=os.path.join(ROOT, 'results'))
    ap.add_argument('--publish', action='store_true')
    ap.add_argument('--list', action='store_true')
    a = ap.parse_args()
    mode = a.mode
    build = os.path.abspath(a.build)

    workloads = WORKLOADS
    if a.only:
        names = a.only.split(',')
        unknown = [n for n in names if n not in [w.name for w in WORKLOADS]]
        if unknown:
            ap.error('unknown workload(s): %s (see --list)' %
                     ', '.join(unknown))
        workloads = [w for w in WORKLOADS if w.name in names]

    def reps_of(w):
        return a.reps or w.reps.get(mode, REPS[mode])

    def estimate(m):
        return sum(w.est[m] * (a.reps or w.reps.get(m, REPS[m])) *
                   sum(IMPLS[r.impl].present(build) for r in w.rows)
                   for w in workloads)

    if a.list:
        for w in workloads:
            print('%-17s %s' % (w.name, ', '.join(r.label for r in w.rows)))
        print('estimated length on 2 cores, with the peers '
              'built in %s: quick %s, full %s' % (
                  build, fmt_duration(estimate('quick')),
                  fmt_duration(estimate('full'))))
        return 0
    if not IMPLS['weft'].present(build):
        sys.exit('%s: no bench_weft in %s: configure it with meson setup '
                 '-Dbenchmarks=true and build it first' % (sys.argv[0],
                                                          build))

    total_est = estimate(mode)
    now, head = header(build)
    fewer = sorted(set(w.reps[mode] for w in workloads if mode in w.reps))
    n = a.reps or REPS[mode]
    head.append('mode: %s, %d process%s per figure%s, interleaved; '
                'estimated length %s on 2 cores' % (
                    mode, n, '' if n == 1 else 'es',
                    ' (%s for the UTS trees)' % fewer[0]
                    if fewer and not a.reps else '',
                    fmt_duration(total_est)))
    print('\n'.join(head))
    print()
    sys.stdout.flush()

    outdir = os.path.join(a.out, now.strftime('%Y-%m-%dT%H%M%SZ') + '-' + mode)
    os.makedirs(outdir, exist_ok=True)
    progress = Progress(total_est)
    report = ['# weft benchmark results (%s mode)' % mode, '', '```'] + \
        head + ['```', '']
    all_summary, failures, charts, others = [], [], {}, {}
    for w in workloads:
        raw = []
        present, res = run_workload(w, mode, reps_of(w), build, progress,
                                    raw)
        others[w.name] = (present, res)
        lines, summary, fails = summarize(w, mode, present, res, others)
        if w.program_workload == 'roundtrip':
            lines += latency_note(w, mode, build)
        progress.clear()
        print('\n'.join(lines))
        sys.stdout.flush()
        with open(os.path.join(outdir, w.name + '.csv'), 'w',
                  newline='') as f:
            wr = csv.writer(f)
            wr.writerow(['workload', 'figure', 'implementation', 'process',
                         'run', 'value', 'peak_rss_kb', 'process_wall_s',
                         'command'])
            wr.writerows(raw)
        svg = plot(w, summary, outdir)
        report += lines
        if svg:
            charts[w.name] = os.path.basename(svg)
            report += ['![%s](%s)' % (w.name, os.path.basename(svg)), '']
        all_summary += summary
        failures += fails
    progress.clear()
    with open(os.path.join(outdir, 'summary.csv'), 'w', newline='') as f:
        wr = csv.writer(f)
        wr.writerow(['workload', 'figure', 'unit', 'implementation',
                     'median', 'min', 'max', 'peer_over_weft',
                     'peak_rss_kb', 'status'])
        wr.writerows(all_summary)
    elapsed = time.monotonic() - progress.start
    shown = os.path.relpath(outdir, ROOT)
    if shown.startswith('..'):
        shown = outdir
    tail = ['Took %s. Results: %s' % (fmt_duration(elapsed), shown)]
    if failures:
        tail.append('')
        tail.append('FAILURES (each line ends with the command that '
                    'reproduces it):')
        tail += ['- ' + f for f in failures]
    print('\n'.join(tail))
    report += ['Took %s.' % fmt_duration(elapsed)]
    if failures:
        report += ['', 'Failures:', ''] + ['- ' + f for f in failures]
    with open(os.path.join(outdir, 'report.md'), 'w') as f:
        f.write('\n'.join(report) + '\n')
    if a.publish:
        publish(outdir, report, head, all_summary, workloads, charts)
    return 1 if failures else 0


README_START = ('<!-- The rest of this section is written by '
                'tools/bench.sh full --publish. -->')
README_END = '<!-- End of the published results. -->'
SUITE_START = '<!-- The suite: written by tools/bench.sh full --publish. -->'
SUITE_END = '<!-- End of the suite. -->'
SUMMARY_COLUMNS = ['oneTBB', 'OpenMP, gcc/libgomp', 'OpenMP, clang/libomp',
                   'mutex+condvar pool', 'Python ThreadPoolExecutor',
                   'sequential C']


def readme_summary(head, summary, workloads, charts):
    """The README's Results section: the header lines, weft's median and
    each peer's ratio per figure, links to the charts."""
    cols = [c for c in SUMMARY_COLUMNS if any(s[3] == c for s in summary)]
    lines = ['```'] + head + ['```', '',
             'weft\'s median, and each peer\'s median divided by weft\'s '
             '(above 1: weft is ahead). Full tables with min-max and peak '
             'RSS: [bench/RESULTS.md](bench/RESULTS.md).', '',
             '| workload | figure | weft | ' + ' | '.join(cols) + ' |',
             '|' + '---|' * (3 + len(cols))]
    for w in workloads:
        for key, name, unit in w.cases:
            rows = {s[3]: s for s in summary
                    if s[0] == w.name and s[1] == name}
            weft = rows.get('weft')
            if not weft or weft[4] == '':
                continue
            cells = [w.name, name, '%s %s' % (fmt(weft[4]), unit)]
            for c in cols:
                r = rows.get(c)
                if r is None:
                    cells.append('')
                elif r[9] == 'absent':
                    cells.append('absent')
                elif r[7] == '':
                    cells.append(r[9])
                else:
                    cells.append('%.2f' % float(r[7]))
            lines.append('| ' + ' | '.join(cells) + ' |')
    if charts:
        lines += ['', 'Charts: ' + ', '.join(
            '[%s](bench/results/%s)' % (n, f) for n, f in charts.items())]
    return lines


def publish(outdir, report, head, summary, workloads, charts):
    """bench/RESULTS.md and bench/results/ from this run, and the Results
    section of README.md."""
    dest = os.path.join(HERE, 'results')
    os.makedirs(dest, exist_ok=True)
    for name in os.listdir(dest):
        if name.endswith(('.svg', '.csv')):
            os.remove(os.path.join(dest, name))
    for name in os.listdir(outdir):
        if name.endswith(('.svg', '.csv')):
            shutil.copy(os.path.join(outdir, name), dest)
    text = []
    for line in report:
        if line.startswith('![') and line.endswith('.svg)'):
            name = line[line.index('](') + 2:-1]
            line = line.replace('](%s)' % name, '](results/%s)' % name)
        text.append(line)
    # Only the suite's section of RESULTS.md: the file also records other
    # measurements (the deque, the core targets, reliability runs).
    results = os.path.join(HERE, 'RESULTS.md')
    section = SUITE_START + '\n' + '\n'.join(text) + '\n' + SUITE_END
    old = open(results).read() if os.path.exists(results) else ''
    if SUITE_START in old and SUITE_END in old:
        new = (old[:old.index(SUITE_START)] + section +
               old[old.index(SUITE_END) + len(SUITE_END):])
    else:
        new = section + '\n\n' + old
    with open(results, 'w') as f:
        f.write(new)
    readme = os.path.join(ROOT, 'README.md')
    with open(readme) as f:
        old = f.read()
    if README_START in old and README_END in old:
        start = old.index(README_START) + len(README_START)
        end = old.index(README_END)
        body = readme_summary(head, summary, workloads, charts)
        with open(readme, 'w') as f:
            f.write(old[:start] + '\n\n' + '\n'.join(body) + '\n\n' +
                    old[end:])
        print('published: bench/RESULTS.md, bench/results/, README.md')
    else:
        print('published: bench/RESULTS.md, bench/results/ (README.md has '
              'no results markers)')


if __name__ == '__main__':
    sys.exit(main())
