"""workloads.py — the real-program workloads, defined once for two users:
`make test-preload` (tests/preload/test_preload.py: each workload at the
"test" size, run plain and under LD_PRELOAD, outputs compared byte for byte)
and `make bench-real` (tests/preload/bench_real.py: the "bench" size, timed
under several allocators).

A workload is a list of steps run one after another in a fresh run
directory. A step is one program invocation (argv, optional stdin file,
stdout kept to a file); the run's "output" is every step's exit status and
stdout bytes. Every program of every step runs under the allocator being
tested (LD_PRELOAD is in the step's environment, so children such as cc1, as
and ld inherit it). Inputs are generated from fixed seeds into
build/preload/inputs/<size>/ before any run and are only read by the steps.

Invariants: a workload's output depends only on its inputs and size, never on
timing, addresses or the allocator (hash orders are fixed by
PYTHONHASHSEED/PERL_HASH_SEED or sorted away); a plain run exits 0 in every
step unless the step says otherwise.

Standard library only.
"""
import os
import random
import shutil
import signal
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"   # Debian's, not a pyenv shim (a shell script)

# The environment every step gets: nothing inherited but what is listed, so a
# developer's locale, git config or PYTHON* variables change nothing.
BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LC_ALL": "C", "LANG": "C", "TZ": "UTC",
    "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
    "PERL_HASH_SEED": "0", "PERL_PERTURB_KEYS": "0",
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_AUTHOR_NAME": "pfalloc test", "GIT_AUTHOR_EMAIL": "test@pfalloc.invalid",
    "GIT_COMMITTER_NAME": "pfalloc test", "GIT_COMMITTER_EMAIL": "test@pfalloc.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
}


class Step:
    """One program run. argv may name {input} (the input directory) and
    {build} (the build directory, for project binaries); stdin is a path
    (same substitutions) or a previous step's stdout, named "@<index>"."""

    def __init__(self, argv, stdin=None, env=None, expect=0):
        self.argv, self.stdin, self.env, self.expect = argv, stdin, env or {}, expect


class Workload:
    def __init__(self, name, what, sizes, gen, steps, setup=None, startup=False):
        self.name = name          # one word, used in file names and tables
        self.what = what          # one line for the README
        self.sizes = sizes        # {"test": params, "bench": params}
        self.gen = gen            # gen(input_dir, params): writes the inputs
        self.steps = steps        # steps(params) -> [Step]
        self.setup = setup        # setup(input_dir, run_dir, params): untimed copy into the run dir
        self.startup = startup    # a start-up case (bench-real's 1.2x target)


# ---- input generators (fixed seeds) -------------------------------------------------

SYLL = ["ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "vu", "xe", "ya", "zo", "an", "el", "in", "on", "un"]


def _word(rng):
    return "".join(rng.choice(SYLL) for _ in range(rng.randint(1, 4)))


def gen_lines(path, lines, seed):
    rng = random.Random(seed)
    with open(path, "w") as f:
        for i in range(lines):
            f.write("%s %d %s %s\n" % (_word(rng), rng.randint(0, 10**9), _word(rng), "%08x" % rng.getrandbits(32)))


def gen_text(path, lines, seed):
    rng = random.Random(seed)
    with open(path, "w") as f:
        for _ in range(lines):
            f.write(" ".join(_word(rng) for _ in range(rng.randint(0, 16))) + "\n")


def gen_sort(d, p):
    gen_lines(os.path.join(d, "lines.txt"), p["lines"], 1)


def gen_awk(d, p):
    gen_text(os.path.join(d, "text.txt"), p["lines"], 2)


def gen_xz(d, p):
    # Compressible but not trivially: text with random numbers mixed in.
    rng = random.Random(3)
    with open(os.path.join(d, "data"), "w") as f:
        size = 0
        while size < p["bytes"]:
            line = "%s %d %s\n" % (_word(rng), rng.getrandbits(24), " ".join(_word(rng) for _ in range(rng.randint(1, 10))))
            f.write(line)
            size += len(line)


def gen_git(d, p):
    # Trees v0..v{commits-1}: each version changes a share of the files.
    rng = random.Random(4)
    files = {}
    for v in range(p["commits"]):
        top = os.path.join(d, "v%d" % v)
        for i in range(p["files"]):
            name = "dir%02d/file%04d.txt" % (i % 20, i)
            if v == 0 or rng.random() < 0.3:
                files[name] = "".join("%s %s\n" % (_word(rng), _word(rng)) for _ in range(rng.randint(5, p["lines"])))
            path = os.path.join(top, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(files[name])


def gen_gcc(d, p):
    # gen.c: generated functions, so the compile can be made bigger without a big file in git.
    with open(os.path.join(d, "gen.c"), "w") as f:
        n = p["functions"]
        for i in range(n):
            f.write("static unsigned long f%d(unsigned long x) {\n  unsigned long a[16];\n"
                    "  for (int i = 0; i < 16; i++) a[i] = x * %d + i;\n"
                    "  for (int r = 0; r < %d; r++) for (int i = 1; i < 16; i++) a[i] ^= (a[i-1] << %d) | (a[i] >> 3);\n"
                    "  switch (x %% 5) { case 0: return a[3]; case 1: return a[7] + %d; case 2: return a[11] ^ x;"
                    " case 3: return a[15]; default: return a[%d]; }\n}\n" % (i, i + 1, 1 + i % 4, 1 + i % 7, i, i % 16))
        f.write("unsigned long gen_all(unsigned long x) {\n  unsigned long s = 0;\n")
        for i in range(n):
            f.write("  s += f%d(x + %d);\n" % (i, i))
        f.write("  return s;\n}\n")


def gen_sqlite(d, p):
    # One script: a table filled by a recursive query, an index, a join,
    # grouping, string functions and an update; no random(), no dates.
    n = p["rows"]
    with open(os.path.join(d, "work.sql"), "w") as f:
        f.write("create table t(a integer primary key, b text, c integer);\n"
                "with recursive r(x) as (select 1 union all select x + 1 from r where x < %d)\n"
                "  insert into t select x, printf('w%%07d-%%s', (x * 7919) %% %d, substr('kalominupe', 1 + x %% 9)),"
                " (x * 104729) %% 1000 from r;\n"
                "create index tb on t(b);\n"
                "create table u as select c, count(*) as n, group_concat(a %% 97, '') as g from t group by c;\n"
                "select count(*), sum(c), min(b), max(b) from t;\n"
                "select c, n, length(g) from u order by n desc, c limit 5;\n"
                "select count(*) from t join u using (c) where t.b like 'w000%%';\n"
                "update t set b = upper(b) where c < 100;\n"
                "select count(*), sum(length(b)) from t where b glob 'W*';\n"
                "select b from t order by b desc limit 3;\n" % (n, n))


def gen_tree(d, p):
    # Files of text and numbers, some compressible, some not, in subdirectories.
    rng = random.Random(5)
    for i in range(p["files"]):
        path = os.path.join(d, "tree", "d%02d" % (i % 8), "f%03d.txt" % i)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            for _ in range(rng.randint(10, p["lines"])):
                f.write("%s %d\n" % (_word(rng), rng.getrandbits(32)))


def gen_make(d, p):
    # A tiny C project: N objects, a header, a Makefile with a pattern rule.
    top = os.path.join(d, "proj")
    os.makedirs(top, exist_ok=True)
    n = p["units"]
    with open(os.path.join(top, "units.h"), "w") as f:
        f.write("".join("unsigned long u%d(unsigned long);\n" % i for i in range(n)))
    for i in range(n):
        with open(os.path.join(top, "u%d.c" % i), "w") as f:
            f.write('#include "units.h"\nunsigned long u%d(unsigned long x) { return x * %d + %d; }\n' % (i, i + 3, i))
    with open(os.path.join(top, "main.c"), "w") as f:
        f.write('#include <stdio.h>\n#include "units.h"\nint main(void) {\n  unsigned long s = 0;\n')
        f.write("".join("  s += u%d(%d);\n" % (i, i) for i in range(n)))
        f.write('  printf("%lu\\n", s);\n  return 0;\n}\n')
    objs = " ".join(["main.o"] + ["u%d.o" % i for i in range(n)])
    with open(os.path.join(top, "Makefile"), "w") as f:
        f.write("OBJS = %s\napp: $(OBJS)\n\t$(CC) -o $@ $(OBJS)\n%%.o: %%.c units.h\n\t$(CC) -O2 -c $< -o $@\n" % objs)


def setup_make(inp, run, p):
    shutil.copytree(os.path.join(inp, "proj"), os.path.join(run, "proj"))


def no_input(d, p):
    pass


def setup_gcc(inp, run, p):
    shutil.copy(os.path.join(HERE, "prog.c"), run)
    shutil.copy(os.path.join(inp, "gen.c"), run)


# ---- the workloads ------------------------------------------------------------------

def _git_steps(p):
    git = ["git", "-c", "gc.auto=0", "-c", "core.fsync=none"]
    steps = [Step(git + ["init", "-q", "-b", "main", "repo"])]
    for v in range(p["commits"]):
        steps += [
            Step(["cp", "-r", "{input}/v%d/." % v, "repo/"]),
            Step(git + ["-C", "repo", "add", "-A"]),
            Step(git + ["-C", "repo", "commit", "-q", "-m", "version %d" % v]),
        ]
    steps += [
        Step(git + ["-C", "repo", "gc", "-q"]),
        Step(git + ["-C", "repo", "log", "--format=%H %T %s"]),
        Step(git + ["-C", "repo", "rev-list", "--objects", "--all"]),
        Step(git + ["-C", "repo", "fsck", "--full", "--strict", "--no-progress"]),
        Step(git + ["-C", "repo", "count-objects"]),   # loose objects: "0 objects, 0 kilobytes" after gc
        Step(git + ["-C", "repo", "diff", "--stat", "HEAD~1", "HEAD"]),
    ]
    return steps


WORKLOADS = [
    Workload("python-json", "python3: build, dump and parse nested JSON (fixed seed)",
             {"test": {"items": 6000, "rounds": 3}, "bench": {"items": 10000, "rounds": 3}},
             no_input,
             lambda p: [Step([PYTHON, os.path.join(HERE, "json_work.py"), "7", str(p["items"]), str(p["rounds"])])]),
    Workload("python-threads", "python3: 8 threads, a job queue, dict and string churn",
             {"test": {"jobs": 64, "work": 6000}, "bench": {"jobs": 128, "work": 20000}},
             no_input,
             lambda p: [Step([PYTHON, os.path.join(HERE, "threads_work.py"), str(p["jobs"]), str(p["work"])])]),
    Workload("perl", "perl: hashes, regular expressions, substitutions",
             {"test": {"rounds": 6}, "bench": {"rounds": 25}},
             no_input,
             lambda p: [Step(["perl", os.path.join(HERE, "churn.pl"), str(p["rounds"])])]),
    Workload("sort", "sort: lines of words and numbers, by two keys",
             {"test": {"lines": 100000}, "bench": {"lines": 600000}},
             gen_sort,
             lambda p: [Step(["sort", "-k2,2n", "-k1,1", "{input}/lines.txt"]),
                        Step(["sort", "-u", "-k3,3", "{input}/lines.txt"])]),
    Workload("sort-parallel", "sort --parallel=2 with a small buffer (-S), so it merges temporary files",
             {"test": {"lines": 100000}, "bench": {"lines": 600000}},
             gen_sort,
             lambda p: [Step(["sort", "--parallel=2", "-S", "1M", "-T", ".", "-k4", "{input}/lines.txt"])]),
    Workload("awk", "awk: word frequencies over generated text, then sorted",
             {"test": {"lines": 60000}, "bench": {"lines": 250000}},
             gen_awk,
             lambda p: [Step(["awk", "-f", os.path.join(HERE, "wordfreq.awk"), "{input}/text.txt"]),
                        Step(["sort", "-k1,1nr", "-k2"], stdin="@0")]),
    Workload("git", "git: init, add, commit (fixed dates), gc, log, rev-list, fsck",
             {"test": {"files": 300, "commits": 3, "lines": 40}, "bench": {"files": 600, "commits": 3, "lines": 60}},
             gen_git, _git_steps),
    Workload("gcc", "gcc -O2 compiles a C program (and generated functions), which then runs",
             {"test": {"functions": 60, "n": 200000}, "bench": {"functions": 150, "n": 500000}},
             gen_gcc,
             lambda p: [Step(["gcc", "-O2", "-o", "prog", "prog.c", "gen.c"]),
                        Step(["./prog", str(p["n"])]),
                        Step(["sha256sum", "prog"])],
             setup=setup_gcc),
    Workload("xz", "xz -T2 -6: compress in blocks (two threads) and decompress, compared",
             {"test": {"bytes": 1 << 20, "block": "256KiB"}, "bench": {"bytes": 3 << 20, "block": "512KiB"}},
             gen_xz,
             lambda p: [Step(["xz", "-T2", "--block-size=" + p["block"], "-6", "-c", "{input}/data"]),
                        Step(["xz", "-T2", "-d", "-c"], stdin="@0"),
                        Step(["cmp", "{input}/data", "-"], stdin="@1")]),
    Workload("xthread", "the project's C++ program: 8 threads, cross-thread frees, 1 B..4 MiB",
             {"test": {"messages": 3000}, "bench": {"messages": 12000}},
             no_input,
             lambda p: [Step(["{build}/xthread_prog", str(p["messages"])])]),
    # Test size only (make test-preload), not benchmarked:
    Workload("sqlite3", "sqlite3: a 20000-row table from a recursive query, index, join, group by, update",
             {"test": {"rows": 20000}}, gen_sqlite,
             lambda p: [Step(["sqlite3", ":memory:"], stdin="{input}/work.sql")]),
    Workload("tar-gzip", "tar | gzip | gzip -d | tar x, and the tree compared",
             {"test": {"files": 120, "lines": 200}}, gen_tree,
             lambda p: [Step(["tar", "cf", "-", "-C", "{input}", "tree"]),
                        Step(["gzip", "-n", "-6", "-c"], stdin="@0"),  # -n: no time stamp in the header
                        Step(["gzip", "-d", "-c"], stdin="@1"),
                        Step(["tar", "xf", "-"], stdin="@2"),
                        Step(["diff", "-r", "{input}/tree", "tree"])]),
    Workload("make", "make -j2 of a small C project (make, sh, gcc, as, ld), which then runs",
             {"test": {"units": 12}}, gen_make,
             lambda p: [Step(["make", "-s", "-j2", "-C", "proj"]),
                        Step(["./proj/app"])],
             setup=setup_make),
    Workload("bash", "bash: arrays, associative arrays, long strings, substitutions, subshells",
             {"test": {"n": 20000}}, no_input,
             lambda p: [Step(["bash", os.path.join(HERE, "script.sh"), str(p["n"])])]),
    Workload("limits", "python3: lowers its own RLIMIT_AS, then a thread, mmap and allocations; malloc above RAM + swap",
             {"test": {"limit_mib": 1024}}, no_input,
             lambda p: [Step([PYTHON, os.path.join(HERE, "limits.py"), str(p["limit_mib"])])]),
    Workload("true", "start-up: /bin/true", {"bench": {}}, no_input,
             lambda p: [Step(["/bin/true"])], startup=True),
    Workload("python-start", "start-up: python3 -c pass", {"bench": {}}, no_input,
             lambda p: [Step([PYTHON, "-c", "pass"])], startup=True),
]


def for_size(size, names=None):
    out = [w for w in WORKLOADS if size in w.sizes]
    if names:
        out = [w for w in out if w.name in names]
        missing = set(names) - {w.name for w in out}
        if missing:
            raise SystemExit("unknown workload(s) for size %s: %s" % (size, " ".join(sorted(missing))))
    return out


# ---- running ------------------------------------------------------------------------

def input_dir(build, size, w):
    return os.path.join(build, "inputs", size, w.name)


def prepare(build, size, w):
    """Generates the inputs once (a stamp holds the parameters they were made with)."""
    d = input_dir(build, size, w)
    stamp = os.path.join(d, ".params")
    want = repr(sorted(w.sizes[size].items()))
    if os.path.exists(stamp) and open(stamp).read() == want:
        return d
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    w.gen(d, w.sizes[size])
    with open(stamp, "w") as f:
        f.write(want)
    return d


class Result:
    def __init__(self):
        self.wall = 0.0        # seconds, all steps
        self.maxrss_kib = 0    # the largest peak RSS of any process of any step
        self.statuses = []     # exit status per step (negative: killed by that signal)
        self.stdout_paths = []
        self.stderr_paths = []
        self.failed_step = None  # (index, argv) of the first step that did not exit as expected


STEP_TIMEOUT = 300   # seconds; a step that hangs (a broken allocator can deadlock) is killed


def wait_or_kill(pid, deadline):
    """os.wait4 for pid; past the deadline its whole session is killed first."""
    while True:
        got, status, ru = os.wait4(pid, os.WNOHANG)
        if got == pid:
            return status, ru
        if time.perf_counter() > deadline:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, status, ru = os.wait4(pid, 0)
            return status, ru
        time.sleep(0.002)


def run(build, size, w, run_dir, preload=None, extra_env=None):
    """Runs the workload's steps in a fresh run_dir, with LD_PRELOAD=preload
    (None: the plain run). Each step starts through build/spawn_rusage (see
    spawn_rusage.c: why not os.wait4 from here), which reports its wall time
    and peak RSS (wait4's rusage: the step's process and every descendant it
    waited for); without that launcher, os.wait4 here (RSS then includes this
    Python's)."""
    p = w.sizes[size]
    inp = input_dir(build, size, w)
    launcher = os.path.join(build, "spawn_rusage")
    if not os.path.exists(launcher):
        launcher = None
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(run_dir)
    if w.setup:
        w.setup(inp, run_dir, p)
    res = Result()
    for i, st in enumerate(w.steps(p)):
        env = dict(BASE_ENV, HOME=run_dir, **st.env)
        if extra_env:
            env.update(extra_env)
        if preload:
            env["LD_PRELOAD"] = preload
        argv = [a.replace("{input}", inp).replace("{build}", build) for a in st.argv]
        out_path = os.path.join(run_dir, "step%d.out" % i)
        err_path = os.path.join(run_dir, "step%d.err" % i)
        rusage_path = os.path.join(run_dir, "step%d.rusage" % i)
        if st.stdin is None:
            stdin_path = "/dev/null"
        elif st.stdin.startswith("@"):
            stdin_path = res.stdout_paths[int(st.stdin[1:])]
        else:
            stdin_path = st.stdin.replace("{input}", inp)
        with open(stdin_path, "rb") as fin, open(out_path, "wb") as fout, open(err_path, "wb") as ferr:
            t0 = time.perf_counter()
            # A session of its own, so that a hung step is killed with all its children.
            child = subprocess.Popen([launcher, rusage_path] + argv if launcher else argv,
                                     cwd=run_dir, env=env, stdin=fin, stdout=fout, stderr=ferr,
                                     start_new_session=True)
            status, ru = wait_or_kill(child.pid, t0 + STEP_TIMEOUT)
            wall = time.perf_counter() - t0
            child.returncode = os.waitstatus_to_exitcode(status)
            if wall > STEP_TIMEOUT:
                ferr.write(b"\nworkloads.py: step timed out after %d s, killed\n" % STEP_TIMEOUT)
        maxrss = ru.ru_maxrss
        if launcher:
            try:
                with open(rusage_path) as f:
                    ns, maxrss, raw = (int(x) for x in f.read().split())
                wall = ns / 1e9
                child.returncode = os.waitstatus_to_exitcode(raw)
                os.unlink(rusage_path)
            except (OSError, ValueError):
                pass   # the launcher failed (127): its own status stands
        res.wall += wall
        res.statuses.append(child.returncode)
        res.maxrss_kib = max(res.maxrss_kib, maxrss)
        res.stdout_paths.append(out_path)
        res.stderr_paths.append(err_path)
        if child.returncode != st.expect and res.failed_step is None:
            res.failed_step = (i, argv)
    return res


def output_of(res):
    """The bytes a run is judged by: each step's exit status and stdout."""
    parts = []
    for status, path in zip(res.statuses, res.stdout_paths):
        with open(path, "rb") as f:
            parts.append(b"== exit %d\n" % status + f.read())
    return b"".join(parts)
