#!/usr/bin/env bash
# distinct.sh — the all-distinct case end to end: 10 M distinct words
# (170 MB, made by scripts/make-distinct.py), `wordfreq run --workers 2`
# with --metrics, R times (default 3). Prints and appends to
# DIR/distinct.csv each run's total wall time, shuffle 1's wall time, the
# bytes shuffle 1 moved between workers and the resulting rate; the plain
# loopback copy to compare with is the criterion bench `wire`
# (loopback_10m_distinct/plain_tcp_copy).
#
#   scripts/distinct.sh [--rounds R] [--words N] [--out DIR]
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
rounds=3 words=10000000 out=""
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --words) words=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) usage "$0"; exit 0 ;;
    *) echo "distinct.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
build_wordfreq
input=$(python3 "$here/make-distinct.py" "$words" "${TMPDIR:-/tmp}/wordfreq-inputs/distinct_$words.txt")
out=${out:-$root/results/$(date +%Y-%m-%d)-$(hostname -s)}
mkdir -p "$out"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/wordfreq-distinct.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
csv="$out/distinct.csv"
[ -f "$csv" ] || echo "words,round,wall_s,shuffle1_s,shuffle1_bytes,shuffle1_mb_per_s" >"$csv"
for ((r = 1; r <= rounds; r++)); do
  "$wf" run -q --workers 2 --metrics "$scratch/m.json" -o "$scratch/out.txt" "$input"
  python3 - "$scratch/m.json" "$words" "$r" <<'PY' | tee -a "$csv"
import json, sys
m = json.load(open(sys.argv[1]))
s1 = next(p for p in m["phases"] if p["phase"] == "shuffle1")
moved = sum(n["bytes_sent"] for n in s1["nodes"])
wall, s1_wall = m["wall_us"] / 1e6, s1["wall_us"] / 1e6  # the metrics count whole microseconds
print(f"{sys.argv[2]},{sys.argv[3]},{wall:.3f},{s1_wall:.3f},{moved},{moved / s1_wall / 1e6:.1f}")
PY
done
