#!/usr/bin/env bash
# make-input.sh N [OUT] — write the shipped sample text (tests/data/kjvbible.txt)
# repeated N times to OUT, for benchmarks. OUT defaults to
# ${TMPDIR:-/tmp}/wordfreq-inputs/kjvbible_xN.txt: big inputs are scratch and
# never committed. x100 is 430 MB, x1000 4.3 GB. An existing OUT of the right
# size is kept; a new one is written beside OUT and renamed when complete.
set -euo pipefail

usage() { echo "usage: $(basename "$0") N [OUT]   (N copies, N >= 1)" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
n=$1
[[ $n =~ ^[1-9][0-9]*$ ]] || usage
src="$(cd "$(dirname "$0")/.." && pwd)/tests/data/kjvbible.txt"
out=${2:-${TMPDIR:-/tmp}/wordfreq-inputs/kjvbible_x$n.txt}
[ -r "$src" ] || { echo "$(basename "$0"): cannot read $src" >&2; exit 1; }
want=$(( $(wc -c <"$src") * n ))
if [ -f "$out" ] && [ "$(wc -c <"$out")" -eq "$want" ]; then
  echo "$out"
  exit 0
fi
mkdir -p "$(dirname "$out")"
tmp="$out.partial.$$"
trap 'rm -f "$tmp"' EXIT
for ((i = 0; i < n; i++)); do cat "$src"; done >"$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "$out"
