#!/usr/bin/env python3
"""Runs one of the ported tutorial programs and checks its output.

usage: check_example.py [--runs N] EXAMPLE

EXAMPLE is the path of a program built from examples/; its file name picks
the checks. Each run gets a fresh random seed unless WEFT_EXAMPLE_SEED is
set; a failure prints the seed, so `WEFT_EXAMPLE_SEED=N EXAMPLE` replays
it. The checks are what each tutorial's output shows:

  follow_up_tasks           a follow-up runs for exactly the results above
                            0.5, after the result it follows up.
  pool_follow_up_callbacks  the same, by hand and from callbacks; with
                            map_async() every follow-up comes after every
                            first-round task; "All done." comes last.
  executor_patterns         map() and sequential results in submission
                            order; as_completed() in completion order;
                            both callbacks for each future, in the order
                            they were registered; wait() for all and for
                            the first; shutdown with cancel_futures
                            cancels every task that had not started.
  pipeline                  every item passes Task1, then Task2, then
                            reaches main, exactly once; each step reports
                            done after its last item; at most five items
                            in a step at once; "Main all done" after the
                            last result.
  as_completed              completion order; the timeout fires after the
                            deadline, with the unfinished tasks counted.

Completion order is checked with the ticks the programs print: a result
line "[ticks R-S]" means the task returned at tick R and was seen done by
tick S. A result printed after another must not have been seen done
before that other task returned, unless that other task may already have
been done when as_completed() was called (it returned before the tick
printed by "(as_completed() called at tick T)").
"""
import os
import re
import subprocess
import sys

TUTORIAL_SECOND_MS = 50.0  # examples/example_util.h


class CheckFailed(Exception):
    pass


def expect(cond, message):
    if not cond:
        raise CheckFailed(message)


def sections(lines):
    """Splits the output at its "== pattern: title ==" headers."""
    out = {}
    current = None
    for line in lines:
        m = re.fullmatch(r'== (\w+): .* ==', line)
        if m:
            current = m.group(1)
            expect(current not in out, f'pattern {current} ran twice')
            out[current] = []
        else:
            expect(current is not None, f'output before any header: {line!r}')
            out[current].append(line)
    return out


def parse(lines, patterns):
    """Matches every line against one of the named regular expressions;
    returns (index, name, match) for each line."""
    parsed = []
    for i, line in enumerate(lines):
        for name, rx in patterns.items():
            m = re.fullmatch(rx, line)
            if m:
                parsed.append((i, name, m))
                break
        else:
            raise CheckFailed(f'unexpected line: {line!r}')
    return parsed


def unit_value(text):
    v = float(text)
    expect(0.0 <= v < 1.0, f'{text} is not a random() value')
    return v


def check_follow_ups(firsts, seconds, what):
    """firsts: {key: (line index, value)}; seconds: [(line index, key,
    value given)]. Follow-ups exactly for values above 0.5, after the
    first-round line, each with the right value."""
    wanted = {k for k, (_, v) in firsts.items() if v > 0.5}
    got = [k for _, k, _ in seconds]
    expect(len(got) == len(set(got)), f'{what}: a follow-up ran twice: {got}')
    expect(set(got) == wanted,
           f'{what}: follow-ups for {sorted(got)}, expected exactly the '
           f'results above 0.5: {sorted(wanted)}')
    for line, key, given in seconds:
        first_line, value = firsts[key]
        expect(given == value,
               f'{what}: follow-up of {key} was given {given}, not {value}')
        expect(line > first_line,
               f'{what}: follow-up of {key} printed before its first task')


# follow_up_tasks

def check_follow_up_tasks(out):
    expect(list(out) == ['as_completed', 'map', 'then'],
           f'patterns {list(out)}')
    for name, lines in out.items():
        parsed = parse(lines, {
            'first': r'Task 1: (\S+)',
            'second': r'Task 2: value1=(\S+), value2=(\S+)'})
        firsts, seconds = {}, []
        for i, kind, m in parsed:
            if kind == 'first':
                v = unit_value(m.group(1))
                expect(v not in firsts, f'{name}: Task 1 value {v} twice')
                firsts[v] = (i, v)
            else:
                v1 = unit_value(m.group(1))
                unit_value(m.group(2))
                seconds.append((i, v1, v1))
        expect(len(firsts) == 10, f'{name}: {len(firsts)} first tasks')
        expect(all(k in firsts for _, k, _ in seconds),
               f'{name}: a follow-up for a value no first task returned')
        check_follow_ups(firsts, seconds, name)


# pool_follow_up_callbacks

def check_pool_follow_up_callbacks(out):
    expect(list(out) == ['manual', 'map_async', 'apply_async'],
           f'patterns {list(out)}')
    for name, lines in out.items():
        expect(lines and lines[-1] == 'All done.',
               f'{name}: "All done." is not the last line')
        parsed = parse(lines[:-1], {
            'first': r'>(\d+) generated (\S+)',
            'second': r'>>(\d+) with (\S+), generated (\S+)'})
        firsts, seconds = {}, []
        for i, kind, m in parsed:
            ident = int(m.group(1))
            if kind == 'first':
                expect(ident not in firsts, f'{name}: >{ident} twice')
                firsts[ident] = (i, unit_value(m.group(2)))
            else:
                unit_value(m.group(3))
                seconds.append((i, ident, unit_value(m.group(2))))
        expect(sorted(firsts) == list(range(10)),
               f'{name}: first tasks {sorted(firsts)}')
        check_follow_ups(firsts, seconds, name)
        if name == 'map_async' and seconds:
            last_first = max(i for i, _ in firsts.values())
            expect(min(i for i, _, _ in seconds) > last_first,
                   'map_async: a follow-up before the last first task: '
                   'the callback must wait for all of them')


# executor_patterns and as_completed

def check_completion_order(lines, result_rx, what):
    """lines: "(as_completed() called at tick T)" then result lines whose
    match has groups name, returned, seen. Returns the names in order."""
    m = re.fullmatch(r'\(as_completed\(\) called at tick (\d+)\)', lines[0])
    expect(m, f'{what}: no as_completed() tick line')
    start = int(m.group(1))
    results = []
    for line in lines[1:]:
        m = re.fullmatch(result_rx, line)
        expect(m, f'{what}: unexpected line: {line!r}')
        name, returned, seen = m.group('name'), int(m.group('returned')), \
            int(m.group('seen'))
        expect(returned < seen,
               f'{what}: {name} seen done before it returned')
        results.append((name, returned, seen))
    for a, (name_a, returned_a, _) in enumerate(results):
        if returned_a < start:
            continue  # may have been done already: no order among those
        for name_b, _, seen_b in results[a + 1:]:
            expect(seen_b > returned_a,
                   f'{what}: {name_b} was done (tick {seen_b}) before '
                   f'{name_a} returned (tick {returned_a}), yet came after '
                   'it: not completion order')
    return [r[0] for r in results]


def names_0_to(n, names, what):
    expect(sorted(int(x) for x in names) == list(range(n)),
           f'{what}: results {names}, expected each of 0..{n - 1} once')


def check_wait_first(lines, workers, what):
    expect(len(lines) == 4, f'{what}: {len(lines)} lines')
    expect(re.fullmatch(r'\d', lines[0]), f'{what}: result {lines[0]!r}')
    first = int(lines[0])
    m = re.fullmatch(r'\[done: (\d+), not done: (\d+)\]', lines[1])
    expect(m, f'{what}: no done/not done line')
    done, not_done = int(m.group(1)), int(m.group(2))
    expect(done >= 1 and done + not_done == 10,
           f'{what}: {done} done, {not_done} not done after wait()')
    m = re.fullmatch(r'\[at shutdown: (\d+) started, (\d+) cancelled\]',
                     lines[2])
    expect(m, f'{what}: no shutdown line')
    started, cancelled = int(m.group(1)), int(m.group(2))
    m = re.fullmatch(r'\[ran:((?: \d)*)\] \[cancelled:((?: \d)*)\]',
                     lines[3])
    expect(m, f'{what}: no ran/cancelled line')
    ran = [int(x) for x in m.group(1).split()]
    final_cancelled = [int(x) for x in m.group(2).split()]
    expect(first in ran, f'{what}: the first result {first} never ran')
    expect(not set(ran) & set(final_cancelled),
           f'{what}: tasks {sorted(set(ran) & set(final_cancelled))} ran '
           'and were cancelled')
    expect(sorted(ran + final_cancelled) == list(range(10)),
           f'{what}: ran {ran} and cancelled {final_cancelled} are not '
           'all ten tasks')
    # Every task queued when shutdown() was called is cancelled before it
    # returns; a worker may hold one task it took but had not started.
    expect(10 - started - cancelled <= workers,
           f'{what}: at shutdown {started} started and {cancelled} '
           f'cancelled: {10 - started - cancelled} tasks were neither')
    expect(started <= len(ran) <= started + workers,
           f'{what}: {started} started at shutdown, {len(ran)} ran')
    expect(cancelled <= len(final_cancelled),
           f'{what}: {cancelled} cancelled at shutdown, '
           f'{len(final_cancelled)} in the end')


def check_executor_patterns(out):
    expect(list(out) == ['map', 'as_completed', 'sequential', 'callbacks',
                         'wait_all', 'wait_first', 'wait_first_cancel'],
           f'patterns {list(out)}')
    expect(out['map'] == ["('1', 'a')", "('2', 'b')", "('3', 'c')"],
           f'map: {out["map"]}')
    names = check_completion_order(
        out['as_completed'],
        r'(?P<name>\d+)  \[ticks (?P<returned>\d+)-(?P<seen>\d+)\]',
        'as_completed')
    names_0_to(10, names, 'as_completed')
    expect(out['sequential'] == [str(i) for i in range(10)],
           f'sequential: {out["sequential"]}')
    parsed = parse(out['callbacks'], {
        'again': r'The future object (\d+) is acted upon, again',
        'once': r'The future object (\d+) is acted upon'})
    for i in range(10):
        once = [j for j, k, m in parsed if k == 'once' and m[1] == str(i)]
        again = [j for j, k, m in parsed if k == 'again' and m[1] == str(i)]
        expect(len(once) == 1 and len(again) == 1,
               f'callbacks: future {i}: {len(once)} first and '
               f'{len(again)} second callbacks')
        expect(once[0] < again[0],
               f'callbacks: future {i}: the second callback ran first')
    lines = out['wait_all']
    expect(lines and lines[-1] == 'All tasks are done!',
           'wait_all: "All tasks are done!" is not the last line')
    names_0_to(10, lines[:-1], 'wait_all')
    check_wait_first(out['wait_first'], 10, 'wait_first')
    check_wait_first(out['wait_first_cancel'], 2, 'wait_first_cancel')


# pipeline

def check_pipeline(out):
    expect(list(out) == ['one_pool', 'separate_pools'],
           f'patterns {list(out)}')
    items = 20
    for name, lines in out.items():
        parsed = parse(lines, {
            'task1': r'> Task1 got (\d+), produced (\S+)',
            'task2': r'> > Task2 got (\S+), produced (\S+)',
            'main': r'Main got (\S+)',
            'task1_done': r'> Task1 done',
            'task2_done': r'> > Task2 done',
            'all_done': r'Main all done',
            'steps': r'\[Task1 worked on at most (\d+) items at once, '
                     r'Task2 on (\d+)\]'})
        by_kind = {}
        for i, kind, m in parsed:
            by_kind.setdefault(kind, []).append((i, m))
        for kind in ('task1_done', 'task2_done', 'all_done', 'steps'):
            expect(len(by_kind.get(kind, [])) == 1,
                   f'{name}: {len(by_kind.get(kind, []))} {kind} lines')
        task1 = by_kind.get('task1', [])
        task2 = by_kind.get('task2', [])
        mains = by_kind.get('main', [])
        expect(sorted(int(m[1]) for _, m in task1) == list(range(items)),
               f'{name}: Task1 got {[m[1] for _, m in task1]}')
        produced1 = {}
        for i, m in task1:
            v = unit_value(m[2])
            expect(v not in produced1, f'{name}: Task1 produced {v} twice')
            produced1[v] = i
        produced2 = {}
        for i, m in task2:
            got, v = unit_value(m[1]), unit_value(m[2])
            expect(got in produced1,
                   f'{name}: Task2 got {got}, which Task1 never produced')
            expect(produced1.pop(got) < i,
                   f'{name}: Task2 got {got} before Task1 produced it')
            expect(v not in produced2, f'{name}: Task2 produced {v} twice')
            produced2[v] = i
        expect(not produced1,
               f'{name}: Task2 never got {sorted(produced1)}')
        for i, m in mains:
            got = unit_value(m[1])
            expect(got in produced2,
                   f'{name}: main got {got}, which Task2 never produced '
                   '(or main got it twice)')
            expect(produced2.pop(got) < i,
                   f'{name}: main got {got} before Task2 produced it')
        expect(not produced2, f'{name}: main never got {sorted(produced2)}')
        done1 = by_kind['task1_done'][0][0]
        done2 = by_kind['task2_done'][0][0]
        all_done = by_kind['all_done'][0][0]
        expect(all(i < done1 for i, _ in task1),
               f'{name}: "> Task1 done" before the last Task1 item')
        expect(all(i < done2 for i, _ in task2),
               f'{name}: "> > Task2 done" before the last Task2 item')
        expect(all(i < all_done for i, _ in mains),
               f'{name}: "Main all done" before the last result')
        m = by_kind['steps'][0][1]
        for step, most in (('Task1', int(m[1])), ('Task2', int(m[2]))):
            expect(1 <= most <= 5,
                   f'{name}: {step} worked on {most} items at once, '
                   'bound 5')


# as_completed

def check_as_completed(out):
    expect(list(out) == ['as_completed', 'timeout'], f'patterns {list(out)}')
    result_rx = (r'Task=(?P<name>\d+): (?P<value>[01]\.\d\d)  '
                 r'\[ticks (?P<returned>\d+)-(?P<seen>\d+)\]')
    names = check_completion_order(out['as_completed'], result_rx,
                                   'as_completed')
    names_0_to(10, names, 'as_completed')
    lines = out['timeout']
    expect(lines, 'timeout: no output')
    m = re.fullmatch(r'Timed out waiting for a result  \[after ([\d.]+) ms, '
                     r'(\d+) \(of 10\) futures unfinished\]', lines[-1])
    expect(m, 'timeout: the last line is not the timeout')
    after_ms, unfinished = float(m.group(1)), int(m.group(2))
    deadline_ms = 0.05 * TUTORIAL_SECOND_MS
    expect(after_ms >= deadline_ms,
           f'timeout: fired after {after_ms} ms, before the deadline '
           f'({deadline_ms} ms)')
    names = check_completion_order(lines[:-1], result_rx, 'timeout')
    expect(len(set(names)) == len(names), f'timeout: results {names}')
    expect(unfinished >= 1 and unfinished == 10 - len(names),
           f'timeout: {len(names)} results and {unfinished} unfinished')


CHECKS = {
    'follow_up_tasks': check_follow_up_tasks,
    'pool_follow_up_callbacks': check_pool_follow_up_callbacks,
    'executor_patterns': check_executor_patterns,
    'pipeline': check_pipeline,
    'as_completed': check_as_completed,
}


def main(argv):
    runs = 1
    if len(argv) > 2 and argv[1] == '--runs':
        runs = int(argv[2])
        argv = argv[:1] + argv[3:]
    if len(argv) != 2:
        print(__doc__.split('\n\n')[1], file=sys.stderr)
        return 2
    exe = argv[1]
    name = os.path.basename(exe)
    check = CHECKS.get(name)
    if check is None:
        print(f'no checks for {name}', file=sys.stderr)
        return 2
    for run in range(runs):
        proc = subprocess.run([exe], capture_output=True, text=True,
                              timeout=60)
        m = re.search(r'seed (\d+)', proc.stderr)
        seed = m.group(1) if m else '?'
        try:
            expect(proc.returncode == 0,
                   f'exit status {proc.returncode}')
            check(sections(proc.stdout.splitlines()))
        except CheckFailed as e:
            sys.stdout.write(proc.stdout)
            sys.stderr.write(proc.stderr)
            print(f'FAIL {name} (run {run + 1}, WEFT_EXAMPLE_SEED={seed}): '
                  f'{e}')
            return 1
        print(f'ok {name} (run {run + 1}, WEFT_EXAMPLE_SEED={seed})')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
