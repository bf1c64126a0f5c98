#!/usr/bin/env bash
# memory.sh — each worker's peak anonymous memory (RssAnon: its heap, not the
# memory-mapped input) during a 2-worker job, against the target
# 64 MiB + 3 x its distinct-word table, on inputs of growing size.
#
#   scripts/memory.sh [--copies N,N,...] [--out DIR]
#
# Inputs: the sample text repeated N times (default 100,1000: 430 MB and
# 4.3 GB), made with scripts/make-input.sh. Two workers are started on free
# ports; RssAnon of each is read from /proc every 10 ms while the master runs.
# The table's size is what the worker reports in --metrics (shuffle1's
# table_bytes). Appends to DIR/memory.csv (default results/<date>-<host>/).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
copies=100,1000 out=""
while [ $# -gt 0 ]; do
  case $1 in
    --copies) copies=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "memory.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
build_wordfreq
out=${out:-$root/results/$(date +%Y-%m-%d)-$(hostname -s)}
mkdir -p "$out"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/wordfreq-memory.XXXXXX")
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$scratch"; }
trap cleanup EXIT

csv="$out/memory.csv"
[ -f "$csv" ] || echo "input_bytes,worker,distinct,table_bytes,peak_rss_anon_bytes,limit_bytes,within_limit" >"$csv"

# Records the highest RssAnon (bytes) of process $1 into file $2 until it exits.
watch_peak() {
  local pid=$1 file=$2 peak=0 kb
  while kb=$(awk '/^RssAnon/ { print $2 }' "/proc/$pid/status" 2>/dev/null) && [ -n "$kb" ]; do
    [ "$kb" -gt "$peak" ] && { peak=$kb; echo $((peak * 1024)) >"$file"; }
    sleep 0.01
  done
}

for n in ${copies//,/ }; do
  input=$("$here/make-input.sh" "$n")
  bytes=$(wc -c <"$input")
  addrs=() pids=() watchers=()
  for w in 0 1; do
    start_worker 127.0.0.1:0
    pids+=("$worker_pid")
    addrs+=("$worker_addr")
    watch_peak "$worker_pid" "$scratch/peak.$w" &
    watchers+=($!)
  done
  "$wf" master -q --workers "${addrs[0]},${addrs[1]}" --metrics "$scratch/m.json" -o "$scratch/out.txt" "$input"
  kill "${pids[@]}"
  wait "${watchers[@]}" 2>/dev/null || true
  for w in 0 1; do
    python3 - "$scratch/m.json" "$w" "$(cat "$scratch/peak.$w")" "$bytes" >>"$csv" <<'PY'
import json, sys
metrics, rank, peak, size = json.load(open(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
node = next(p for p in metrics["phases"] if p["phase"] == "shuffle1")["nodes"][rank]
limit = 64 * 2**20 + 3 * node["table_bytes"]
print(f"{size},{rank},{node['distinct']},{node['table_bytes']},{peak},{limit},{'yes' if peak <= limit else 'NO'}")
PY
  done
  tail -n 2 "$csv"
done
echo "wrote $csv"
