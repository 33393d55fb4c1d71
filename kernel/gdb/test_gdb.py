#!/usr/bin/env python3
"""test_gdb.py — `make test-gdb`: the gdb commands of pfalloc-gdb.py against a
live kernel (issue 12).

Boots the kernel with the command line `run` in QEMU (TCG) paused behind its
gdb stub, lets Debian's gdb (batch mode) stop it with a hardware breakpoint
at pf_debug_checkpoint("boot") — called right after the kernel printed its
zones, buddyinfo, slabinfo and the boot memory dump, with nothing allocated
since — and runs pf-buddyinfo, pf-zones, pf-slabinfo and pf-frame there.
Then checks, against the serial log of the same boot:
  * pf-buddyinfo's text equals the kernel's "== buddyinfo" section exactly
    (and so no free list disagrees with its counter);
  * pf-slabinfo's text equals the kernel's "== slabinfo" section exactly;
  * pf-zones gives each zone's managed/free/reserved frames as printed;
  * pf-frame names the state and order of frames the dump says are free
    (head and tail), allocated (a page-table frame) and slab (with its
    cache), and says "not managed" for frame 0.
Exit status 0 only if all hold. Needs qemu-system-x86_64 and gdb (the make
target installs them when missing).

  test_gdb.py --elf64 E --elf32 E --log DIR [--timeout S] [-- extra qemu args]
"""

import argparse
import os
import re
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# Run inside gdb once the breakpoint hit: pick frames from the boot dump the
# kernel just printed and describe them.
FRAME_PICKER = r'''
import re
log = open(%(log)r, encoding="utf-8", errors="replace").read()
boot = log[log.index("pfmap begin boot"):log.index("pfmap end boot")]
picks = []
m = re.search(r"^pfmap blocks free ([1-9]\d*) (0x[0-9a-f]+) ", boot, re.M)
if m:
    picks.append(("free-head", int(m.group(1)), int(m.group(2), 16)))
    picks.append(("free-tail", int(m.group(1)), int(m.group(2), 16) + 0x1000))
m = re.search(r"^pfmap mark page-tables (0x[0-9a-f]+) ", boot, re.M)
if m:
    picks.append(("page-table", 0, int(m.group(1), 16)))
m = re.search(r"^pfmap blocks slab (\d+) (0x[0-9a-f]+) ", boot, re.M)
if m:
    picks.append(("slab", int(m.group(1)), int(m.group(2), 16)))
picks.append(("unmanaged", 0, 0))
for kind, order, addr in picks:
    gdb.write("=== pf-frame %%s %%d 0x%%x\n" %% (kind, order, addr))
    gdb.execute("pf-frame 0x%%x" %% addr)
'''


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def section(log, title):
    """The lines of the kernel's "== title" section, up to a blank line or
    the next dump/section."""
    lines = log.splitlines()
    try:
        i = lines.index("== " + title)
    except ValueError:
        return None
    out = []
    for line in lines[i + 1:]:
        if not line.strip() or line.startswith("pfmap ") or line.startswith("== "):
            break
        out.append(line)
    return out


def gdb_sections(text):
    out, name = {}, None
    for line in text.splitlines():
        if line.startswith("=== "):
            name = line[4:]
            out[name] = []
        elif name is not None:
            out[name].append(line)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--elf64", required=True)
    ap.add_argument("--elf32", required=True)
    ap.add_argument("--log", required=True, help="directory for the serial log and gdb output")
    ap.add_argument("--timeout", type=int, default=180)
    ap.add_argument("qemu_extra", nargs="*")
    args = ap.parse_args()
    os.makedirs(args.log, exist_ok=True)
    serial = os.path.join(args.log, "test-gdb.serial.log")
    gdb_out = os.path.join(args.log, "test-gdb.gdb.log")
    cmds = os.path.join(args.log, "test-gdb.gdbcmds")
    for f in (serial, gdb_out):
        if os.path.exists(f):
            os.unlink(f)

    port = free_port()
    qemu = ["qemu-system-x86_64", "-accel", "tcg", "-display", "none", "-no-reboot",
            "-serial", "file:" + serial, "-monitor", "none",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-kernel", args.elf32, "-append", "run",
            "-gdb", "tcp:127.0.0.1:%d" % port, "-S"] + (args.qemu_extra or ["-M", "q35", "-m", "256M"])
    with open(cmds, "w") as f:
        f.write("\n".join([
            "set pagination off", "set confirm off", "set width 0", "set height 0",
            "set tcp connect-timeout 30",
            "file " + args.elf64,
            "source " + os.path.join(HERE, "pfalloc-gdb.py"),
            "target remote 127.0.0.1:%d" % port,
            "hbreak pf_debug_checkpoint",
            "continue",
            'python gdb.write("=== checkpoint %s\\n" % gdb.parse_and_eval("(const char*)$rdi").string())',
            "echo === pf-buddyinfo\\n", "pf-buddyinfo",
            "echo === pf-zones\\n", "pf-zones",
            "echo === pf-slabinfo\\n", "pf-slabinfo",
            "python",
            FRAME_PICKER % {"log": serial},
            "end",
            "echo === done\\n",
            "kill",
        ]) + "\n")

    print("==== test-gdb: %s" % " ".join(qemu))
    q = subprocess.Popen(qemu, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    start = time.time()
    try:
        g = subprocess.run(["gdb", "-batch", "-nx", "-x", cmds], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=args.timeout,
                           text=True)
        text = g.stdout
    except subprocess.TimeoutExpired as e:
        text = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        text += "\n*** gdb timed out after %ds\n" % args.timeout
    finally:
        if q.poll() is None:
            q.kill()
        q.wait()
    with open(gdb_out, "w") as f:
        f.write(text)
    elapsed = time.time() - start

    log = open(serial, encoding="utf-8", errors="replace").read().replace("\r", "") if os.path.exists(serial) else ""
    got = gdb_sections(text)
    failures = []

    def need(cond, what):
        if not cond:
            failures.append(what)
        return cond

    need("done" in got, "gdb did not get through the commands (see %s)" % gdb_out)
    checkpoint = [k for k in got if k.startswith("checkpoint ")]
    need(checkpoint == ["checkpoint boot"], "stopped at %s, expected pf_debug_checkpoint(\"boot\")" % checkpoint)

    kernel_bi = section(log, "buddyinfo")
    need(kernel_bi, "the kernel printed no buddyinfo (serial log %s)" % serial)
    if kernel_bi and "pf-buddyinfo" in got:
        need(got["pf-buddyinfo"] == kernel_bi,
             "pf-buddyinfo differs from the kernel's buddyinfo:\n  kernel: %s\n  gdb:    %s"
             % ("\n          ".join(kernel_bi), "\n          ".join(got["pf-buddyinfo"])))

    kernel_si = section(log, "slabinfo")
    need(kernel_si, "the kernel printed no slabinfo")
    if kernel_si and "pf-slabinfo" in got:
        need(got["pf-slabinfo"] == kernel_si,
             "pf-slabinfo differs from the kernel's slabinfo:\n  kernel: %s\n  gdb:    %s"
             % ("\n          ".join(kernel_si), "\n          ".join(got["pf-slabinfo"])))

    kernel_zones = {m.group(1): tuple(int(x) for x in m.group(2, 3, 4)) for m in re.finditer(
        r"^zone (\S+)\s+managed (\d+) frames .*?, free (\d+) \(cached \d+\), reserved (\d+)$", log, re.M)}
    gdb_zones = {m.group(1): tuple(int(x) for x in m.group(2, 3, 4)) for m in re.finditer(
        r"^zone (\S+)\s+managed (\d+) frames .*?, free (\d+) \(buddy \d+, cached \d+\), reserved (\d+)$",
        "\n".join(got.get("pf-zones", [])), re.M)}
    need(kernel_zones and gdb_zones == kernel_zones,
         "pf-zones says %s, the kernel printed %s (zone: managed, free, reserved)" % (gdb_zones, kernel_zones))

    frames = {k: v for k, v in got.items() if k.startswith("pf-frame ")}
    kinds = {k.split()[1]: (int(k.split()[2]), int(k.split()[3], 16), v) for k, v in frames.items()}
    for kind in ("free-head", "free-tail", "page-table", "slab", "unmanaged"):
        need(kind in kinds, "no pf-frame check for a %s frame (the boot dump lacked one?)" % kind)
    expect = {
        "free-head": lambda o, a: r"^frame 0x%x \(pfn \d+\): zone \S+, .*state free, order %d, " % (a, o),
        "free-tail": lambda o, a: r"^frame 0x%x .*state tail, .*tail of the free block of order %d at 0x%x" % (a, o, a - 0x1000),
        "page-table": lambda o, a: r"^frame 0x%x .*state allocated, order 0, " % a,
        "slab": lambda o, a: r"^frame 0x%x .*state slab, order %d, .*\(slab of cache \S+\)" % (a, o),
        "unmanaged": lambda o, a: r"^frame 0x0 \(pfn 0\): not managed by the allocator$",
    }
    for kind, (order, addr, out) in kinds.items():
        pat = expect[kind](order, addr)
        need(len(out) == 1 and re.search(pat, out[0]), "pf-frame on a %s frame at 0x%x said %r, expected /%s/"
             % (kind, addr, out, pat))

    for name in ("pf-buddyinfo", "pf-zones", "pf-slabinfo"):
        print("---- %s" % name)
        print("\n".join(got.get(name, ["(missing)"])))
    for k in sorted(frames):
        print("---- %s\n%s" % (k, "\n".join(frames[k])))
    if failures:
        for f in failures:
            print("==== test-gdb: FAIL: " + f, file=sys.stderr)
        print("==== test-gdb: gdb output %s, serial log %s" % (gdb_out, serial), file=sys.stderr)
        print("\n".join(text.splitlines()[-30:]), file=sys.stderr)
        return 1
    print("==== test-gdb: PASS (pf-buddyinfo and pf-slabinfo equal the kernel's own text; pf-zones and "
          "%d pf-frame checks sane; %.1fs)" % (len(kinds), elapsed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
