#!/usr/bin/env python3
"""test_preload.py — `make test-preload`: real programs, plain and under LD_PRELOAD.

Each workload of tests/preload/workloads.py (the "test" size) runs twice in
fresh run directories under BUILD/runs/<name>/: plain (no LD_PRELOAD) and with
LD_PRELOAD=SHIM. They pass when every step's exit status and stdout are equal
byte for byte, the plain run's steps exited as expected, and no step said the
shim could not be preloaded. Before them, one case proves the shim is really
mapped into a process (/proc/self/maps of a python3 under LD_PRELOAD), and,
with --stats-env, that the shim's own statistics appear on stderr at exit,
and, with --control, that a malloc which corrupts live blocks makes the
comparison fail (so a pass means something).

Prints `preload: <name> ok (plain X.XXs, shim Y.YYs)` per case, a diff
excerpt and the command to reproduce per failure, and last
`preload: N passed, M failed` (exit 1 if any failed).

Usage: test_preload.py --build DIR --shim LIB [--stats-env VAR=VAL --stats-expect REGEX...]
                       [--control CORRUPTING_LIB] [NAME...]
"""
import argparse
import difflib
import os
import re
import shlex
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workloads  # noqa: E402

NOT_LOADED = re.compile(rb"ld\.so: object .* cannot be preloaded")


def excerpt(a, b, limit=20):
    la = a.decode("utf-8", "replace").splitlines()
    lb = b.decode("utf-8", "replace").splitlines()
    diff = list(difflib.unified_diff(la, lb, "plain", "shim", lineterm="", n=1))
    return "\n".join("    " + line[:200] for line in diff[:limit]) + ("\n    ..." if len(diff) > limit else "")


def tail(path, lines=8):
    with open(path, "rb") as f:
        text = f.read().decode("utf-8", "replace").splitlines()
    return "\n".join("    stderr: " + line[:200] for line in text[-lines:])


def command_line(w, build, size, shim):
    """The shell command that repeats a workload's shim run by hand."""
    p = w.sizes[size]
    inp = workloads.input_dir(build, size, w)
    cmds = []
    for i, st in enumerate(w.steps(p)):
        argv = [a.replace("{input}", inp).replace("{build}", build) for a in st.argv]
        stdin = ""
        if st.stdin and st.stdin.startswith("@"):
            stdin = " < step%s.out" % st.stdin[1:]
        elif st.stdin:
            stdin = " < " + shlex.quote(st.stdin.replace("{input}", inp))
        cmds.append("LD_PRELOAD=%s %s%s > step%d.out" % (shlex.quote(shim), " ".join(map(shlex.quote, argv)), stdin, i))
    return "cd %s && %s" % (shlex.quote(os.path.join(build, "runs", w.name, "shim")), " && ".join(cmds))


def check_loaded(build, shim, stats_env, stats_expect):
    """The shim is really in the process: its file is mapped, and (pfalloc) it reports at exit."""
    real = os.path.realpath(shim)
    env = dict(workloads.BASE_ENV, LD_PRELOAD=shim)
    r = subprocess.run([workloads.PYTHON, "-c", "print(open('/proc/self/maps').read())"],
                       env=env, capture_output=True)
    maps = r.stdout.decode()
    problems = []
    if r.returncode != 0 or not any(line.endswith(real) for line in maps.splitlines()):
        problems.append("%s is not in /proc/self/maps of `LD_PRELOAD=%s %s -c ...` (exit %d)\n%s"
                        % (real, shim, workloads.PYTHON, r.returncode, r.stderr.decode()[-500:]))
    if stats_env:
        var, _, val = stats_env.partition("=")
        env[var] = val
        r = subprocess.run([os.path.join(build, "xthread_prog"), "200"], env=env, capture_output=True)
        err = r.stderr.decode("utf-8", "replace")
        missing = [rx for rx in stats_expect if not re.search(rx, err, re.M)]
        if r.returncode != 0 or missing:
            problems.append("`%s=%s LD_PRELOAD=%s %s/xthread_prog 200` exit %d, stderr lacks /%s/:\n%s"
                            % (var, val, shim, build, r.returncode, "/, /".join(missing), err[-800:]))
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--shim", required=True)
    ap.add_argument("--size", default="test")
    ap.add_argument("--stats-env", default="")
    ap.add_argument("--stats-expect", action="append", default=[])
    ap.add_argument("--control", default="", help="a corrupting malloc (corrupting_malloc.c): the xthread "
                    "and gcc workloads must FAIL under it, or the comparison proves nothing")
    ap.add_argument("names", nargs="*")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    shim = os.path.abspath(args.shim)
    if not os.path.exists(shim):
        print("preload: no shim at %s" % shim)
        return 1
    passed = failed = 0

    problems = check_loaded(build, shim, args.stats_env, args.stats_expect)
    if problems:
        failed += 1
        print("preload: shim-loaded FAILED\n  " + "\n  ".join(problems))
    else:
        passed += 1
        print("preload: shim-loaded ok (%s mapped%s)" % (os.path.basename(shim),
              ", %s prints its statistics" % args.stats_env if args.stats_env else ""))

    if args.control:
        caught = []
        for w in workloads.for_size(args.size, ["xthread", "gcc"]):
            workloads.prepare(build, args.size, w)
            runs = os.path.join(build, "runs", w.name)
            plain = workloads.run(build, args.size, w, os.path.join(runs, "plain"))
            bad = workloads.run(build, args.size, w, os.path.join(runs, "control"), preload=os.path.abspath(args.control))
            if workloads.output_of(plain) != workloads.output_of(bad):
                caught.append(w.name)
        if len(caught) == 2:
            passed += 1
            print("preload: control ok (a malloc that corrupts live blocks is caught by xthread and gcc)")
        else:
            failed += 1
            print("preload: control FAILED: under %s the outputs of %s equal the plain run's"
                  % (args.control, " and ".join(sorted({"xthread", "gcc"} - set(caught)))))

    for w in workloads.for_size(args.size, args.names):
        workloads.prepare(build, args.size, w)
        runs = os.path.join(build, "runs", w.name)
        plain = workloads.run(build, args.size, w, os.path.join(runs, "plain"))
        shimmed = workloads.run(build, args.size, w, os.path.join(runs, "shim"), preload=shim)
        why = []
        if plain.failed_step:
            i, argv = plain.failed_step
            why.append("plain run: step %d exited %d: %s\n%s" % (i, plain.statuses[i], " ".join(argv), tail(plain.stderr_paths[i])))
        for i, path in enumerate(shimmed.stderr_paths):
            with open(path, "rb") as f:
                if NOT_LOADED.search(f.read()):
                    why.append("shim run: step %d: the shim was not preloaded\n%s" % (i, tail(path)))
        a, b = workloads.output_of(plain), workloads.output_of(shimmed)
        if a != b:
            bad = [i for i, (x, y) in enumerate(zip(plain.statuses, shimmed.statuses)) if x != y]
            msg = "output differs (exit statuses plain %s, shim %s)" % (plain.statuses, shimmed.statuses)
            for i in bad[:1]:
                msg += "\n  shim step %d:\n%s" % (i, tail(shimmed.stderr_paths[i]))
            why.append(msg + "\n" + excerpt(a, b))
        if why:
            failed += 1
            print("preload: %s FAILED\n  %s\n  reproduce: %s" % (w.name, "\n  ".join(why), command_line(w, build, args.size, shim)))
        else:
            passed += 1
            print("preload: %s ok (plain %.2fs, shim %.2fs)" % (w.name, plain.wall, shimmed.wall))
        sys.stdout.flush()
    print("preload: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
