#!/usr/bin/env python3
"""summarize.py CSV BYTES — medians per program from bench.sh's CSV, and the
ratios the performance targets are stated in (all from the same run)."""
import csv
import statistics
import sys


def main():
    rows = list(csv.DictReader(open(sys.argv[1])))
    size = int(sys.argv[2])
    times = {}
    checks = {}
    for row in rows:
        times.setdefault(row["program"], []).append(float(row["seconds"]))
        checks.setdefault(row["program"], set()).add(row["output_ok"])
    med = {p: statistics.median(t) for p, t in times.items()}
    print(f"{'program':28} {'median s':>9} {'MB/s':>8}  output")
    for p, t in med.items():
        ok = "/".join(sorted(checks[p]))
        print(f"{p:28} {t:9.3f} {size / t / 1e6:8.1f}  {ok}")
    print()
    wc = med.get("wc -w (C locale)")
    c1, c2, r2 = med.get("wordfreq count -t1"), med.get("wordfreq count"), med.get("wordfreq run -w2")
    if wc and c1:
        print(f"count -t1 throughput / wc -w      = {wc / c1:.2f}x   (target >= 1.5)")
    if wc and c2:
        print(f"count (all cores) / wc -w         = {wc / c2:.2f}x   (target >= 2.7)")
    if c2 and r2:
        print(f"run -w2 wall / count wall         = {r2 / c2:.2f}    (target <= 1.10)")


if __name__ == "__main__":
    main()
