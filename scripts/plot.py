#!/usr/bin/env python3
"""plot.py CSV SVG TITLE — a horizontal bar chart of each program's median
throughput (MB/s) from bench.sh's CSV, as a standalone SVG (no libraries)."""
import csv
import statistics
import sys
from html import escape


def main():
    path, svg, title = sys.argv[1], sys.argv[2], sys.argv[3]
    rows = list(csv.DictReader(open(path)))
    rates = {}
    for row in rows:
        rates.setdefault(row["program"], []).append(float(row["mb_per_s"]))
    bars = sorted(((statistics.median(v), p) for p, v in rates.items()), reverse=True)
    top = max(v for v, _ in bars)
    width, left, row_h = 760, 220, 30
    height = 60 + row_h * len(bars)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="13">',
           f'<rect width="100%" height="100%" fill="white"/>',
           f'<text x="10" y="22" font-size="15">{escape(title)}</text>']
    for i, (value, name) in enumerate(bars):
        y = 40 + i * row_h
        w = (width - left - 90) * value / top
        colour = "#2b6cb0" if name.startswith("wordfreq") else "#a0aec0"
        out.append(f'<text x="{left - 8}" y="{y + 17}" text-anchor="end">{escape(name)}</text>')
        out.append(f'<rect x="{left}" y="{y + 4}" width="{w:.1f}" height="{row_h - 10}" fill="{colour}"/>')
        out.append(f'<text x="{left + w + 6:.1f}" y="{y + 17}">{value:.0f} MB/s</text>')
    out.append("</svg>")
    open(svg, "w").write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
