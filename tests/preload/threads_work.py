"""threads_work.py — a threaded Python workload for the preload tests and bench-real.

Eight worker threads take jobs from a queue.Queue, each job builds and churns
dicts, lists and strings, and puts its result on a result queue; the main
thread collects results by job id, so the output does not depend on which
thread ran which job. Usage: threads_work.py JOBS WORK
"""
import queue
import sys
import threading
import zlib


def job(jid, work):
    d = {}
    acc = 0
    for i in range(work):
        key = "k%d-%d" % (jid, i % 257)
        d[key] = d.get(key, "") + chr(97 + (i * jid) % 26)
        if len(d[key]) > 40:
            acc = zlib.crc32(d.pop(key).encode(), acc)
        if i % 97 == 0:
            lst = [str(x) * (x % 7) for x in range(i % 300)]
            acc = zlib.crc32("".join(lst).encode(), acc)
    for k in sorted(d):
        acc = zlib.crc32((k + d[k]).encode(), acc)
    return acc


def main():
    jobs, work = int(sys.argv[1]), int(sys.argv[2])
    todo, done = queue.Queue(), queue.Queue()

    def worker():
        while True:
            jid = todo.get()
            if jid is None:
                return
            done.put((jid, job(jid, work)))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for jid in range(jobs):
        todo.put(jid)
    for _ in threads:
        todo.put(None)
    for t in threads:
        t.join()
    results = dict(done.get() for _ in range(jobs))
    total = 0
    for jid in range(jobs):
        total = zlib.crc32(b"%d:%d" % (jid, results[jid]), total)
    print("threads: %d jobs x %d, crc %08x" % (jobs, work, total))


main()
