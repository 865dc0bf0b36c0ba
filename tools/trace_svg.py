#!/usr/bin/env python3
"""Draws a weft trace (WEFT_TRACE or weft_trace_stop JSON) as an SVG
timeline: one lane per worker, with its task slices stacked by nesting
depth and its steal, park and wake events, and a lane for the external
submits above them. Python standard library only.

usage: tools/trace_svg.py TRACE.json OUT.svg [--pool N] [--from US]
                          [--to US] [--width PX] [--rows N] [--title TEXT]

  --pool N     the pool to draw (its number in "weft pool N"); default:
               the first in the file
  --from, --to the window, in microseconds from the pool's first event;
               default: from the first task (or submit) to the end of
               the last task, with a small margin
  --width PX   the drawing's width (default 1200)
  --rows N     nesting levels drawn per worker (default 5; deeper slices
               share the last row); rows get thinner past 5
  --title      a heading (default: the pool's name and the window)

Slices narrower than a pixel are merged with their neighbours in the
same lane and row; a merged block takes the colour of its longest task
and its tooltip says how many tasks it holds. Every mark has a tooltip
(<title>) in a browser.
"""
import argparse
import collections
import colorsys
import json
import sys
from xml.sax.saxutils import escape

ROW_H = 14          # one nesting level of slices, up to 5 levels
LANE_GAP = 10
MARK_H = 8          # steal, park, wake marks
SUBMIT_LANE_H = 18
LEFT = 150          # room for the lane names
TOP = 58
AXIS_TICKS = 10


def colour(name):
    """A stable colour per function name."""
    h = 0
    for ch in name:
        h = (h * 131 + ord(ch)) & 0xffffffff
    r, g, b = colorsys.hls_to_rgb((h % 360) / 360.0, 0.62, 0.55)
    return '#%02x%02x%02x' % (int(r * 255), int(g * 255), int(b * 255))


def fmt_us(us, step=None):
    """A time; with step (the axis' tick spacing), with the digits that
    tell ticks apart."""
    for unit, scale in (('s', 1e6), ('ms', 1e3), ('us', 1.0)):
        if abs(us) >= scale or unit == 'us':
            if step is None:
                return '%.3g %s' % (us / scale, unit)
            digits = 0
            while digits < 6 and round(step / scale, digits) == 0 or \
                    abs(round(step / scale, digits) - step / scale) > \
                    step / scale * 1e-6 and digits < 6:
                digits += 1
            return '%.*f %s' % (digits, us / scale, unit)


def load(path, pool):
    with open(path) as f:
        events = json.load(f)['traceEvents']
    names = {}
    for e in events:
        if e.get('ph') == 'M' and e.get('name') == 'process_name':
            names[e['pid']] = e['args']['name']
    if not names:
        sys.exit('%s: no weft pool in this trace' % path)
    pid = pool if pool is not None else min(names)
    if pid not in names:
        sys.exit('%s: no pool %d (pools: %s)' % (path, pid, sorted(names)))
    evs = [e for e in events if e.get('pid') == pid]
    return names[pid], evs


def depths(slices):
    """Nesting depth of each (start, end, ...) slice of one lane."""
    out = []
    stack = []
    for s in sorted(slices, key=lambda s: (s[0], -s[1])):
        while stack and stack[-1] <= s[0]:
            stack.pop()
        out.append((len(stack), s))
        stack.append(s[1])
    return out


def merge(slices, px):
    """Merges a row's slices (start, end, name) whose pixels touch.
    Returns (start, end, name of the longest, count, busy us)."""
    out = []
    for s, e, name in sorted(slices):
        if out and px(s) - px(out[-1][1]) < 1.0:
            m = out[-1]
            longest = m[5]
            if e - s > longest:
                m[2], m[5] = name, e - s
            m[1] = max(m[1], e)
            m[3] += 1
            m[4] += e - s
        else:
            out.append([s, e, name, 1, e - s, e - s])
    return [tuple(m[:5]) for m in out]


class Svg:
    def __init__(self):
        self.parts = []

    def add(self, s):
        self.parts.append(s)

    def rect(self, x, y, w, h, fill, title=None, extra=''):
        t = '<title>%s</title>' % escape(title) if title else ''
        self.add('<rect x="%.2f" y="%.2f" width="%.2f" height="%.2f" '
                 'fill="%s"%s>%s</rect>' % (x, y, max(w, 0.6), h, fill,
                                            extra, t))

    def text(self, x, y, s, size=11, anchor='start', weight='normal',
             fill='#222'):
        self.add('<text x="%.1f" y="%.1f" font-size="%d" text-anchor="%s" '
                 'font-weight="%s" fill="%s">%s</text>' %
                 (x, y, size, anchor, weight, fill, escape(s)))

    def mark(self, x, y, kind, title):
        """A small triangle: down for park, up for wake, a diamond for
        steal."""
        h = MARK_H
        if kind == 'park':
            pts, fill = [(x - 4, y), (x + 4, y), (x, y + h)], '#555'
        elif kind == 'wake':
            pts, fill = [(x - 4, y + h), (x + 4, y + h), (x, y)], '#1a9850'
        elif kind == 'steal':
            pts = [(x, y), (x + 4, y + h / 2), (x, y + h), (x - 4, y + h / 2)]
            fill = '#d73027'
        else:
            pts = [(x - 5, y), (x + 5, y), (x + 5, y + h), (x - 5, y + h)]
            fill = '#000'
        self.add('<polygon points="%s" fill="%s"><title>%s</title>'
                 '</polygon>' % (' '.join('%.1f,%.1f' % p for p in pts),
                                 fill, escape(title)))


def draw(path, out, pool, t_from, t_to, width, title, max_rows):
    row_h = ROW_H if max_rows <= 5 else max(4, ROW_H * 5 // max_rows)
    pool_name, evs = load(path, pool)
    threads = {e['tid']: e['args']['name'] for e in evs
               if e.get('ph') == 'M' and e.get('name') == 'thread_name'}
    sort = {e['tid']: e['args']['sort_index'] for e in evs
            if e.get('ph') == 'M' and e.get('name') == 'thread_sort_index'}
    timed = [e for e in evs if e.get('ph') in ('X', 'i')]
    if not timed:
        sys.exit('%s: the pool has no events' % path)
    origin = min(e['ts'] for e in timed)
    busy = [e for e in timed if e['ph'] == 'X' or e['name'] == 'submit']
    busy = busy or timed
    first = min(e['ts'] for e in busy)
    last = max(e['ts'] + e.get('dur', 0) for e in busy)
    margin = (last - first) * 0.02
    lo = origin + t_from if t_from is not None else max(origin,
                                                        first - margin)
    hi = origin + t_to if t_to is not None else last + margin
    if hi <= lo:
        sys.exit('empty window')
    plot_w = width - LEFT - 20

    def px(ts):
        return LEFT + (ts - lo) / (hi - lo) * plot_w

    external = [t for t, n in threads.items() if n == 'external submits']
    workers = sorted((t for t in threads if t not in external),
                     key=lambda t: sort.get(t, 0))
    summary = next((e['args'] for e in evs
                    if e.get('name') == 'weft trace summary'), {})

    svg = Svg()
    y = TOP
    lanes = []   # (tid, y, height)
    if external:
        lanes.append((external[0], y, SUBMIT_LANE_H))
        y += SUBMIT_LANE_H + LANE_GAP
    slices = collections.defaultdict(list)
    marks = collections.defaultdict(list)
    submits = []
    for e in timed:
        s, d = e['ts'], e.get('dur', 0)
        if s + d < lo or s > hi:
            continue
        if e['ph'] == 'X':
            slices[e['tid']].append((max(s, lo), min(s + d, hi), e['name'],
                                     e))
        elif e['name'] == 'submit':
            submits.append(e)
        elif e['name'] in ('steal', 'park', 'wake', 'trace buffer full'):
            marks[e['tid']].append(e)
    rows_of = {}
    for tid in workers:
        rows = 1
        placed = collections.defaultdict(list)
        for depth, s in depths(slices[tid]):
            row = min(depth, max_rows - 1)
            rows = max(rows, row + 1)
            placed[row].append(s[:3])
        rows_of[tid] = (rows, placed)
        h = rows * row_h + MARK_H + 4
        lanes.append((tid, y, h))
        y += h + LANE_GAP
    height = y + 70

    svg.add('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
            'font-family="sans-serif">' % (width, height))
    svg.rect(0, 0, width, height, '#ffffff')
    heading = title or '%s, %s to %s' % (pool_name, fmt_us(lo - origin),
                                         fmt_us(hi - origin))
    svg.text(LEFT, 18, heading, size=14, weight='bold')
    # The time axis.
    axis_y = TOP - 14
    svg.add('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>' %
            (LEFT, axis_y, LEFT + plot_w, axis_y))
    for i in range(AXIS_TICKS + 1):
        t = lo + (hi - lo) * i / AXIS_TICKS
        x = px(t)
        svg.add('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ccc"/>' %
                (x, axis_y, x, y))
        svg.text(x, axis_y - 4, fmt_us(t - origin, (hi - lo) / AXIS_TICKS),
                 size=10,
                 anchor='middle', fill='#555')
    totals = collections.Counter()
    for tid, ly, lh in lanes:
        name = threads.get(tid, str(tid))
        svg.rect(LEFT, ly, plot_w, lh, '#f4f4f4')
        svg.text(LEFT - 8, ly + min(lh, 16) - 3, name, anchor='end',
                 weight='bold' if tid in workers else 'normal')
        if tid in external:
            # Submits merged per pixel column.
            cols = collections.Counter(int(px(e['ts'])) for e in submits)
            for x, n in sorted(cols.items()):
                svg.rect(x, ly + 2, 1.2, lh - 4, '#4575b4',
                         '%d submit(s) at %s' %
                         (n, fmt_us((x - LEFT) / plot_w * (hi - lo) +
                                    lo - origin)))
            continue
        rows, placed = rows_of[tid]
        for row in range(rows):
            for s, e, fn, count, busy in merge(placed[row], px):
                totals[fn] += busy
                tip = ('%s: %s at %s' % (fn, fmt_us(e - s), fmt_us(s - origin))
                       if count == 1 else
                       '%d tasks, %s busy in %s (longest: %s)' %
                       (count, fmt_us(busy), fmt_us(e - s), fn))
                svg.rect(px(s), ly + row * row_h + 1, px(e) - px(s),
                         row_h - (2 if row_h > 6 else 1), colour(fn), tip)
        my = ly + rows * row_h + 2
        for e in marks[tid]:
            kind = e['name']
            tip = '%s at %s' % (kind, fmt_us(e['ts'] - origin))
            if kind == 'steal':
                tip += ' from %s' % e['args'].get('victim')
            if kind == 'trace buffer full':
                tip += ': %s events dropped' % e['args'].get('dropped')
                kind = 'full'
            svg.mark(px(e['ts']), my, kind, tip)
    # The legend: the functions with the most time, then the marks.
    ly = y + 8
    x = LEFT
    for fn, _ in totals.most_common(6):
        label = fn if len(fn) <= 28 else fn[:27] + '…'
        svg.rect(x, ly, 12, 12, colour(fn))
        svg.text(x + 16, ly + 10, label)
        x += 28 + 7 * len(label)
    ly += 22
    x = LEFT
    for kind, label in (('steal', 'steal'), ('park', 'park'),
                        ('wake', 'wake')):
        svg.mark(x + 4, ly, kind, label)
        svg.text(x + 14, ly + 8, label)
        x += 70
    svg.rect(x, ly, 2, MARK_H, '#4575b4')
    svg.text(x + 8, ly + 8, 'external submit')
    x += 130
    if summary:
        svg.text(x, ly + 8, 'whole trace: %s tasks, %s stolen, %s parks, '
                 '%s dropped' % (summary.get('executed'),
                                 summary.get('stolen'), summary.get('parks'),
                                 summary.get('dropped')), fill='#555')
    svg.add('</svg>')
    with open(out, 'w') as f:
        f.write('\n'.join(svg.parts) + '\n')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('trace')
    ap.add_argument('out')
    ap.add_argument('--pool', type=int)
    ap.add_argument('--from', dest='t_from', type=float)
    ap.add_argument('--to', dest='t_to', type=float)
    ap.add_argument('--width', type=int, default=1200)
    ap.add_argument('--rows', type=int, default=5)
    ap.add_argument('--title')
    a = ap.parse_args()
    if a.rows < 1:
        ap.error('--rows must be at least 1')
    draw(a.trace, a.out, a.pool, a.t_from, a.t_to, a.width, a.title,
         a.rows)


if __name__ == '__main__':
    main()
