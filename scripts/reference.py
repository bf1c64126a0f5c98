#!/usr/bin/env python3
"""reference.py [--tokenizer whitespace-lower|whitespace] [-o FILE] PATH...

The slow, obviously correct answer, for benchmarks and checks: every file
(directories walked) read as bytes line by line, split with bytes.split()
(after bytes.lower() for whitespace-lower), counted, and printed as
`WORD COUNT` lines, count descending then word ascending by bytes.
"""
import argparse
import os
import sys
from collections import Counter


def files(paths):
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, names in os.walk(path):
                dirs.sort()
                for name in sorted(names):
                    full = os.path.join(root, name)
                    if os.path.isfile(full):
                        yield full
        else:
            yield path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("-o", "--output")
    parser.add_argument("--tokenizer", choices=["whitespace-lower", "whitespace"], default="whitespace-lower")
    args = parser.parse_args()
    lower = args.tokenizer == "whitespace-lower"
    counts = Counter()
    for name in files(args.paths):
        with open(name, "rb") as f:
            for line in f:
                counts.update((line.lower() if lower else line).split())
    out = open(args.output, "wb") if args.output else sys.stdout.buffer
    for word, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        out.write(word + b" " + str(n).encode() + b"\n")
    out.close()


if __name__ == "__main__":
    main()
