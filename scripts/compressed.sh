#!/usr/bin/env bash
# compressed.sh — throughput on gzip text: the sample text repeated N times
# (default 240: 1.03 GB), compressed with `gzip -1` as one file and as 8
# files (a gzip stream is one unit of work: 8 files can be read at once).
# Each case R times (default 3), interleaved, with the uncompressed text and
# `gzip -dc FILE | wc -c` (decompression alone) to compare with; every wordfreq
# output is compared with the one from the uncompressed text. Rates are
# uncompressed MB per second. Writes DIR/compressed.csv and prints medians.
#
#   scripts/compressed.sh [--rounds R] [--copies N] [--out DIR]
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
rounds=3 copies=240 out=""
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --copies) copies=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) usage "$0"; exit 0 ;;
    *) echo "compressed.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
build_wordfreq
text=$("$here/make-input.sh" "$copies")
out=${out:-$root/results/$(date +%Y-%m-%d)-$(hostname -s)}
mkdir -p "$out"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/wordfreq-compressed.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
gzip -1 -c "$text" >"$scratch/one.txt.gz"
mkdir "$scratch/eight"
split -n l/8 "$text" "$scratch/eight/part."
gzip -1 "$scratch/eight"/part.*
bytes=$(wc -c <"$text")
"$wf" count -q -o "$scratch/expected.txt" "$text"

cases=(
  "count: text|$wf count -q -o \$result $text"
  "count: 1 gzip file|$wf count -q -o \$result $scratch/one.txt.gz"
  "count: 8 gzip files|$wf count -q -o \$result $scratch/eight"
  "run -w2: 1 gzip file|$wf run -q --workers 2 -o \$result $scratch/one.txt.gz"
  "run -w2: 8 gzip files|$wf run -q --workers 2 -o \$result $scratch/eight"
  "gzip -dc alone: 1 file|gzip -dc $scratch/one.txt.gz | wc -c > \$result"
)
csv="$out/compressed.csv"
echo "case,round,seconds,mb_per_s,output_ok" >"$csv"
for ((r = 1; r <= rounds; r++)); do
  for entry in "${cases[@]}"; do
    name=${entry%%|*}
    result="$scratch/result.txt"
    rm -f "$result"
    start=$EPOCHREALTIME
    bash -c "result=$result; ${entry#*|}"
    end=$EPOCHREALTIME
    ok=n/a
    [[ $name == gzip* ]] || { cmp -s "$result" "$scratch/expected.txt" && ok=yes || ok=NO; }
    awk -v n="$bytes" -v a="$start" -v b="$end" -v name="$name" -v r="$r" -v ok="$ok" \
      'BEGIN { s = b - a; printf "%s,%d,%.3f,%.1f,%s\n", name, r, s, n / s / 1e6, ok }' | tee -a "$csv"
  done
done
echo
echo "medians ($copies copies of the sample text, $bytes bytes uncompressed; gzip -1: $(wc -c <"$scratch/one.txt.gz") bytes):"
python3 - "$csv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for name in dict.fromkeys(r["case"] for r in rows):
    mine = [r for r in rows if r["case"] == name]
    s = statistics.median(float(r["seconds"]) for r in mine)
    rate = statistics.median(float(r["mb_per_s"]) for r in mine)
    print(f"  {name:26} {s:7.2f} s {rate:7.0f} MB/s  output {'/'.join(sorted({r['output_ok'] for r in mine}))}")
PY
{
  echo "- command: \`scripts/compressed.sh --rounds $rounds --copies $copies\`"
  echo "- machine: $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(nproc) cores"
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ); $("$wf" --version 2>/dev/null || echo "wordfreq: unknown version")"
} >"$out/compressed-SETUP.md"
echo "wrote $csv"
