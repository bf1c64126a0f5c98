#!/usr/bin/env bash
# memory-limit.sh — a vocabulary beyond memory (issue 10): `wordfreq count`
# on N distinct words (default 100 M, about 1.8 GB, made by
# scripts/make-distinct.py under ${TMPDIR:-/tmp}/wordfreq-inputs and kept
# for the next run) inside a memory cgroup limited to SIZE (default 2G)
# that this script creates below its own cgroup and removes at the end.
# With the default --memory-limit (90 % of the cgroup's limit) count stops
# with its error; with --oom it then runs count again with the limit lifted
# past the cgroup's (--memory-limit 100G), which the kernel's OOM killer
# ends with nothing but status 137. Prints each run's exit status, its
# error line, wall time, maximum resident set (/usr/bin/time; file pages
# of the mapped input included) and the cgroup's peak usage.
#
# Needs root and a memory cgroup: v2 (memory.max) when the memory
# controller is there, else v1 (memory.limit_in_bytes), as on hybrid hosts.
#
#   scripts/memory-limit.sh [--words N] [--cgroup-limit SIZE] [--threads T] [--oom]
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
words=100000000 size=2G threads=2 oom=0
while [ $# -gt 0 ]; do
  case $1 in
    --words) words=$2; shift 2 ;;
    --cgroup-limit) size=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --oom) oom=1; shift ;;
    -h|--help) usage "$0"; exit 0 ;;
    *) echo "memory-limit.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "memory-limit.sh: needs root (it creates a memory cgroup)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "memory-limit.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }

# Where this process's memory cgroup is, and in which version.
v1_mount=$(awk '$0 ~ / - cgroup / && $NF ~ /(^|,)memory(,|$)/ { print $5; exit }' /proc/self/mountinfo)
v2_mount=$(awk '$0 ~ / - cgroup2 / { print $5; exit }' /proc/self/mountinfo)
if [ -n "$v1_mount" ]; then
  version=1 parent="$v1_mount$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3; exit }' /proc/self/cgroup)"
  limit_file=memory.limit_in_bytes peak_file=memory.max_usage_in_bytes
elif [ -n "$v2_mount" ] && grep -qw memory "$v2_mount/cgroup.controllers"; then
  version=2 parent="$v2_mount$(sed -n 's/^0:://p' /proc/self/cgroup)"
  limit_file=memory.max peak_file=memory.peak
  # A v2 cgroup hands the memory controller to its children only when it
  # holds no process itself (the root excepted).
  if ! grep -qw memory "$parent/cgroup.subtree_control" && ! echo +memory >"$parent/cgroup.subtree_control"; then
    echo "memory-limit.sh: cannot enable the memory controller below $parent (it holds processes); run this from a cgroup of its own, e.g. systemd-run --scope" >&2
    exit 1
  fi
else
  echo "memory-limit.sh: no memory cgroup controller on this host" >&2
  exit 1
fi

build_wordfreq
input=$(python3 "$here/make-distinct.py" "$words" "${TMPDIR:-/tmp}/wordfreq-inputs/distinct_$words.txt")
scratch=$(mktemp -d "${TMPDIR:-/tmp}/wordfreq-memory-limit.XXXXXX")
bytes=$(numfmt --from=iec "$size")
made=() # the cgroups this script made, removed at the end
cleanup() {
  local c
  for c in ${made[@]+"${made[@]}"}; do
    rmdir "$c" 2>/dev/null || echo "memory-limit.sh: could not remove $c" >&2
  done
  rm -rf "$scratch"
}
trap cleanup EXIT

echo "machine: $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); $(nproc) cores; $(free -g | awk '/^Mem:/ { print $2 }') GiB RAM; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wordfreq: $("$wf" --version)"
echo "input: $input ($(stat -c %s "$input") bytes, $words distinct words)"
echo "cgroup: v$version, below $parent, $limit_file = $bytes ($size)"

# Runs `wordfreq count ARGS` alone in a fresh cgroup limited to $bytes and
# says how it ended.
run_in_cgroup() {
  local status=0 cgroup="$parent/wordfreq-memory-limit-$$-${#made[@]}" wall rss_kib peak
  mkdir "$cgroup"
  made+=("$cgroup")
  echo "$bytes" >"$cgroup/$limit_file"
  echo
  echo "\$ wordfreq count -q --threads $threads $* -o OUT $input   # in ${cgroup##*/}"
  sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$cgroup" \
    /usr/bin/time -f '%e %M' -o "$scratch/time" \
    "$wf" count -q --threads "$threads" "$@" -o "$scratch/out.txt" "$input" 2>"$scratch/stderr" || status=$?
  read -r wall rss_kib < <(tail -n 1 "$scratch/time") || true
  peak=$(cat "$cgroup/$peak_file" 2>/dev/null || echo 0)
  echo "exit status: $status"
  if [ -s "$scratch/stderr" ]; then sed 's/^/stderr: /' "$scratch/stderr"; else echo "stderr: (nothing)"; fi
  echo "wall: ${wall:-?} s; maximum resident set: $(( ${rss_kib:-0} / 1024 )) MiB (mapped input included); cgroup peak ($peak_file): $(( peak / 1048576 )) MiB"
  if [ -e "$scratch/out.txt" ]; then echo "output: $(wc -l <"$scratch/out.txt") lines"; else echo "output: none"; fi
  rm -f "$scratch/out.txt"
}

run_in_cgroup
if [ "$oom" = 1 ]; then
  run_in_cgroup --memory-limit 100G
fi
