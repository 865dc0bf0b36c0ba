#!/usr/bin/env python3
"""The tutorials' patterns with trivial tasks, timed: the Python side of
the comparison with bench_seeds (weft). run.sh runs both.

usage: bench_seeds.py [-n TASKS] [-r RUNS] [-m]

Each pattern runs RUNS times (after one warm-up run) on TASKS tasks; a
task returns its argument. Prints one line per pattern:
"PATTERN MEDIAN MIN MAX", in nanoseconds per task. The pools are created
once per pattern, with the tutorials' sizes, outside the timing. With
-m, a last line "peak_rss_kb N" gives the process's peak resident set
(for bench/run.py).

  submit_result       submit() each task, then result() each in order
  map                 executor.map() over the tasks
  as_completed        submit() each task, result() in as_completed() order
  follow_up           as_completed(); odd results get a follow-up task,
                      then wait() for the follow-ups (per first task)
  done_callback       submit() + add_done_callback(); the last callback
                      sets an Event that main waits for
  map_async_follow_up ThreadPool.map_async(callback=...); the result
                      callback issues a follow-up task (apply_async) for
                      every odd result; AsyncResult.wait(), then wait()
                      on each follow-up (per first task). map_async()
                      cuts the items into chunks of
                      ceil(TASKS / (4 * threads)), so the pool runs a few
                      tasks for all the items; the weft side makes the
                      same chunks.
  pipeline            two steps of five looping workers each, joined by
                      queues; main puts every item in, takes every result
                      out, then puts the None sentinel (per item)
"""
import argparse
import itertools
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed, wait
from multiprocessing.pool import ThreadPool
from queue import Queue


def task(value):
    return value


def submit_result(executor, n):
    futures = [executor.submit(task, i) for i in range(n)]
    for future in futures:
        future.result()


def map_results(executor, n):
    for _ in executor.map(task, range(n)):
        pass


def results_as_completed(executor, n):
    futures = [executor.submit(task, i) for i in range(n)]
    for future in as_completed(futures):
        future.result()


def follow_up(executor, n):
    futures1 = [executor.submit(task, i) for i in range(n)]
    futures2 = []
    for future1 in as_completed(futures1):
        result = future1.result()
        if result % 2:
            futures2.append(executor.submit(task, result))
    wait(futures2)


def done_callback(executor, n):
    counter = itertools.count(1)
    all_done = threading.Event()

    def custom_callback(future):
        future.result()
        if next(counter) == n:
            all_done.set()

    for i in range(n):
        executor.submit(task, i).add_done_callback(custom_callback)
    all_done.wait()


def map_async_follow_up(pool, n):
    follow_ups = []

    def result_callback(results):
        for value in results:
            if value % 2:
                follow_ups.append(pool.apply_async(task, (value,)))

    pool.map_async(task, range(n), callback=result_callback).wait()
    for follow_up in follow_ups:
        follow_up.wait()


def step(queue_in, queue_out):
    while True:
        data = queue_in.get()
        if data is None:
            queue_in.put(None)
            queue_out.put(None)
            break
        queue_out.put(data + 1)


def pipeline(executor, n):
    queue1, queue2, queue3 = Queue(), Queue(), Queue()
    workers = [executor.submit(step, queue1, queue2) for _ in range(5)]
    workers += [executor.submit(step, queue2, queue3) for _ in range(5)]
    for i in range(n):
        queue1.put(i)
    for _ in range(n):
        queue3.get()
    queue1.put(None)
    wait(workers)


# (name, function, the pool the tutorials use for it)
PATTERNS = [
    ('submit_result', submit_result, lambda: ThreadPoolExecutor(10)),
    ('map', map_results, ThreadPoolExecutor),
    ('as_completed', results_as_completed, lambda: ThreadPoolExecutor(10)),
    ('follow_up', follow_up, lambda: ThreadPoolExecutor(5)),
    ('done_callback', done_callback, lambda: ThreadPoolExecutor(10)),
    ('map_async_follow_up', map_async_follow_up, ThreadPool),
    ('pipeline', pipeline, lambda: ThreadPoolExecutor(10)),
]


def peak_rss_kb():
    """VmHWM, the peak resident set of this process."""
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith('VmHWM:'):
                return int(line.split()[1])
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('-n', type=int, default=20000, help='tasks')
    parser.add_argument('-r', type=int, default=5, help='timed runs')
    parser.add_argument('-m', action='store_true',
                        help='print the peak resident set last')
    args = parser.parse_args()
    for name, fn, make_pool in PATTERNS:
        pool = make_pool()
        fn(pool, args.n)  # warm-up: threads started, caches filled
        times = []
        for _ in range(args.r):
            start = time.perf_counter_ns()
            fn(pool, args.n)
            times.append((time.perf_counter_ns() - start) / args.n)
        if isinstance(pool, ThreadPool):
            pool.close()
            pool.join()
        else:
            pool.shutdown()
        print(f'{name} {statistics.median(times):.1f} {min(times):.1f} '
              f'{max(times):.1f}', flush=True)
    if args.m:
        print(f'peak_rss_kb {peak_rss_kb()}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
