#!/usr/bin/env python3
"""Checks weft's trace files: runs programs with WEFT_TRACE (or traced from
code) and checks what Python's json module loads from the file.

usage: check_trace.py TRACE_RUN [EXAMPLE...]

TRACE_RUN is tests/trace/trace_run (its modes are described there);
each EXAMPLE is a program from examples/, run as is under WEFT_TRACE.
For every pool in a file:
  - the file loads with json.load; the pool is a process named
    "weft pool N (NAME)"; every worker has exactly one track, named
    NAME-i like its thread, and there is one "external submits" track;
  - one complete ("X") slice per task run: their count equals the
    pool's executed count (the trace's summary event, and what the
    program printed), unless events were dropped; slices on one track
    nest (no two overlap partially); every timestamp is a number;
  - one "steal" instant per stolen task, one "park" per park, one "wake"
    per wake-up, one "submit" on the external track per injected task
    (the summary's counts);
  - with WEFT_TRACE_EVENTS=64, the buffers fill: the summary's dropped
    count equals the sum of the "trace buffer full" events, no worker
    holds more than 64 events, and the program's own results are right.
The cases:
  fib        trace_run fib: steals, parks and wakes all occur
  overflow   the same with WEFT_TRACE_EVENTS=64
  two        two pools traced at once into the one WEFT_TRACE file
  api        two pools traced at once from code, to two files
  unwritable WEFT_TRACE in a missing directory: the program runs as
             usual, prints nothing it would not print, writes nothing
  examples   every EXAMPLE under WEFT_TRACE
Prints one line per case and "N passed, N failed".
"""
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

FIB_N = '18'


class CheckFailed(Exception):
    pass


def expect(cond, message):
    if not cond:
        raise CheckFailed(message)


def run(cmd, env_extra=None, timeout=300):
    env = dict(os.environ)
    env.pop('WEFT_TRACE', None)
    env.pop('WEFT_TRACE_EVENTS', None)
    env.update(env_extra or {})
    p = subprocess.run(cmd, env=env, capture_output=True, text=True,
                       timeout=timeout)
    expect(p.returncode == 0, '%s exited %d: %s' %
           (' '.join(cmd), p.returncode, p.stderr.strip()[-2000:]))
    return p.stdout, p.stderr


def printed_pools(out):
    """The program's "pool NAME k=v..." lines -> {NAME: {k: int}}."""
    pools = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) > 2 and f[0] == 'pool':
            pools[f[1]] = {k: int(v) for k, v in
                           (x.split('=') for x in f[2:])}
    return pools


def load(path):
    with open(path) as f:
        d = json.load(f)
    expect(isinstance(d, dict) and isinstance(d.get('traceEvents'), list),
           'no traceEvents list')
    return d['traceEvents']


def check_nesting(slices, where):
    """Slices of one track, as (start, end) in ns: each pair either
    nests or is disjoint."""
    stack = []
    for start, end in sorted(slices, key=lambda s: (s[0], -s[1])):
        while stack and stack[-1] <= start:
            stack.pop()
        expect(not stack or end <= stack[-1],
               '%s: slices overlap without nesting' % where)
        stack.append(end)


def ns(us):
    return round(us * 1000)


def check_pools(events, capacity=None, exact_submits=True):
    """Checks every pool in a loaded file; returns {NAME: summary args}.
    A task cancelled before it started counts as injected but has no
    submit event: programs that cancel pass exact_submits=False."""
    by_pid = collections.defaultdict(list)
    for e in events:
        expect(isinstance(e.get('pid'), int) and isinstance(e.get('tid'),
                                                             int),
               'event without pid/tid: %r' % e)
        by_pid[e['pid']].append(e)
    pools = {}
    for pid, evs in by_pid.items():
        meta = [e for e in evs if e['ph'] == 'M']
        pname = [e['args']['name'] for e in meta
                 if e['name'] == 'process_name']
        expect(len(pname) == 1, 'pid %d: %d process names' %
               (pid, len(pname)))
        m = re.fullmatch(r'weft pool (\d+) \((.*)\)', pname[0])
        expect(m and int(m.group(1)) == pid,
               'pid %d: process name %r' % (pid, pname[0]))
        name = m.group(2)
        summaries = [e for e in evs if e.get('name') == 'weft trace summary']
        expect(len(summaries) == 1, '%s: %d summaries' %
               (name, len(summaries)))
        s = summaries[0]['args']
        tracks = collections.Counter(
            e['args']['name'] for e in meta if e['name'] == 'thread_name')
        want = collections.Counter(['%s-%d' % (name, i)
                                    for i in range(s['workers'])] +
                                   ['external submits'])
        expect(tracks == want, '%s: tracks %s, want %s' %
               (name, dict(tracks), dict(want)))
        tid_of = {e['args']['name']: e['tid'] for e in meta
                  if e['name'] == 'thread_name'}
        external = tid_of['external submits']
        workers = {tid_of['%s-%d' % (name, i)] for i in range(s['workers'])}
        expect(len(workers) == s['workers'], '%s: worker tids repeat' % name)
        kinds = collections.Counter()
        per_track = collections.defaultdict(list)
        recorded = collections.Counter()
        full = 0
        for e in evs:
            if e['ph'] == 'M':
                continue
            expect(isinstance(e.get('ts'), (int, float)),
                   '%s: event without ts: %r' % (name, e))
            if e['ph'] == 'X':
                expect(e['tid'] in workers, '%s: slice off the worker '
                       'tracks' % name)
                expect(e['dur'] >= 0 and e['name'] and 'task' in e['args'],
                       '%s: bad slice %r' % (name, e))
                per_track[e['tid']].append((ns(e['ts']),
                                            ns(e['ts']) + ns(e['dur'])))
                kinds['slice'] += 1
                recorded[e['tid']] += 1
            elif e['ph'] == 'i':
                kinds[e['name']] += 1
                if e['name'] in ('steal', 'park', 'wake'):
                    expect(e['tid'] in workers, '%s: %s off the worker '
                           'tracks' % (name, e['name']))
                    recorded[e['tid']] += 1
                if e['name'] == 'steal':
                    expect(re.fullmatch(re.escape(name) + r'-\d+',
                                        e['args']['victim']),
                           '%s: steal victim %r' % (name, e['args']))
                elif e['name'] == 'submit':
                    expect(e['tid'] == external,
                           '%s: submit off the external track' % name)
                elif e['name'] == 'trace buffer full':
                    full += e['args']['dropped']
            else:
                raise CheckFailed('%s: unexpected phase %r' % (name, e['ph']))
        for tid, sl in per_track.items():
            check_nesting(sl, '%s tid %d' % (name, tid))
        expect(full == s['dropped'], '%s: dropped %d, buffer-full events '
               'say %d' % (name, s['dropped'], full))
        if capacity is not None:
            expect(max(recorded.values()) <= capacity,
                   '%s: a worker recorded %d events, capacity %d' %
                   (name, max(recorded.values()), capacity))
        if s['dropped'] == 0:
            for kind, key in (('slice', 'executed'), ('steal', 'stolen'),
                              ('park', 'parks'), ('wake', 'wakeups'),
                              ('submit', 'injected')):
                if kind == 'submit' and not exact_submits:
                    expect(kinds[kind] <= s[key], '%s: %d submits, '
                           'injected %d' % (name, kinds[kind], s[key]))
                    continue
                expect(kinds[kind] == s[key], '%s: %d %s events, %s = %d' %
                       (name, kinds[kind], kind, key, s[key]))
        s = dict(s)
        s['kinds'] = kinds
        # Pools may share a name: the later ones are keyed NAME#pid.
        pools[name if name not in pools else '%s#%d' % (name, pid)] = s
    return pools


def check_against_program(pools, printed, every_event=True):
    for name, p in printed.items():
        expect(name in pools, 'pool %s missing from the trace' % name)
        s = pools[name]
        expect(s['executed'] == p['executed'], '%s: trace says executed '
               '%d, the program %d' % (name, s['executed'], p['executed']))
        if every_event:
            expect(s['kinds']['slice'] == p['executed'],
                   '%s: %d slices, executed %d' %
                   (name, s['kinds']['slice'], p['executed']))


def case_fib(exe, tmp):
    path = os.path.join(tmp, 'fib.json')
    # Steals and wake-ups depend on the scheduler: retry a few times.
    for attempt in range(5):
        out, _ = run([exe, 'fib', FIB_N], {'WEFT_TRACE': path})
        expect('result ok' in out, 'wrong results')
        pools = check_pools(load(path))
        check_against_program(pools, printed_pools(out))
        k = pools['tra']['kinds']
        if k['steal'] and k['park'] and k['wake']:
            return 'fib: %s' % dict(k)
    raise CheckFailed('no steal, park or wake in 5 runs: %s' % dict(k))


def case_overflow(exe, tmp):
    path = os.path.join(tmp, 'overflow.json')
    out, _ = run([exe, 'fib', FIB_N], {'WEFT_TRACE': path,
                                       'WEFT_TRACE_EVENTS': '64'})
    expect('result ok' in out, 'wrong results with a full buffer')
    pools = check_pools(load(path), capacity=64)
    check_against_program(pools, printed_pools(out), every_event=False)
    s = pools['tra']
    expect(s['dropped'] > 0, 'nothing dropped with 64 events per worker')
    return 'overflow: %d dropped, %d slices of %d tasks' % (
        s['dropped'], s['kinds']['slice'], s['executed'])


def case_two(exe, tmp):
    path = os.path.join(tmp, 'two.json')
    out, _ = run([exe, 'two', FIB_N], {'WEFT_TRACE': path})
    expect('result ok' in out, 'wrong results')
    pools = check_pools(load(path))
    expect(set(pools) == {'tra', 'trb'}, 'pools %s' % sorted(pools))
    check_against_program(pools, printed_pools(out))
    return 'two pools, one file: %s' % {
        n: p['kinds']['slice'] for n, p in pools.items()}


def case_api(exe, tmp):
    a, b = os.path.join(tmp, 'a.json'), os.path.join(tmp, 'b.json')
    out, _ = run([exe, 'api', FIB_N, a, b])
    expect('result ok' in out, 'wrong results')
    expect('stop 0 0' in out, 'weft_trace_stop failed: %s' % out)
    printed = printed_pools(out)
    for path, name in ((a, 'tra'), (b, 'trb')):
        pools = check_pools(load(path))
        expect(set(pools) == {name}, '%s holds %s' % (path, sorted(pools)))
        check_against_program(pools, {name: printed[name]})
    return 'two pools from code, two files'


def case_unwritable(exe, tmp):
    path = os.path.join(tmp, 'missing-dir', 't.json')
    out, err = run([exe, 'fib', FIB_N], {'WEFT_TRACE': path})
    expect('result ok' in out, 'wrong results')
    expect(err == '', 'stderr: %r' % err)
    expect(not os.path.exists(path), 'a file appeared')
    return 'unwritable WEFT_TRACE: silent, work unaffected'


def case_examples(examples, tmp):
    done = []
    for exe in examples:
        path = os.path.join(tmp, os.path.basename(exe) + '.json')
        run([exe], {'WEFT_TRACE': path,
                    'WEFT_EXAMPLE_SEED': '1'})
        pools = check_pools(load(path), exact_submits=False)
        expect(pools, '%s: no pool in the trace' % exe)
        done.append('%s %d pool(s)' % (os.path.basename(exe), len(pools)))
    return 'examples: ' + ', '.join(done)


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    exe, examples = sys.argv[1], sys.argv[2:]
    cases = [('fib', lambda t: case_fib(exe, t)),
             ('overflow', lambda t: case_overflow(exe, t)),
             ('two', lambda t: case_two(exe, t)),
             ('api', lambda t: case_api(exe, t)),
             ('unwritable', lambda t: case_unwritable(exe, t)),
             ('examples', lambda t: case_examples(examples, t))]
    passed = failed = 0
    for name, fn in cases:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                print('ok %s' % fn(tmp))
                passed += 1
            except (CheckFailed, subprocess.TimeoutExpired, OSError,
                    ValueError, KeyError) as e:
                print('FAIL %s: %s' % (name, e))
                failed += 1
        sys.stdout.flush()
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
