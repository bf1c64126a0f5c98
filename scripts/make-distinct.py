#!/usr/bin/env python3
"""make-distinct.py N OUT — write N distinct words (hex of a scrambled counter),
one per line, to OUT: the all-distinct benchmark input (10 M words, 170 MB).
Written beside OUT and renamed when complete; an existing OUT is kept."""
import os
import sys


def main():
    if len(sys.argv) != 3 or not sys.argv[1].isdigit():
        sys.exit("usage: make-distinct.py N OUT")
    n, out = int(sys.argv[1]), sys.argv[2]
    if os.path.exists(out):
        print(out)
        return
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = f"{out}.partial.{os.getpid()}"
    with open(tmp, "w") as f:
        step = 1 << 16
        for base in range(0, n, step):
            f.write("".join("%x\n" % ((i * 0x9E3779B97F4A7C15) % (1 << 64)) for i in range(base, min(n, base + step))))
    os.rename(tmp, out)
    print(out)


if __name__ == "__main__":
    main()
