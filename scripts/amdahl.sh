#!/usr/bin/env bash
# amdahl.sh — the scaling study: how the sequential part of a job
# (coordination, communication, the master) limits speedup as workers are
# added (Amdahl), and how far a growing input keeps them busy (Gustafson).
#
#   scripts/amdahl.sh [--lab | --local] [--nodes 1,2,4,8] [--input FILE]
#       [--corpus zipf|distinct|both] [--reps R] [--weak]
#       [--redistribute histogram,central] [--cpus C] [--rate RATE]
#       [--size MB] [--quick] [--out DIR]
#
# --lab (the default as root) builds a virtual lab with scripts/lab.sh: one
# node per worker plus one for the master, each with the same CPU budget C
# (default: the machine's cores / (largest k + 1), so together they never
# get more than the machine has) and links capped at RATE (default 1gbit).
# Workers are deployed with scripts/deploy.sh (one compute thread each);
# the master runs in node 1, and T1 is `wordfreq count --threads 1` in node 1
# under the same budget. --local (the default without root) runs workers as
# local processes: beyond the core count, k measures time-sharing, and the
# CSV's `setting` column says `local`.
#
# Inputs: zipf is the sample text repeated (few distinct words: small
# shuffles), distinct is make-distinct.py's high-cardinality text (every
# word once: the shuffles and phase 4 carry real data); about --size MB
# each (default 400). --input FILE runs one corpus named `custom` instead.
# --quick: 4 MB inputs, nodes 1,2,4, one rep (under two minutes). --weak
# adds Gustafson's sweep: the input grows with k (k copies of a base of
# size / largest k).
#
# For every corpus, rep and k (and plan), a job runs with --metrics; each
# run is one row of DIR/amdahl.csv (columns: corpus, plan, mode, nodes, rep,
# cpu_per_node, link_rate, setting, input_bytes, wall_s, the six phase walls
# init,shuffle1,local_count,redistribute,shuffle2,sort_output, the bytes each
# phase moved, master_cpu_s; T1 rows have plan t1). Then `wordfreq plot
# scaling` writes DIR/summary.md (speedup, efficiency, Karp–Flatt serial
# fraction, fitted parallel fraction p and ceiling 1/(1-p)) and the SVG
# charts, and `wordfreq plot timeline` draws the largest job of each series.
# DIR (default results/<date>-scaling) also gets SETUP.md: machine, command.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
command_line="scripts/amdahl.sh $*"

setting="" nodes=1,2,4,8 input="" corpus=both reps=3 weak=0 plans=histogram,central
cpus="" rate=1gbit quick=0 out="" size=400
die() { echo "amdahl.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --lab) setting=lab; shift ;;
    --local) setting=local; shift ;;
    --nodes) nodes=${2:?}; shift 2 ;;
    --input) input=${2:?}; shift 2 ;;
    --corpus) corpus=${2:?}; shift 2 ;;
    --reps) reps=${2:?}; shift 2 ;;
    --weak) weak=1; shift ;;
    --redistribute) plans=${2:?}; shift 2 ;;
    --cpus) cpus=${2:?}; shift 2 ;;
    --rate) rate=${2:?}; shift 2 ;;
    --size) size=${2:?}; shift 2 ;;
    --quick) quick=1; shift ;;
    --out) out=${2:?}; shift 2 ;;
    -h|--help) usage "$0"; exit 0 ;;
    *) die "unknown argument $1 (try --help)" ;;
  esac
done
if [ "$quick" = 1 ]; then
  [[ $command_line == *--nodes* ]] || nodes=1,2,4
  [[ $command_line == *--reps* ]] || reps=1
fi
[[ $nodes =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "--nodes takes a list like 1,2,4,8"
[[ $reps =~ ^[1-9][0-9]*$ ]] || die "--reps takes a positive number"
[[ $size =~ ^[1-9][0-9]*$ ]] || die "--size takes a number of MB"
case $corpus in zipf) corpora=(zipf) ;; distinct) corpora=(distinct) ;; both) corpora=(zipf distinct) ;;
  *) die "--corpus is zipf, distinct or both" ;; esac
[ -z "$input" ] || { [ -r "$input" ] || die "cannot read --input $input"; corpora=(custom); }
for plan in ${plans//,/ }; do
  case $plan in histogram|central) ;; *) die "--redistribute takes histogram and/or central" ;; esac
done
if [ -z "$setting" ]; then
  if [ "$(id -u)" = 0 ]; then setting=lab; else setting=local; fi
fi
if [ "$setting" = lab ] && [ "$(id -u)" != 0 ]; then
  die "--lab needs root (network namespaces, cgroups); use --local"
fi
max_k=$(tr , '\n' <<<"$nodes" | sort -n | tail -n 1)
cores=$(nproc)
if [ -z "$cpus" ]; then
  if [ "$setting" = lab ]; then cpus=$(awk -v c="$cores" -v k="$max_k" 'BEGIN { printf "%.3f", c / (k + 1) }'); else cpus=1; fi
fi

build_wordfreq
out=${out:-$root/results/$(date +%Y-%m-%d)-scaling}
mkdir -p "$out/metrics"
out=$(cd "$out" && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/wordfreq-amdahl.XXXXXX")
csv=$out/amdahl.csv
lab=$scratch/lab
pids=()

cleanup() {
  if [ "$setting" = lab ]; then
    [ ! -s "$scratch/workers.txt" ] || "$here/stop.sh" --hosts "$scratch/hosts" --identity "$lab/id" \
      --remote-dir "$scratch/remote" >/dev/null 2>&1 || true
    [ ! -f "$lab/lab.env" ] || "$here/lab.sh" down --dir "$lab" >/dev/null 2>&1 || true
  fi
  [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT

# Inputs: NAME SIZE-KIND → path.
[ "$quick" = 0 ] || [[ $command_line == *--size* ]] || size=4
# The sample text is 4.3 MB; a distinct word takes about 17 bytes.
zipf_copies=$(( (size * 1000000 + 2151776) / 4303552 )) distinct_words=$(( size * 1000000 / 17 ))
[ "$zipf_copies" -ge 1 ] || zipf_copies=1
make_input() { # corpus fraction(divisor) → path
  local c=$1 div=$2
  case $c in
    zipf) "$here/make-input.sh" $(( (zipf_copies + div - 1) / div )) ;;
    distinct) local n=$(( distinct_words / div ))
      python3 "$here/make-distinct.py" "$n" "${TMPDIR:-/tmp}/wordfreq-inputs/distinct_$n.txt" ;;
    custom) echo "$input" ;;
  esac
}

# Where jobs run. `node CMD...` runs CMD where the master runs.
if [ "$setting" = lab ]; then
  echo "== lab: $((max_k + 1)) nodes of $cpus cores, links $rate (node 1: master and T1)"
  "$here/lab.sh" up $((max_k + 1)) --cpus "$cpus" --rate "$rate" --dir "$lab" >/dev/null
  tail -n +2 "$lab/hosts" >"$scratch/hosts"
  cp "$lab/known_hosts" "$scratch/known_hosts"
  # The lab's links are authenticated like a real lab's: a secret of its own.
  (umask 077 && head -c 32 /dev/urandom | base64 >"$scratch/secret")
  export WORDFREQ_SECRET_FILE=$scratch/secret
  "$here/deploy.sh" --hosts "$scratch/hosts" --identity "$lab/id" --threads 1 --binary "$wf" \
    --remote-dir "$scratch/remote" --out "$scratch/workers.txt" >/dev/null
  node() { "$here/lab.sh" exec --dir "$lab" 1 env WORDFREQ_SECRET_FILE="$WORDFREQ_SECRET_FILE" "$@"; }
else
  echo "== local: $max_k one-thread worker processes on $cores cores (k > $cores measures time-sharing)"
  for ((w = 0; w < max_k; w++)); do
    start_worker 127.0.0.1:0
    pids+=("$worker_pid")
    echo "$worker_addr" >>"$scratch/workers.txt"
  done
  node() { "$@"; }
fi
workers_for() { head -n "$1" "$scratch/workers.txt" | paste -sd, -; }

# Appends one row to the CSV from a metrics file.
row() { # metrics corpus plan mode k rep
  python3 - "$@" "$cpus" "$rate" "$setting" >>"$csv" <<'PY'
import json, sys
path, corpus, plan, mode, k, rep, cpus, rate, setting = sys.argv[1:10]
m = json.load(open(path))
names = ["init", "shuffle1", "local_count", "redistribute", "shuffle2", "sort_output"]
walls = {n: 0.0 for n in names}
moved = {n: 0 for n in names}
for p in m["phases"]:
    # `count` has one step, `count`, in the shuffle1 column, plus init and
    # sort_output. Times in the metrics are whole microseconds.
    name = "shuffle1" if p["phase"] == "count" else p["phase"]
    walls[name] += p["wall_us"] / 1e6
    moved[name] += p["master_bytes_sent"] + sum(n["bytes_sent"] for n in p["nodes"])
fields = [corpus, plan, mode, k, rep, cpus, rate, setting, m["total_bytes"], f'{m["wall_us"] / 1e6:.4f}']
fields += [f"{walls[n]:.4f}" for n in names] + [moved[n] for n in names] + [f'{m["master_cpu_us"] / 1e6:.3f}']
print(",".join(map(str, fields)))
PY
}

echo "corpus,plan,mode,nodes,rep,cpu_per_node,link_rate,setting,input_bytes,wall_s,init,shuffle1,local_count,redistribute,shuffle2,sort_output,bytes_init,bytes_shuffle1,bytes_local_count,bytes_redistribute,bytes_shuffle2,bytes_sort_output,master_cpu_s" >"$csv"
m=$scratch/m.json
modes=(strong)
[ "$weak" = 0 ] || modes+=(weak)
for c in "${corpora[@]}"; do
  strong_input=$(make_input "$c" 1)
  weak_base=$(make_input "$c" "$max_k")
  for mode in "${modes[@]}"; do
    base=$strong_input
    [ "$mode" = strong ] || base=$weak_base
    echo "== $c corpus, $mode scaling: $(wc -c <"$base") bytes$([ "$mode" = weak ] && echo " per worker")"
    for ((r = 1; r <= reps; r++)); do
      node "$wf" count -q --threads 1 --metrics "$m" -o /dev/null "$base"
      row "$m" "$c" t1 "$mode" 1 "$r"
      printf '  rep %d: T1 %.2f s' "$r" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["wall_us"] / 1e6)' "$m")"
      for k in ${nodes//,/ }; do
        inputs=("$base")
        if [ "$mode" = weak ]; then inputs=(); for ((i = 0; i < k; i++)); do inputs+=("$base"); done; fi
        for plan in ${plans//,/ }; do
          node "$wf" master -q --workers "$(workers_for "$k")" --redistribute "$plan" \
            --metrics "$m" -o /dev/null "${inputs[@]}"
          row "$m" "$c" "$plan" "$mode" "$k" "$r"
          [ "$k" != "$max_k" ] || cp "$m" "$out/metrics/$c-$plan-$mode-k$k.json"
        done
        printf ', k=%d done' "$k"
      done
      echo
    done
  done
done

"$wf" plot scaling "$csv" --out "$out"
for f in "$out"/metrics/*.json; do "$wf" plot timeline "$f" -o "$out/timeline-$(basename "$f" .json).svg"; done
{
  echo "# Setup"
  echo
  echo "- command: \`$command_line\`"
  echo "- machine: $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); $cores cores; $(free -g | awk '/Mem:/ {print $2}') GiB RAM"
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ); $("$wf" --version 2>/dev/null || echo "wordfreq: unknown version")"
  echo "- setting: $setting; $cpus cores per node; links $rate; nodes $nodes; reps $reps; plans $plans"
} >"$out/SETUP.md"
echo "wrote $out (amdahl.csv, summary.md, SVG charts, SETUP.md)"
