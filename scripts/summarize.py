#!/usr/bin/env python3
"""summarize.py CSV BYTES [--corpus zipf|distinct] [--distinct N] [--word-bytes B]
— medians per program from bench.sh's CSV (time and, when the CSV has it,
peak memory of the largest process), and the ratios the performance targets
are stated in (all from the same run). With --distinct and --word-bytes,
peak memory is also given per distinct word beyond the words' own bytes."""
import argparse
import csv
import statistics


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("bytes", type=int)
    ap.add_argument("--corpus", default="zipf", choices=["zipf", "distinct"])
    ap.add_argument("--distinct", type=int)
    ap.add_argument("--word-bytes", type=int)
    args = ap.parse_args()
    rows = list(csv.DictReader(open(args.csv)))
    size = args.bytes
    times, peaks, checks = {}, {}, {}
    for row in rows:
        times.setdefault(row["program"], []).append(float(row["seconds"]))
        checks.setdefault(row["program"], set()).add(row["output_ok"])
        if row.get("peak_rss_kb"):
            peaks.setdefault(row["program"], []).append(int(row["peak_rss_kb"]) * 1024)
    med = {p: statistics.median(t) for p, t in times.items()}
    peak = {p: statistics.median(m) for p, m in peaks.items()}
    per_word = args.corpus == "distinct" and args.distinct and args.word_bytes is not None
    print(f"{'program':28} {'median s':>9} {'MB/s':>8} {'peak MiB':>9}{' B/word':>8}  output")
    for p, t in med.items():
        ok = "/".join(sorted(checks[p]))
        mib = f"{peak[p] / 2**20:9.0f}" if p in peak else f"{'':9}"
        bpw = f"{(peak[p] - args.word_bytes) / args.distinct:8.1f}" if per_word and p in peak else f"{'':8}"
        print(f"{p:28} {t:9.3f} {size / t / 1e6:8.1f} {mib}{bpw}  {ok}")
    if per_word:
        print(f"(B/word: peak memory less the words' own {args.word_bytes} bytes, per distinct word, of {args.distinct})")
    print()
    wc = med.get("wc -w (C locale)")
    c1, c2, r2 = med.get("wordfreq count -t1"), med.get("wordfreq count"), med.get("wordfreq run -w2")
    if args.corpus == "zipf":
        if wc and c1:
            print(f"count -t1 throughput / wc -w      = {wc / c1:.2f}x   (target >= 3.0)")
        cw = med.get("countwords optimized C")
        if cw and c1:
            print(f"count -t1 throughput / countwords = {cw / c1:.2f}x   (target >= 2.0)")
        if wc and cw:
            print(f"countwords throughput / wc -w     = {wc / cw:.2f}x")
        if wc and c2:
            print(f"count (all cores) / wc -w         = {wc / c2:.2f}x")
        if c2 and r2:
            print(f"run -w2 wall / count wall         = {r2 / c2:.2f}    (target <= 1.10)")
    else:
        if c1 and c2:
            print(f"count -t1 wall / count wall       = {c1 / c2:.2f}x   (target >= 1.8 on 2 cores)")
        if c2 and r2:
            print(f"run -w2 wall / count wall         = {r2 / c2:.2f}    (target <= 1.0)")
        p1 = peak.get("wordfreq count -t1")
        if p1 and per_word:
            print(f"count -t1 peak per distinct word  = {(p1 - args.word_bytes) / args.distinct:.1f} B + its bytes   (target <= 48)")


if __name__ == "__main__":
    main()
