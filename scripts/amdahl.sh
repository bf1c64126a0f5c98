#!/usr/bin/env bash
# amdahl.sh — speedup as workers are added, and how much of the job stays
# sequential (coordination and communication), from --metrics.
#
#   scripts/amdahl.sh [--workers 1,2,3,4] [--rounds R] [--copies N] [--input FILE] [--out DIR]
#
# T1 is `wordfreq count --threads 1` (one process, no network). Then, for each
# N, N local workers of one compute thread each and `wordfreq master`, R
# times (default 3), taking medians. Each row
# gives the speedup S = T1 / TN, the Karp-Flatt serial fraction
# e = (1/S - 1/N) / (1 - 1/N) (the share of T1 that did not parallelise), and
# the master's wall time outside shuffle 1 (init, local_count, redistribute,
# shuffle2, sort_output: coordination and the small exchanges). On a machine
# with fewer cores than N, workers share cores, and e grows with N for that
# reason alone: read the machine line in SETUP.md. Writes DIR/amdahl.csv
# (default results/<date>-<host>/).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
workers=1,2,3,4 rounds=3 copies=100 input="" out=""
while [ $# -gt 0 ]; do
  case $1 in
    --workers) workers=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --copies) copies=$2; shift 2 ;;
    --input) input=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) usage "$0"; exit 0 ;;
    *) echo "amdahl.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
build_wordfreq
[ -n "$input" ] || input=$("$here/make-input.sh" "$copies")
out=${out:-$root/results/$(date +%Y-%m-%d)-$(hostname -s)}
mkdir -p "$out"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/wordfreq-amdahl.XXXXXX")
pids=()

# Starts N one-thread workers on free local ports; sets $addrs and $pids.
start_workers() {
  addrs="" pids=()
  for ((w = 0; w < $1; w++)); do
    start_worker 127.0.0.1:0
    pids+=("$worker_pid")
    addrs="$addrs${addrs:+,}$worker_addr"
  done
}
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$scratch"' EXIT

for ((r = 1; r <= rounds; r++)); do
  "$wf" count -q --threads 1 --metrics "$scratch/count.$r.json" -o /dev/null "$input"
  for n in ${workers//,/ }; do
    start_workers "$n"
    "$wf" master -q --workers "$addrs" --metrics "$scratch/run.$n.$r.json" -o /dev/null "$input"
    kill "${pids[@]}"
  done
done

python3 - "$scratch" "$workers" "$rounds" "$out/amdahl.csv" "$(nproc)" <<'PY'
import json, statistics, sys
scratch, workers, rounds, csv_path, cores = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
load = lambda path: json.load(open(path))
t1 = statistics.median(load(f"{scratch}/count.{r}.json")["wall_s"] for r in range(1, rounds + 1))
rows = ["workers,cores,median_wall_s,speedup,karp_flatt_serial_fraction,median_outside_shuffle1_s,median_shuffle1_s"]
print(f"T1 (count --threads 1): {t1:.3f} s")
print(f"{'N':>3} {'wall s':>8} {'speedup':>8} {'serial e':>9} {'outside shuffle1 s':>19}")
for n in map(int, workers):
    runs = [load(f"{scratch}/run.{n}.{r}.json") for r in range(1, rounds + 1)]
    wall = statistics.median(m["wall_s"] for m in runs)
    s1 = statistics.median(next(p["wall_s"] for p in m["phases"] if p["phase"] == "shuffle1") for m in runs)
    rest = statistics.median(m["wall_s"] - next(p["wall_s"] for p in m["phases"] if p["phase"] == "shuffle1") for m in runs)
    speedup = t1 / wall
    e = (1 / speedup - 1 / n) / (1 - 1 / n) if n > 1 else float("nan")
    rows.append(f"{n},{cores},{wall:.3f},{speedup:.3f},{e:.4f},{rest:.4f},{s1:.3f}")
    print(f"{n:>3} {wall:8.3f} {speedup:8.2f} {e:9.3f} {rest:19.4f}")
open(csv_path, "w").write("\n".join(rows) + "\n")
print(f"wrote {csv_path}")
PY
