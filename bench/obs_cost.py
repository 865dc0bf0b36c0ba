#!/usr/bin/env python3
"""What observability costs: weft's own benchmark program (bench_weft)
from two builds of the same commit, side by side, interleaved, plus the
first build with tracing on.

usage: bench/obs_cost.py --with BUILD --without BUILD [--reps N]
                         [--mode quick|full] [--only W,W...] [--no-traced]

  --with     a build with tracing compiled in (the default -Dtrace=true,
             USDT probes if sys/sdt.h was found), -Dbenchmarks=true
  --without  the same commit configured with -Dtrace=false -Dusdt=disabled
  --reps     processes per figure and variant (default 7)
  --mode     the sizes bench/run.py uses in that mode (default full)
  --only     some of: fib-1, chain, external, roundtrip-parked,
             roundtrip-hot (default all)
  --no-traced  leave out the traced variant (a traced full-size run
             records tens of millions of events and writes them as JSON)

Variants, run in rotated order (A B C, B C A, C A B, ...) for each
workload and repetition:
  compiled out   --without
  off            --with, nothing enabled: what every user pays
  traced         --with, WEFT_TRACE set (a file in a temporary directory;
                 buffers big enough to drop nothing), which also turns on
                 the schedule-latency timing
For each figure it prints the median of the processes' medians and the
range over every timed run, and for fib-1 and external the traced cost
per task (traced median - off median). First the machine line and the
parallelism (bench_parallelism from --with), as bench/run.py prints them.
"""
import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as R  # noqa: E402  (bench/run.py: the suite's runner)

WORKLOADS = ['fib-1', 'chain', 'external', 'roundtrip-parked',
             'roundtrip-hot']


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--with', dest='on', required=True)
    ap.add_argument('--without', dest='off', required=True)
    ap.add_argument('--reps', type=int, default=7)
    ap.add_argument('--mode', default='full', choices=['quick', 'full'])
    ap.add_argument('--only', default=','.join(WORKLOADS))
    ap.add_argument('--no-traced', action='store_true')
    a = ap.parse_args()
    by_name = {w.name: w for w in R.WORKLOADS}
    names = a.only.split(',')
    for n in names:
        if n not in WORKLOADS:
            sys.exit('unknown workload %s' % n)
    _, head = R.header(a.on)
    print('\n'.join(head))
    print('command: bench/obs_cost.py --with %s --without %s --reps %d '
          '--mode %s --only %s%s' % (a.on, a.off, a.reps, a.mode, a.only,
                                     ' --no-traced' if a.no_traced else ''))
    tmp = tempfile.mkdtemp(prefix='weft-obs-')
    trace = os.path.join(tmp, 't.json')
    variants = [('compiled out', a.off, {}),
                ('off', a.on, {}),
                ('traced', a.on, {'WEFT_TRACE': trace,
                                  'WEFT_TRACE_EVENTS': str(1 << 24)})]
    if a.no_traced:
        variants.pop()
    for name in names:
        w = by_name[name]
        res = {v[0]: {} for v in variants}
        runs = {v[0]: {} for v in variants}
        for rep in range(a.reps):
            k = rep % len(variants)
            for label, build, env in variants[k:] + variants[:k]:
                cmd = [os.path.join(build, 'bench', 'workloads',
                                    'bench_weft'), w.program_workload]
                cmd += w.args[a.mode] + ['-r', str(w.runs[a.mode])]
                saved = {e: os.environ.get(e) for e in env}
                os.environ.update(env)
                out, err = R.run_measured(cmd, R.TIMEOUT[a.mode])
                for e, v in saved.items():
                    if v is None:
                        os.environ.pop(e, None)
                    else:
                        os.environ[e] = v
                if os.path.exists(trace):
                    os.unlink(trace)
                if err:
                    print('  %s %s: %s' % (name, label, err))
                    continue
                vals, _, _ = R.parse_keys(out, w.cases)
                for key, _, _ in w.cases:
                    if vals[key]:
                        res[label].setdefault(key, []).append(
                            statistics.median(vals[key]))
                        runs[label].setdefault(key, []).extend(vals[key])
        print('\n%s: %s' % (name, w.title))
        print('  %-13s %s' % ('', '  '.join('%-26s' % ('%s (%s)' % (c, u))
                                           for _, c, u in w.cases)))
        for label, _, _ in variants:
            cells = []
            for key, _, _ in w.cases:
                m = res[label].get(key)
                if not m:
                    cells.append('%-26s' % '-')
                    continue
                r = runs[label][key]
                cells.append('%-26s' % ('%s [%s - %s]' % (
                    R.fmt(statistics.median(m)), R.fmt(min(r)),
                    R.fmt(max(r)))))
            print('  %-13s %s' % (label, '  '.join(cells)))
        key = w.cases[0][0]
        if name in ('fib-1', 'external') and res.get('traced', {}).get(key) and \
                res['off'].get(key):
            d = statistics.median(res['traced'][key]) - \
                statistics.median(res['off'][key])
            print('  traced - off: %s %s' % (R.fmt(d),
                                                      w.cases[0][2]))
        sys.stdout.flush()
    os.rmdir(tmp)


if __name__ == '__main__':
    main()
