#!/usr/bin/env python3
"""dask_count.py INPUT OUTPUT — the word count as a Dask bag on one process
per core: what a Python user would reach for to parallelise. Used by
bench.sh when Dask is installed. Text is read as Latin-1 so that each byte is
one char; only the six ASCII whitespace chars separate words and only A-Z is
lowercased, as in whitespace-lower."""
import os
import re
import sys

import dask
import dask.bag as db

LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
SEPARATORS = re.compile("[ \t\n\x0b\x0c\r]+")


def words(line):
    return [w for w in SEPARATORS.split(line.translate(LOWER)) if w]


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with dask.config.set(scheduler="processes", num_workers=os.cpu_count()):
        bag = db.read_text(src, blocksize="64MiB", encoding="latin-1", linedelimiter="\n")
        counts = bag.map(words).flatten().frequencies().compute()
    counts.sort(key=lambda kv: (-kv[1], kv[0].encode("latin-1")))
    with open(dst, "wb") as out:
        for word, n in counts:
            out.write(word.encode("latin-1") + b" " + str(n).encode() + b"\n")


if __name__ == "__main__":
    main()
