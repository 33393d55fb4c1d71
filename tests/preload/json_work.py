"""json_work.py — a JSON workload for the preload tests and bench-real.

Builds a nested document (dicts, lists, strings, numbers) from a fixed seed,
dumps it, parses it back, rebuilds and re-dumps it a few times, and prints a
summary that depends on every byte: the same on every allocator, or the
allocator broke something. Usage: json_work.py SEED ITEMS ROUNDS
"""
import hashlib
import json
import random
import sys


def make_doc(rng, items):
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 12)))
             for _ in range(500)]
    doc = {"version": 1, "records": []}
    for i in range(items):
        rec = {
            "id": i,
            "name": " ".join(rng.choice(words) for _ in range(rng.randint(1, 6))),
            "score": rng.random() * 1000,
            "tags": [rng.choice(words) for _ in range(rng.randint(0, 8))],
            "attrs": {rng.choice(words): rng.randint(-10**6, 10**6) for _ in range(rng.randint(0, 6))},
        }
        if rng.random() < 0.2:
            rec["blob"] = "x" * rng.randint(100, 20000)
        if rng.random() < 0.1:
            rec["children"] = [{"k": rng.choice(words), "v": [rng.random() for _ in range(rng.randint(1, 30))]}
                               for _ in range(rng.randint(1, 10))]
        doc["records"].append(rec)
    return doc


def main():
    seed, items, rounds = (int(a) for a in sys.argv[1:4])
    rng = random.Random(seed)
    doc = make_doc(rng, items)
    text = json.dumps(doc, sort_keys=True)
    digest = hashlib.sha256()
    total = 0
    for r in range(rounds):
        parsed = json.loads(text)
        # Reshape: drop a few records, rename keys, so every round allocates anew.
        recs = [rec for rec in parsed["records"] if rec["id"] % (r + 2) != 0]
        for rec in recs:
            rec["name"] = rec["name"].upper()[::-1]
            rec["tags"] = sorted(set(rec["tags"]))
            total += len(rec["attrs"])
        text2 = json.dumps({"round": r, "records": recs}, sort_keys=True, indent=1)
        digest.update(text2.encode())
        del parsed, recs, text2
    print("json: %d bytes, %d rounds, %d attrs, sha256 %s" % (len(text), rounds, total, digest.hexdigest()))


main()
