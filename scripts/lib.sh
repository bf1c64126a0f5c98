# lib.sh — what the scripts share; sourced, not run. Sets $root (the
# checkout) and provides:
#   build_wordfreq               build the release binary, set $wf to it
#                                (or take $WORDFREQ_BIN, a prebuilt one)
#   start_worker LISTEN [PREFIX] start `[PREFIX] wordfreq worker --listen LISTEN
#                                --threads 1 -q` (plus --insecure off loopback:
#                                the scripts' namespaces are private), wait for
#                                its `listening on` line; set $worker_addr and
#                                $worker_pid
#   usage SCRIPT                 print SCRIPT's header comment (its --help)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

build_wordfreq() {
  if [ -n "${WORDFREQ_BIN:-}" ]; then
    wf=$WORDFREQ_BIN
    return
  fi
  cargo build --release --quiet --manifest-path "$root/Cargo.toml"
  wf="${CARGO_TARGET_DIR:-$root/target}/release/wordfreq"
}

start_worker() {
  local listen=$1 fd line open=()
  shift
  [[ $listen == 127.* || $listen == localhost:* ]] || open=(--insecure)
  exec {fd}< <(exec "$@" "$wf" worker --listen "$listen" --threads 1 -q ${open[@]+"${open[@]}"})
  worker_pid=$!
  if ! read -r line <&"$fd" || [[ $line != "listening on "* ]]; then
    echo "${0##*/}: the worker did not start (it printed: ${line:-nothing})" >&2
    return 1
  fi
  worker_addr=${line#listening on }
}

usage() {
  local line
  while IFS= read -r line; do
    case $line in
      '#!'*) ;;
      '#'*) line=${line#\#}; printf '%s\n' "${line# }" ;;
      *) break ;;
    esac
  done <"$1"
}
