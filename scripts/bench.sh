#!/usr/bin/env bash
# bench.sh — wordfreq against the programs a user would pick instead, on the
# same input, interleaved round by round, every output checked.
#
#   scripts/bench.sh [--rounds R] [--copies N] [--input FILE]
#                    [--corpus zipf|distinct|both] [--words W] [--out DIR]
#                    [--countwords BIN]
#
# Corpus zipf (the default): the shipped sample text repeated N times
# (default 100: 430 MB), made with scripts/make-input.sh, or --input FILE.
# Corpus distinct: W all-distinct words (default 10 M: 170 MB), made with
# scripts/make-distinct.py. Programs, each run R times
# (default 3) in turn: wordfreq count -t 1, count (all cores), run --workers 2;
# GNU wc -w (C locale); the Python reference (scripts/reference.py, whose
# output is the oracle every other output is compared with); the GNU
# tr | sort | uniq -c pipeline; a Dask bag when Dask is installed (for
# the python3 on PATH, or the one named by $PYTHON); and, on the zipf corpus,
# countwords' optimized C when --countwords names its binary (build it from
# github.com/benhoyt/countwords as its test.sh does: gcc -O2 optimized.c;
# its table has a fixed 65,536 slots, so it cannot take the distinct corpus,
# and its order of equal counts differs, so its output is not compared).
# Every run's peak memory is its largest process's maximum resident set
# (GNU time's %M; for run, a worker or the master).
# Writes, per corpus, DIR/bench.csv or DIR/bench-distinct.csv (every run),
# DIR/summary.txt or DIR/summary-distinct.txt (medians and ratios),
# DIR/bench.svg or DIR/bench-distinct.svg (a plot), and DIR/SETUP.md
# (machine and command); DIR defaults to results/<date>-<host>/.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
rounds=3 copies=100 input="" out="" given="" corpus=zipf words=10000000 countwords=""
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --copies) copies=$2; shift 2 ;;
    --input) input=$2; given=" --input $2"; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --corpus) corpus=$2; shift 2 ;;
    --words) words=$2; shift 2 ;;
    --countwords) countwords=$2; given+=" --countwords $2"; shift 2 ;;
    -h|--help) usage "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done

[ -z "$countwords" ] || [ -x "$countwords" ] || { echo "bench.sh: --countwords $countwords is not an executable" >&2; exit 2; }
case $corpus in
  zipf|distinct|both) ;;
  *) echo "bench.sh: --corpus is zipf, distinct or both" >&2; exit 2 ;;
esac
time_bin=/usr/bin/time
[ -x "$time_bin" ] || { echo "bench.sh: GNU time (/usr/bin/time) is needed for peak memory" >&2; exit 1; }

build_wordfreq
out=${out:-$root/results/$(date +%Y-%m-%d)-$(hostname -s)}
mkdir -p "$out"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/wordfreq-bench.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# bench_corpus NAME INPUT SUFFIX: every program R times on INPUT, into
# DIR/bench$SUFFIX.csv, summary$SUFFIX.txt and bench$SUFFIX.svg.
bench_corpus() {
  local corpus=$1 input=$2 suffix=$3 bytes distinct word_bytes
  bytes=$(wc -c <"$input")
  # name|command (the command writes the result to $result). The reference
  # runs first: its first output is the oracle for everything after it.
  local programs=(
    "python reference|python3 $here/reference.py -o \$result $input"
    "wordfreq count -t1|$wf count -q --threads 1 -o \$result $input"
    "wordfreq count|$wf count -q -o \$result $input"
    "wordfreq run -w2|$wf run -q --workers 2 -o \$result $input"
    "wc -w (C locale)|LC_ALL=C wc -w $input > \$result"
    "tr + sort + uniq -c|LC_ALL=C tr -s ' \\t\\n\\v\\f\\r' '\\n\\n\\n\\n\\n\\n' < $input | LC_ALL=C tr A-Z a-z | grep -v '^\$' | LC_ALL=C sort -S 25% --parallel=$(nproc) | uniq -c | awk '{print \$2\" \"\$1}' | LC_ALL=C sort -t' ' -k2,2nr -k1,1 -S 25% > \$result"
  )
  local python=${PYTHON:-python3}
  if [ -n "$countwords" ] && [ "$corpus" = zipf ]; then
    programs+=("countwords optimized C|$countwords < $input > \$result")
  fi
  if "$python" -c "import dask.bag" 2>/dev/null; then
    programs+=("dask bag ($(nproc) processes)|$python $here/dask_count.py $input \$result")
  fi

  local csv="$out/bench$suffix.csv" oracle="$scratch/oracle$suffix.txt" r entry name command result start end seconds ok mbs peak
  echo "program,round,seconds,mb_per_s,output_ok,peak_rss_kb" >"$csv"
  for ((r = 1; r <= rounds; r++)); do
    for entry in "${programs[@]}"; do
      name=${entry%%|*}
      command=${entry#*|}
      result="$scratch/result.txt"
      rm -f "$result"
      start=$EPOCHREALTIME
      result=$result "$time_bin" -f %M -o "$scratch/peak" bash -c "result=$result; $command" >/dev/null
      end=$EPOCHREALTIME
      seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
      peak=$(tail -n 1 "$scratch/peak")
      if [ "$name" = "python reference" ] && [ ! -f "$oracle" ]; then
        cp "$result" "$oracle"
      fi
      ok=n/a
      case $name in
        wordfreq*|tr*|dask*) [ -f "$oracle" ] && { cmp -s "$result" "$oracle" && ok=yes || ok=NO; } ;;
      esac
      mbs=$(awk -v n="$bytes" -v s="$seconds" 'BEGIN { printf "%.1f", n / s / 1e6 }')
      echo "$name,$r,$seconds,$mbs,$ok,$peak" | tee -a "$csv"
    done
  done

  # Distinct words and their bytes, from the oracle: the memory target is
  # stated per distinct word plus the words' own bytes.
  distinct=$(wc -l <"$oracle")
  word_bytes=$(LC_ALL=C awk '{ n += length($1) } END { print n + 0 }' "$oracle")
  python3 "$here/summarize.py" "$csv" "$bytes" --corpus "$corpus" --distinct "$distinct" --word-bytes "$word_bytes" >"$out/summary$suffix.txt"
  "$wf" plot bench "$csv" -o "$out/bench$suffix.svg" --title "wordfreq and alternatives, $(basename "$input") ($((bytes / 1000000)) MB), median of $rounds"
  echo "- input ($corpus): $(basename "$input"), $bytes bytes, $distinct distinct words; warm page cache (every program reads it in turn, round after round)" >>"$scratch/inputs"
  cat "$out/summary$suffix.txt"
}

if [ "$corpus" != distinct ]; then
  [ -n "$input" ] || input=$("$here/make-input.sh" "$copies")
  bench_corpus zipf "$input" ""
fi
if [ "$corpus" != zipf ]; then
  bench_corpus distinct "$(python3 "$here/make-distinct.py" "$words" "${TMPDIR:-/tmp}/wordfreq-inputs/distinct_$words.txt")" -distinct
fi
{
  echo "# Setup"
  echo
  echo "- command: \`scripts/bench.sh --rounds $rounds --corpus $corpus --copies $copies --words $words$given\`"
  echo "- machine: $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(nproc) cores; $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM"
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ); $("$wf" --version 2>/dev/null || echo "wordfreq: unknown version"); $(rustc --version)"
  cat "$scratch/inputs"
} >"$out/SETUP.md"
echo "wrote $out"
