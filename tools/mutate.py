#!/usr/bin/env python3
"""Mutation testing of weft: applies curated one-line bugs to a copy of the
library and runs the test suite of the build each one needs.

Usage:
  tools/mutate.py [options] --all          every mutation in the list
  tools/mutate.py [options] --sample K     K mutations drawn at random
                                           (--seed S replays a draw; the
                                           seed is printed)
  tools/mutate.py [options] ID...          the named mutations
  tools/mutate.py --check                  only checks that every mutation
                                           applies to the sources (no build)
  tools/mutate.py --list                   prints the mutations

Options:
  --rev REV        the commit to mutate (default HEAD, via git archive); the
                   working tree is never touched
  --worktree       mutate the working tree's tracked files as they are on
                   disk (uncommitted edits included) instead of a commit
  --config C,...   only the mutations of these configurations
  --min-kill PCT   exit 1 if fewer than PCT% of the mutations run are killed
  --all-tests      run the whole suite for a killed mutant too, so that
                   every test that kills it is named (default: stop at the
                   first failing test)
  --factor F       a test's time limit is F times its duration in the
                   unmutated baseline run, at least --floor seconds
                   (defaults 10 and 60); a test past it counts as a kill
                   "by timeout"
  --no-baseline    skip the unmutated run (CI: tools/test.sh has just run
                   the same suites): unless a baseline of the same sources
                   is kept from an earlier run, a test's time limit is its
                   declared timeout times the configuration's multiplier,
                   at most --cap seconds (default 300)
  --markdown FILE  also writes the results as a Markdown table
  --mutations FILE the list (default tools/mutations.txt)
  --dir DIR        the scratch directory (default build-mutate/ in the
                   source root)

How it works. The sources of REV go to DIR/src; files that did not change
since the last run keep their timestamps, so the build directories
DIR/<config> (configured once, as tools/test.sh configures that build) are
rebuilt incrementally. For each configuration in use it first builds and
runs the unmutated suite (the baseline: every test must pass, a test
that fails gets one retry and is then reported as flaky; its durations set
the time limits). A baseline is kept in DIR/<config> and reused while the
sources are the same. Then, for each mutation: it replaces the
exact text `find` with `with` in DIR/src/<file> (the text must occur there
exactly once, else the mutation is "not applied"), runs ninja and
`meson test` (the configuration's suites, fastest tests first), records
killed (a test failed or timed out; which one) or survived, and restores
the file. A mutant that does not compile counts as not applied (the list
needs fixing). The list of mutations (tools/mutations.txt) is checked in
full at every run, sampled or not, so a mutation that no longer matches
the sources fails the run even when it was not drawn.

Output: one line per mutation, then
  mutate: killed K of N (P%), survived S, not applied X
The exit status is 1 if any mutation is not applied, if a baseline fails,
or if the kill rate is under --min-kill; 2 on usage errors.

Configurations (those of tools/test.sh):
  release  gcc, --buildtype=release (LTO): the whole suite
  asan     gcc, ASan+UBSan, -Dalloc_hook=true: the whole suite, with the
           allocation-failure tests
  tsan     gcc, ThreadSanitizer: the stress suite (Criterion cannot run
           under TSan); for weakened memory orders
"""

import argparse
import configparser
import fcntl
import hashlib
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CONFIGS = {
    'release': {
        'setup': ['--buildtype=release'],
        'test': [],
        'multiplier': 1,
    },
    'asan': {
        'setup': ['--buildtype=debugoptimized',
                  '-Db_sanitize=address,undefined', '-Db_lundef=false',
                  '-Db_lto=false', '-Dalloc_hook=true'],
        'test': [],
        'multiplier': 3,
    },
    'tsan': {
        'setup': ['--buildtype=debugoptimized', '-Db_sanitize=thread',
                  '-Db_lto=false'],
        'test': ['--suite', 'stress'],
        'multiplier': 5,
    },
}

TEST_ENV = {
    'UBSAN_OPTIONS': 'halt_on_error=1:print_stacktrace=1',
    'ASAN_OPTIONS': 'detect_leaks=1:abort_on_error=0',
    'TSAN_OPTIONS': 'halt_on_error=1:second_deadlock_stack=1',
}

PASS = ('OK', 'SKIP', 'EXPECTEDFAIL')

FIELDS = ('file', 'config', 'desc', 'find', 'with')


class Mutation:
    def __init__(self, mid, fields):
        self.id = mid
        self.file = fields['file']
        self.config = fields['config']
        self.desc = fields['desc']
        self.find = unescape(fields['find'])
        self.with_ = unescape(fields['with'])
        self.status = None   # killed, survived, not applied
        self.by = []         # [(test, result)]
        self.note = ''
        self.seconds = 0.0


REASONS = [
    re.compile(r'^not ok - (\S+)', re.M),                     # Criterion
    re.compile(r'^SUMMARY: (\w+Sanitizer: [^\n]*?)(?: \.\./\S*)?'
               r'(?: in (\S+))?$', re.M),
    re.compile(r'(\S+:\d+: runtime error: [^\n]{0,80})', re.M),  # UBSan
    re.compile(r'(CHECK failed: [^\n]{0,100})', re.M),          # harness
    re.compile(r'(WATCHDOG: [^\n;]{0,100})', re.M),
    re.compile(r'(FAIL[^\n]{0,100})', re.M),
]


def reason(output):
    """A short why from a failed test's output: the first failed
    Criterion test, sanitizer summary or failed check."""
    for rx in REASONS:
        m = rx.search(output)
        if m:
            return ' '.join(g for g in m.groups() if g).strip()
    return ''


def unescape(s):
    """\\n, \\t and \\\\ in a list value; any other backslash stays."""
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == '\\' and i + 1 < len(s) and s[i + 1] in 'nt\\':
            out.append({'n': '\n', 't': '\t', '\\': '\\'}[s[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def load_mutations(path):
    cp = configparser.ConfigParser(interpolation=None, strict=True,
                                   delimiters=('=',),
                                   comment_prefixes=('#',),
                                   inline_comment_prefixes=None,
                                   empty_lines_in_values=False)
    cp.optionxform = str
    with open(path, encoding='utf-8') as f:
        cp.read_file(f)
    muts = []
    for mid in cp.sections():
        sec = cp[mid]
        missing = [k for k in FIELDS if k not in sec]
        extra = [k for k in sec if k not in FIELDS]
        if missing or extra:
            sys.exit(f'mutate: {path}: [{mid}]: missing {missing}, '
                     f'unknown {extra}')
        m = Mutation(mid, sec)
        if m.config not in CONFIGS:
            sys.exit(f'mutate: {path}: [{mid}]: config {m.config!r} is not '
                     f'one of {", ".join(CONFIGS)}')
        if m.find == m.with_:
            sys.exit(f'mutate: {path}: [{mid}]: find and with are equal')
        muts.append(m)
    return muts


def git(*args, **kw):
    return subprocess.run(['git', '-C', ROOT] + list(args), check=True,
                          stdout=subprocess.PIPE, **kw).stdout


def source_files(rev, worktree):
    """{path: bytes} of the tracked files of rev (or of the working
    tree)."""
    files = {}
    if worktree:
        for p in git('ls-files', '-z').decode().split('\0'):
            full = os.path.join(ROOT, p)
            if p and os.path.isfile(full) and not os.path.islink(full):
                with open(full, 'rb') as f:
                    files[p] = f.read()
        return files
    data = git('archive', '--format=tar', rev)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            if member.isfile():
                files[member.name] = tar.extractfile(member).read()
    return files


def sync_tree(files, dest):
    """Makes dest hold exactly files, rewriting only what differs (so the
    build directories rebuild only what changed)."""
    os.makedirs(dest, exist_ok=True)
    for path, data in files.items():
        full = os.path.join(dest, path)
        try:
            with open(full, 'rb') as f:
                if f.read() == data:
                    continue
        except OSError:
            pass
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, 'wb') as f:
            f.write(data)
    for dirpath, dirnames, filenames in os.walk(dest, topdown=False):
        for name in filenames:
            full = os.path.join(dirpath, name)
            if os.path.relpath(full, dest) not in files:
                os.remove(full)
        if dirpath != dest and not os.listdir(dirpath):
            os.rmdir(dirpath)


def tree_hash(files):
    """Identifies the sources a baseline ran on."""
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(path.encode() + b'\0' + files[path] + b'\0')
    return h.hexdigest()


def count_in(src, m):
    try:
        with open(os.path.join(src, m.file), encoding='utf-8') as f:
            return f.read().count(m.find)
    except OSError:
        return -1


def check_applies(src, m):
    """'' if m's text occurs exactly once in its file, else why not."""
    n = count_in(src, m)
    if n == 1:
        return ''
    if n < 0:
        return f'{m.file} does not exist'
    return f'the text occurs {n} times in {m.file}, not once'


class Runner:
    def __init__(self, args, scratch):
        self.args = args
        self.scratch = scratch
        self.src = os.path.join(scratch, 'src')
        self.logs = os.path.join(scratch, 'logs')
        os.makedirs(self.logs, exist_ok=True)
        self.env = dict(os.environ)
        self.env.update(TEST_ENV)
        self.limits = {}   # config -> {test: seconds}
        self.tests = {}    # config -> [test names, fastest first]
        self.flaky = {}    # config -> tests that failed once in the baseline
        self.wrap = []
        # TSan cannot map its shadow memory with more than 28 random mmap
        # bits (as in tools/test.sh).
        try:
            with open('/proc/sys/vm/mmap_rnd_bits') as f:
                if int(f.read()) > 28:
                    self.wrap = ['setarch', os.uname().machine, '-R']
        except (OSError, ValueError):
            pass

    def builddir(self, config):
        return os.path.join(self.scratch, config)

    def log(self, name):
        return os.path.join(self.logs, name)

    def run(self, cmd, logname):
        with open(self.log(logname), 'w') as out:
            proc = subprocess.Popen(cmd, stdout=out,
                                    stderr=subprocess.STDOUT,
                                    env=self.env, cwd=self.scratch)
            try:
                return proc.wait()
            except BaseException:
                # SIGTERM first: meson test then stops the tests it runs.
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                raise

    def configure(self, config):
        """Configures DIR/<config> once; later runs reuse it."""
        d = self.builddir(config)
        setup = ['-Dwerror=true'] + CONFIGS[config]['setup']
        stamp = os.path.join(d, 'mutate-setup.json')
        try:
            with open(stamp) as f:
                if json.load(f) == setup and os.path.exists(
                        os.path.join(d, 'build.ninja')):
                    return True
        except (OSError, ValueError):
            pass
        shutil.rmtree(d, ignore_errors=True)
        env = dict(self.env, CC='gcc', CXX='g++')
        with open(self.log(f'{config}.setup.log'), 'w') as out:
            r = subprocess.run(['meson', 'setup', d, self.src] + setup,
                               stdout=out, stderr=subprocess.STDOUT,
                               env=env)
        if r.returncode:
            return False
        with open(stamp, 'w') as f:
            json.dump(setup, f)
        return True

    def build(self, config, logname):
        return self.run(['ninja', '-C', self.builddir(config)],
                        logname) == 0

    def introspect(self, config):
        out = subprocess.run(['meson', 'introspect', '--tests',
                              self.builddir(config)], check=True,
                             stdout=subprocess.PIPE).stdout
        tests = json.loads(out)
        suites = CONFIGS[config]['test']
        if '--suite' in suites:
            want = suites[suites.index('--suite') + 1]
            tests = [t for t in tests
                     if any(s.split(':')[-1] == want for s in t['suite'])]
        return {t['name']: t['timeout'] for t in tests}

    def meson_test(self, config, names, multiplier, logname, maxfail):
        """Runs the named tests; returns {test: result} from testlog.json
        (result: OK, FAIL, TIMEOUT, ...)."""
        d = self.builddir(config)
        testlog = os.path.join(d, 'meson-logs', 'testlog.json')
        try:
            os.remove(testlog)
        except OSError:
            pass
        cmd = self.wrap + ['meson', 'test', '-C', d, '--no-rebuild',
                           '--print-errorlogs',
                           '--timeout-multiplier', f'{multiplier:.4f}']
        if maxfail:
            cmd += ['--maxfail', '1']
        self.run(cmd + names, logname)
        results = {}
        try:
            with open(testlog) as f:
                for line in f:
                    if line.strip():
                        t = json.loads(line)
                        # "project:suite / name"
                        name = t['name'].split(' / ', 1)[-1]
                        results[name] = (t['result'], t['duration'],
                                         t.get('stdout', '') +
                                         t.get('stderr', ''))
        except (OSError, ValueError):
            pass
        with open(self.log(logname), 'a') as out:
            try:
                with open(os.path.join(d, 'meson-logs',
                                       'testlog.txt')) as f:
                    out.write('\n==== meson-logs/testlog.txt\n' + f.read())
            except OSError:
                pass
        return results

    def set_limits(self, config, declared, durations):
        mult = CONFIGS[config]['multiplier']
        limits = {}
        for n, timeout in declared.items():
            if n in durations:
                lim = max(self.args.floor, self.args.factor * durations[n])
                if timeout > 0:
                    lim = min(lim, timeout * mult)
            else:
                lim = min(timeout * mult, self.args.cap) if timeout > 0 \
                    else self.args.cap
            limits[n] = lim
        self.limits[config] = (declared, limits)
        # Fastest first; without a baseline, shortest declared timeout
        # first.
        self.tests[config] = sorted(
            declared, key=lambda n: durations.get(n, declared[n]))

    def baseline(self, config):
        """Builds and tests the unmutated copy. Returns '' or why it
        failed."""
        if not self.configure(config):
            return f'meson setup failed (logs/{config}.setup.log)'
        if not self.build(config, f'{config}.baseline.build.log'):
            return f'build failed (logs/{config}.baseline.build.log)'
        declared = self.introspect(config)
        mult = CONFIGS[config]['multiplier']
        cache = os.path.join(self.builddir(config), 'mutate-baseline.json')
        try:
            with open(cache) as f:
                saved = json.load(f)
            if saved['tree'] == self.tree and \
                    set(saved['durations']) == set(declared):
                self.flaky[config] = saved['flaky']
                self.set_limits(config, declared, saved['durations'])
                print(f'baseline {config}: passed on these sources at '
                      f'{saved["date"]} (kept in {cache})', flush=True)
                return ''
        except (OSError, ValueError, KeyError):
            pass
        if self.args.no_baseline:
            self.flaky[config] = []
            self.set_limits(config, declared, {})
            print(f'baseline {config}: not run (--no-baseline); time '
                  f'limits: the declared ones x{mult}, at most '
                  f'{self.args.cap:.0f} s', flush=True)
            return ''
        t0 = time.time()
        results = self.meson_test(config, sorted(declared), mult,
                                  f'{config}.baseline.test.log', False)
        bad = sorted(n for n in declared
                     if results.get(n, ('MISSING', 0))[0] not in PASS)
        flaky = []
        if bad:
            # A test that fails once on a loaded machine gets one more
            # try; one that passes then is reported as flaky.
            again = self.meson_test(config, bad, mult,
                                    f'{config}.baseline.retry.log', False)
            flaky = [n for n in bad if again.get(n, ('', 0))[0] in PASS]
            bad = [n for n in bad if n not in flaky]
            results.update({n: again[n] for n in flaky})
        self.flaky[config] = flaky
        print(f'baseline {config}: {len(declared)} tests, '
              f'{time.time() - t0:.0f} s' +
              (f', flaky (failed, then passed): {" ".join(flaky)}'
               if flaky else '') +
              (f', FAILED: {" ".join(bad)}' if bad else ''), flush=True)
        if bad:
            return (f'baseline fails: {" ".join(bad)} '
                    f'(logs/{config}.baseline.test.log)')
        durations = {n: results[n][1] for n in declared}
        self.set_limits(config, declared, durations)
        with open(cache, 'w') as f:
            json.dump({'tree': self.tree, 'flaky': flaky,
                       'date': time.strftime('%Y-%m-%d %H:%M'),
                       'durations': durations}, f, indent=1)
        return ''

    def test_mutant(self, config, mid):
        """Runs the suite on the built mutant: [(test, result)] of the
        tests that failed."""
        declared, limits = self.limits[config]
        # meson has one timeout multiplier a run: one run per declared
        # timeout, giving each group the limit of its slowest test. The
        # groups run in the order of their fastest test.
        groups = {}
        for n in self.tests[config]:
            groups.setdefault(declared[n], []).append(n)
        failed = []
        for k, (timeout, names) in enumerate(groups.items()):
            if timeout > 0:
                mult = max(limits[n] for n in names) / timeout
            else:
                mult = 0   # no timeout declared: none here either
            results = self.meson_test(config, names, mult,
                                      f'{mid}.test{k}.log',
                                      not self.args.all_tests)
            for n in names:
                r = results.get(n)
                # INTERRUPT: stopped by --maxfail after another failed.
                if r and r[0] not in PASS + ('INTERRUPT',):
                    failed.append((n, r[0], reason(r[2])))
            if not results and names:
                failed.append(('(meson test)', 'ERROR', ''))
            if failed and not self.args.all_tests:
                break
        return failed

    def mutate(self, m):
        path = os.path.join(self.src, m.file)
        with open(path, encoding='utf-8') as f:
            original = f.read()
        if original.count(m.find) != 1:
            m.status, m.note = 'not applied', check_applies(self.src, m)
            return
        t0 = time.time()
        try:
            with open(path, 'w', encoding='utf-8') as f:
                f.write(original.replace(m.find, m.with_, 1))
            if not self.build(m.config, f'{m.id}.build.log'):
                m.status = 'not applied'
                m.note = f'the mutant does not build (logs/{m.id}.build.log)'
                return
            failed = self.test_mutant(m.config, m.id)
        finally:
            with open(path, 'w', encoding='utf-8') as f:
                f.write(original)
            m.seconds = time.time() - t0
        m.by = failed
        m.status = 'killed' if failed else 'survived'
        flaky = self.flaky.get(m.config, [])
        if failed and all(n in flaky for n, _, _ in failed):
            m.note = 'killed only by tests that were flaky in the baseline'


def describe(m):
    if m.status == 'killed':
        what = ', '.join(n + (' (timeout)' if r == 'TIMEOUT' else
                              f' ({why})' if why else '')
                         for n, r, why in m.by)
        return f'killed by {what}' + (f' ({m.note})' if m.note else '')
    if m.status == 'not applied':
        return f'NOT APPLIED: {m.note}'
    if m.status == 'survived':
        return 'SURVIVED'
    return m.note or 'not run'


def write_markdown(path, muts, header):
    with open(path, 'w') as f:
        f.write(header + '\n\n')
        f.write('| id | file | config | mutation | result | killed by | s |\n')
        f.write('|---|---|---|---|---|---|---|\n')
        for m in muts:
            by = '; '.join('`' + n + '`' + (' (timeout)' if r == 'TIMEOUT'
                                            else f': {why}' if why else '')
                           for n, r, why in m.by).replace('|', '\\|')
            status = m.status or 'not run'
            if status == 'survived':
                status = '**survived**'
            f.write(f'| {m.id} | {m.file} | {m.config} | {m.desc} | '
                    f'{status} | {by or m.note} | {m.seconds:.0f} |\n')


def on_sigterm(signum, frame):
    # As for ^C: unwinds, so a mutated file is restored and the running
    # meson test is stopped.
    raise KeyboardInterrupt


def main():
    signal.signal(signal.SIGTERM, on_sigterm)
    ap = argparse.ArgumentParser(
        usage='tools/mutate.py [options] (--all | --sample K | ID... | '
        '--check | --list)',
        description='Mutation testing: see the top of tools/mutate.py.')
    ap.add_argument('ids', nargs='*', metavar='ID')
    ap.add_argument('--all', action='store_true')
    ap.add_argument('--sample', type=int, metavar='K')
    ap.add_argument('--seed', type=int)
    ap.add_argument('--check', action='store_true')
    ap.add_argument('--list', action='store_true')
    ap.add_argument('--rev', default='HEAD')
    ap.add_argument('--worktree', action='store_true')
    ap.add_argument('--config')
    ap.add_argument('--min-kill', type=float, metavar='PCT')
    ap.add_argument('--all-tests', action='store_true')
    ap.add_argument('--factor', type=float, default=10.0)
    ap.add_argument('--floor', type=float, default=60.0)
    ap.add_argument('--no-baseline', action='store_true')
    ap.add_argument('--cap', type=float, default=300.0)
    ap.add_argument('--markdown', metavar='FILE')
    ap.add_argument('--mutations',
                    default=os.path.join(ROOT, 'tools', 'mutations.txt'))
    ap.add_argument('--dir', default=os.path.join(ROOT, 'build-mutate'))
    args = ap.parse_args()

    modes = sum([args.all, args.sample is not None, bool(args.ids),
                 args.check, args.list])
    if modes != 1:
        ap.error('give exactly one of --all, --sample K, IDs, --check, '
                 '--list')
    muts = load_mutations(args.mutations)
    by_id = {m.id: m for m in muts}

    if args.list:
        for m in muts:
            print(f'{m.id:34} {m.config:8} {m.file:22} {m.desc}')
        print(f'{len(muts)} mutations')
        return 0

    selected = muts
    if args.config:
        want = args.config.split(',')
        bad = [c for c in want if c not in CONFIGS]
        if bad:
            ap.error(f'unknown configuration {bad}')
        selected = [m for m in selected if m.config in want]
    if args.ids:
        unknown = [i for i in args.ids if i not in by_id]
        if unknown:
            ap.error(f'unknown mutation {" ".join(unknown)}')
        selected = [by_id[i] for i in args.ids]
    elif args.sample is not None:
        seed = args.seed if args.seed is not None else \
            random.SystemRandom().randrange(1 << 31)
        print(f'mutate: sample of {args.sample}, seed {seed} '
              f'(--sample {args.sample} --seed {seed} replays it)')
        selected = random.Random(seed).sample(
            selected, min(args.sample, len(selected)))
        selected.sort(key=lambda m: muts.index(m))

    scratch = os.path.abspath(args.dir)
    os.makedirs(scratch, exist_ok=True)
    lock = open(os.path.join(scratch, '.lock'), 'w')
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        print(f'mutate: {scratch} is in use by another run; waiting',
              flush=True)
        fcntl.flock(lock, fcntl.LOCK_EX)

    if args.worktree:
        dirty = git('status', '--porcelain', '--untracked-files=no').strip()
        commit = git('rev-parse', '--short', 'HEAD').decode().strip() + \
            (' + uncommitted edits' if dirty else '')
    else:
        commit = git('rev-parse', '--short', args.rev).decode().strip()
    print(f'mutate: {len(selected)} of {len(muts)} mutations, on {commit} '
          f'({"working tree" if args.worktree else "git archive"}), '
          f'in {scratch}', flush=True)
    runner = Runner(args, scratch)
    files = source_files(args.rev, args.worktree)
    sync_tree(files, runner.src)
    runner.tree = tree_hash(files)

    # Every mutation of the list must still apply, drawn or not.
    stale = []
    for m in muts:
        why = check_applies(runner.src, m)
        if why:
            m.status, m.note = 'not applied', why
            stale.append(m)
    for m in stale:
        print(f'{m.id}: NOT APPLIED: {m.note}', flush=True)
    if args.check:
        print(f'mutate: {len(muts) - len(stale)} of {len(muts)} mutations '
              f'apply, not applied {len(stale)}')
        return 1 if stale else 0

    baselines = {}
    t_start = time.time()
    for m in selected:
        if m.status == 'not applied':
            continue
        if m.config not in baselines:
            baselines[m.config] = runner.baseline(m.config)
        if baselines[m.config]:
            m.status = 'not run'
            m.note = f'{m.config} {baselines[m.config]}'
            print(f'{m.id}: not run: {m.note}', flush=True)
            continue
        runner.mutate(m)
        print(f'{m.id}: {describe(m)} [{m.config}, {m.seconds:.0f} s]',
              flush=True)

    run = [m for m in selected if m.status in ('killed', 'survived')]
    killed = sum(m.status == 'killed' for m in run)
    survived = len(run) - killed
    not_applied = sum(m.status == 'not applied' for m in muts)
    not_run = sum(m.status == 'not run' for m in selected)
    pct = 100.0 * killed / len(run) if run else 0.0
    with open(os.path.join(scratch, 'last-run.json'), 'w') as f:
        json.dump({'commit': commit, 'argv': sys.argv[1:],
                   'date': time.strftime('%Y-%m-%d %H:%M:%S %Z'),
                   'seconds': round(time.time() - t_start),
                   'mutations': [{'id': m.id, 'file': m.file,
                                  'config': m.config, 'desc': m.desc,
                                  'status': m.status, 'by': m.by,
                                  'note': m.note,
                                  'seconds': round(m.seconds)}
                                 for m in selected]}, f, indent=1)
    if args.markdown:
        write_markdown(args.markdown, selected,
                       f'Run on {commit}, {time.strftime("%Y-%m-%d")}: '
                       f'killed {killed} of {len(run)} ({pct:.1f}%)')
    if not_run:
        print(f'mutate: {not_run} mutations not run (a baseline failed)')
    print(f'mutate: killed {killed} of {len(run)} ({pct:.1f}%), '
          f'survived {survived}, not applied {not_applied}')
    print(f'mutate: {time.time() - t_start:.0f} s', flush=True)
    if not_applied or not_run:
        return 1
    if args.min_kill is not None and pct < args.min_kill:
        print(f'mutate: kill rate {pct:.1f}% is under {args.min_kill}%')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
