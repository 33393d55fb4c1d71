#!/usr/bin/env python3
"""bench_real.py — `make bench-real`: real programs timed under several mallocs.

The workloads of tests/preload/workloads.py at their "bench" size (plus the
start-up cases /bin/true and python3 -c pass) run under each allocator given
with --alloc NAME=LIB (LIB empty: no LD_PRELOAD, the system's glibc malloc).
Runs are interleaved: each round runs every workload once under every
allocator, the allocator order rotated each round, so a burst of load on this
shared machine hits all of them alike. A start-up sample is the median of
--startup-reps runs (one run is about a millisecond). Per workload and
allocator: the median wall time over rounds and the median peak RSS
(ru_maxrss from os.wait4: the largest of any process of the run).

Every run's output is compared with the first plain run's; an allocator whose
output differs is reported (DIFFERS) and its figures are not ranked.

Writes OUT/results.json (every sample), OUT/results.md (tables, targets), OUT/readme.md
(the README's compact table; --splice puts it between the README's markers) and
OUT/results.svg (grouped bars, time and peak RSS relative to glibc), and
prints the tables and one `met` / `MISSED` line per target:
  - pfalloc ahead of glibc on every workload (wall time),
  - pfalloc within 1.1x the best peer on every workload (wall time),
  - start-up (the start-up cases): wall time and peak RSS within 1.2x of glibc.

Standard library only. Usage:
  bench_real.py --out DIR --inputs DIR --rounds N --alloc glibc= --alloc pfalloc=LIB ... [NAME...]
"""
import argparse
import hashlib
import json
import os
import platform
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
import workloads  # noqa: E402
from memsvg import Svg  # noqa: E402  (the project's SVG writer)

OURS = "pfalloc"
BASE = "glibc"
PEER_TARGET = 1.1
STARTUP_TARGET = 1.2
COLOURS = {"glibc": "#969696", "jemalloc": "#6baed6", "mimalloc": "#74c476", "tcmalloc": "#fd8d3c", "pfalloc": "#756bb1"}


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def measure(inputs, w, alloc, lib, run_dir, reps):
    """One sample: (wall seconds, peak RSS KiB, output bytes, failure text or None)."""
    walls, rss, out, fail = [], 0, None, None
    for _ in range(reps):
        res = workloads.run(inputs, "bench", w, run_dir, preload=lib or None)
        walls.append(res.wall)
        rss = max(rss, res.maxrss_kib)
        out = workloads.output_of(res)
        if res.failed_step and not fail:
            i, argv = res.failed_step
            with open(res.stderr_paths[i], "rb") as f:
                err = f.read().decode("utf-8", "replace").strip().splitlines()[-3:]
            fail = "step %d exited %d: %s | %s" % (i, res.statuses[i], " ".join(argv), " / ".join(err))
    return statistics.median(walls), rss, out, fail


def shown(lib):
    """A library's path as the report shows it: relative to the tree when inside it."""
    if not lib:
        return "(no LD_PRELOAD)"
    rel = os.path.relpath(lib)
    return lib if rel.startswith("..") else rel


def fmt_time(s):
    return "%.3f s" % s if s < 10 else "%.1f s" % s


def fmt_ms(s):
    return "%.1f ms" % (s * 1000)


def fmt_rss(kib):
    return "%.1f MiB" % (kib / 1024.0)


def summarise(data, allocs, names):
    """Medians and ratios per workload: {name: {alloc: (wall, rss)}, ...}."""
    med = {}
    for n in names:
        med[n] = {}
        for a in allocs:
            s = data[n][a]
            if s["wall"]:
                med[n][a] = (statistics.median(s["wall"]), statistics.median(s["rss"]))
    return med


def best_peer(med_n, bad, key):
    peers = [(v[key], a) for a, v in med_n.items() if a not in (OURS, BASE) and a not in bad]
    return min(peers) if peers else (None, None)


def tables(med, allocs, wl, data):
    lines = []
    startup = [w.name for w in wl if w.startup]
    for key, title, fmt in ((0, "Wall time (median)", None), (1, "Peak RSS (median)", fmt_rss)):
        lines.append("### %s" % title)
        lines.append("")
        lines.append("| workload | " + " | ".join(allocs) + " | %s/%s | %s/best peer |" % (OURS, BASE, OURS))
        lines.append("|---|" + "---:|" * len(allocs) + "---:|---:|")
        for w in wl:
            n = w.name
            f = fmt or (fmt_ms if n in startup else fmt_time)
            bad = data[n]["differs"]
            cells = []
            for a in allocs:
                if a not in med[n]:
                    cells.append("—")
                else:
                    cells.append(f(med[n][a][key]) + (" DIFFERS" if a in bad else ""))
            ratio_base = ratio_peer = "—"
            if OURS in med[n] and BASE in med[n] and OURS not in bad:
                ratio_base = "%.2fx" % (med[n][OURS][key] / med[n][BASE][key])
                pv, pa = best_peer(med[n], bad, key)
                if pv:
                    ratio_peer = "%.2fx (%s)" % (med[n][OURS][key] / pv, pa)
            lines.append("| %s | %s | %s | %s |" % (n, " | ".join(cells), ratio_base, ratio_peer))
        lines.append("")
    return lines


def compact(med, allocs, wl, data, head):
    """The README's table: wall-time medians, pfalloc's ratios, pfalloc's peak RSS vs glibc's."""
    lines = [head, "", "| workload | " + " | ".join(allocs) + " | %s / %s | %s / best peer | peak RSS %s / %s |"
             % (OURS, BASE, OURS, OURS, BASE), "|---|" + "---:|" * (len(allocs) + 3)]
    for w in wl:
        n, m, bad = w.name, med[w.name], data[w.name]["differs"]
        f = fmt_ms if w.startup else fmt_time
        cells = [(f(m[a][0]) + (" DIFFERS" if a in bad else "")) if a in m else "—" for a in allocs]
        rb = rp = rr = "—"
        if OURS in m and BASE in m and OURS not in bad:
            rb = "%.2fx" % (m[OURS][0] / m[BASE][0])
            rr = "%.2fx" % (m[OURS][1] / m[BASE][1])
            pv, pa = best_peer(m, bad, 0)
            if pv:
                rp = "%.2fx (%s)" % (m[OURS][0] / pv, pa)
        lines.append("| %s | %s | %s | %s | %s |" % (n, " | ".join(cells), rb, rp, rr))
    return lines


def splice(readme, snippet):
    """Replaces the README's text between the bench-real markers with the snippet."""
    begin, end = "<!-- bench-real:begin -->", "<!-- bench-real:end -->"
    text = open(readme).read()
    if begin not in text or end not in text:
        raise SystemExit("%s has no %s ... %s block" % (readme, begin, end))
    new = open(snippet).read().rstrip("\n")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(readme, "w") as f:
        f.write(head + begin + "\n" + new + "\n" + end + tail)


def targets(med, wl, data):
    out = []
    for w in wl:
        n = w.name
        m = med[n]
        if OURS not in m or BASE not in m:
            out.append("MISSED %s: no %s figures" % (n, OURS if OURS not in m else BASE))
            continue
        if OURS in data[n]["differs"]:
            out.append("MISSED %s: %s output DIFFERS from glibc's (%s)" % (n, OURS, data[n]["differs"][OURS]))
            continue
        t, r = m[OURS]
        tb, rb = m[BASE]
        if w.startup:
            for what, ours, base in (("wall", t, tb), ("peak RSS", r, rb)):
                ok = ours <= STARTUP_TARGET * base
                out.append("%s start-up %s %s: %.2fx of no shim (target <= %.1fx)"
                           % ("met" if ok else "MISSED", n, what, ours / base, STARTUP_TARGET))
            continue
        out.append("%s %s: %.2fx glibc's time (target < 1.00x)" % ("met" if t < tb else "MISSED", n, t / tb))
        pv, pa = best_peer(m, data[n]["differs"], 0)
        if pv:
            out.append("%s %s: %.2fx the best peer's time, %s (target <= %.1fx)"
                       % ("met" if t <= PEER_TARGET * pv else "MISSED", n, t / pv, pa, PEER_TARGET))
    return out


def chart(med, allocs, wl, data, title, path):
    """Grouped bars per workload: time and peak RSS relative to glibc (= 1)."""
    names = [w.name for w in wl]
    group_w = 24 * len(allocs) + 26
    left, top, panel_h, gap = 70, 60, 230, 90
    width = left + group_w * len(names) + 30
    height = top + 2 * (panel_h + gap) + 20
    svg = Svg()
    svg.add('<?xml version="1.0" encoding="UTF-8"?>')
    svg.add('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
            'font-family="DejaVu Sans, Verdana, sans-serif">' % (width, height, width, height))
    svg.rect(0, 0, width, height, "#ffffff")
    svg.text(left, 24, title, 15, extra=' font-weight="bold"')
    # Legend.
    x = left
    for a in allocs:
        svg.rect(x, 34, 12, 12, COLOURS.get(a, "#444444"))
        svg.text(x + 16, 44, a, 11)
        x += 20 + 8 * len(a) + 20
    for p, (key, label) in enumerate(((0, "wall time / glibc's (lower is better)"), (1, "peak RSS / glibc's (lower is better)"))):
        y0 = top + p * (panel_h + gap) + 20
        ratios = [med[n][a][key] / med[n][BASE][key] for n in names for a in allocs
                  if a in med[n] and BASE in med[n] and med[n][BASE][key] > 0]
        ymax = max([1.25] + [min(r, 4.0) for r in ratios]) * 1.1
        svg.text(left, y0 - 6, label, 12, extra=' font-weight="bold"')

        def ypos(v):
            return y0 + panel_h - panel_h * min(v, ymax) / ymax
        tick = 0.0
        step = 0.25 if ymax <= 2 else 0.5
        while tick <= ymax:
            svg.add('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s" stroke-width="%s"%s/>'
                    % (left, ypos(tick), width - 20, ypos(tick), "#333" if tick == 1.0 else "#e0e0e0",
                       "1.2" if tick == 1.0 else "1", ' stroke-dasharray="4,3"' if tick == 1.0 else ""))
            svg.text(left - 6, ypos(tick) + 4, "%.2f" % tick, 10, "end")
            tick += step
        for gi, n in enumerate(names):
            gx = left + 10 + gi * group_w
            for ai, a in enumerate(allocs):
                if a not in med[n] or BASE not in med[n] or med[n][BASE][key] <= 0:
                    continue
                v = med[n][a][key] / med[n][BASE][key]
                bx = gx + ai * 24
                tip = "%s, %s: %.2fx glibc%s" % (n, a, v, " (output DIFFERS)" if a in data[n]["differs"] else "")
                svg.rect(bx, ypos(v), 20, y0 + panel_h - ypos(v), COLOURS.get(a, "#444444"), title=tip,
                         extra=' stroke="#d62728" stroke-width="2"' if a in data[n]["differs"] else "")
                svg.text(bx + 10, ypos(v) - 3, ("%.2f" % v) if v < 10 else "%.0f" % v, 8, "middle")
            svg.text(gx + 12 * len(allocs), y0 + panel_h + 16, n, 11, "middle")
    svg.add("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(svg.out) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    ap.add_argument("--inputs", help="build/preload: generated inputs and xthread_prog")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--startup-reps", type=int, default=21)
    ap.add_argument("--alloc", action="append", default=[], help="NAME=LIB (empty LIB: no preload)")
    ap.add_argument("--label", default="")
    ap.add_argument("--splice", nargs=2, metavar=("README", "SNIPPET"),
                    help="only put SNIPPET (a run's readme.md) between README's bench-real markers")
    ap.add_argument("names", nargs="*")
    args = ap.parse_args()
    if args.splice:
        splice(*args.splice)
        return 0
    out = os.path.abspath(args.out)
    inputs = os.path.abspath(args.inputs)
    os.makedirs(out, exist_ok=True)
    allocs, libs = [], {}
    for spec in args.alloc:
        name, _, lib = spec.partition("=")
        if lib and not os.path.exists(lib):
            print("bench-real: %s: no library at %s, left out" % (name, lib))
            continue
        allocs.append(name)
        libs[name] = os.path.abspath(lib) if lib else ""
    if BASE not in allocs:
        raise SystemExit("bench-real: the base allocator %s= is required" % BASE)
    wl = workloads.for_size("bench", args.names)
    for w in wl:
        workloads.prepare(inputs, "bench", w)
    load_before = open("/proc/loadavg").read().split()[:3]
    started = time.time()
    data = {w.name: {"differs": {}, "failed": {}, **{a: {"wall": [], "rss": []} for a in allocs}} for w in wl}
    outputs = {}   # (workload, allocator) -> sha256 of each round's output
    for r in range(args.rounds):
        for w in wl:
            order = allocs[r % len(allocs):] + allocs[:r % len(allocs)]
            reps = args.startup_reps if w.startup else 1
            line = []
            for a in order:
                run_dir = os.path.join(out, "runs", w.name, a)
                wall, rss, output, fail = measure(inputs, w, a, libs[a], run_dir, reps)
                if fail:
                    data[w.name]["failed"].setdefault(a, fail)
                outputs.setdefault((w.name, a), []).append(hashlib.sha256(output).hexdigest())
                data[w.name][a]["wall"].append(wall)
                data[w.name][a]["rss"].append(rss)
                line.append("%s %s" % (a, fmt_ms(wall) if w.startup else "%.2fs" % wall))
            print("bench-real: round %d/%d %-14s %s" % (r + 1, args.rounds, w.name, ", ".join(line)))
            sys.stdout.flush()
    # Every run's output against glibc's first.
    for w in wl:
        ref = outputs[(w.name, BASE)][0]
        for a in allocs:
            if any(h != ref for h in outputs[(w.name, a)]):
                data[w.name]["differs"][a] = data[w.name]["failed"].get(a) or \
                    "stdout differs from glibc's in a round (last run: %s)" % os.path.join(out, "runs", w.name, a)
    names = [w.name for w in wl]
    med = summarise(data, allocs, names)
    load_after = open("/proc/loadavg").read().split()[:3]
    head = ("Real programs, %d interleaved rounds (start-up cases: median of %d runs per round); %s, %d CPUs; "
            "load average %s before, %s after; %.0f s; %s"
            % (args.rounds, args.startup_reps, cpu_model(), os.cpu_count(), " ".join(load_before),
               " ".join(load_after), time.time() - started, args.label))
    md = ["## Real programs under LD_PRELOAD (`make bench-real`)", "", head, "",
          "Libraries: " + ", ".join("%s %s" % (a, shown(libs[a])) for a in allocs) + ".", "",
          "| workload | what |", "|---|---|"]
    md += ["| %s | %s |" % (w.name, w.what) for w in wl]
    md.append("")
    md += tables(med, allocs, wl, data)
    tl = targets(med, wl, data)
    md += ["### Targets", "", "```"] + tl + ["```", ""]
    problems = ["%s under %s: %s" % (n, a, why) for n in names for a, why in data[n]["differs"].items()]
    problems += ["%s under %s: %s" % (n, a, why) for n in names for a, why in data[n]["failed"].items()
                 if a not in data[n]["differs"]]
    if problems:
        md += ["### Runs that failed or whose output differs from glibc's", ""] + ["- " + p for p in problems] + [""]
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(md))
    short = ("%d interleaved rounds, medians; %s, %d CPUs, load average %s before, %s after; %s"
             % (args.rounds, cpu_model(), os.cpu_count(), " ".join(load_before), " ".join(load_after), args.label))
    with open(os.path.join(out, "readme.md"), "w") as f:
        f.write("\n".join(compact(med, allocs, wl, data, short)) + "\n")
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"header": head, "allocators": libs, "rounds": args.rounds, "samples": data,
                   "medians": {n: {a: {"wall_s": v[0], "maxrss_kib": v[1]} for a, v in med[n].items()} for n in names},
                   "targets": tl}, f, indent=1)
    chart(med, allocs, wl, data, "Real programs under LD_PRELOAD: medians relative to glibc (%s)" % args.label,
          os.path.join(out, "results.svg"))
    print("\n".join(md[md.index("### Wall time (median)"):]))
    print("bench-real: wrote %s/results.{md,json,svg}" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
