#!/usr/bin/env bash
# stop.sh — stop the workers that scripts/deploy.sh started.
#
#   scripts/stop.sh --hosts FILE [--user U] [--ssh-port P] [--identity KEY]
#       [--remote-dir D] [--pace SECONDS]
#
# Takes deploy.sh's options (see scripts/deploy.sh --help) and ignores those
# it does not need (--worker-port, --threads, --binary, --secret-file,
# --out); SSH_OPTS and a known_hosts beside the hosts file work as there.
# One ssh connection per host: the worker whose PID is in D/worker-HOST.pid
# (HOST as in the hosts file, without user@) is stopped only if
# /proc/PID/cmdline still shows a wordfreq worker (`.../wordfreq worker
# ...`): TERM, then up to 5 s for it to exit, then KILL; the PID file is
# removed. Prints one line per host: stopped (pid N),
# not running, or unreachable (ssh: ...); exits 1 if any host was unreachable
# or its worker could not be stopped, 2 on bad arguments.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/deploy.sh
source "$here/deploy.sh"

stop_main() {
  parse_args "$@"
  read_hosts
  ssh_command
  make_tmp

  local i width failed=0 rc state
  table_header
  for i in "${!hosts[@]}"; do
    if ((i > 0)) && [[ $pace != 0 ]]; then sleep "$pace"; fi
    rc=0
    "${ssh[@]}" "${targets[i]}" "$(remote_command stop "${targets[i]}")" </dev/null \
      >"$tmp/out$i" 2>"$tmp/err$i" || rc=$?
    state=$(result_of "$tmp/out$i")
    if [[ -z $state ]]; then
      if ((rc == 255)); then
        state="unreachable (ssh: $(ssh_error "$tmp/err$i"))"
      else
        state="remote script failed (exit $rc): $(ssh_error "$tmp/err$i")"
      fi
    fi
    [[ $state == stopped* || $state == "not running" ]] || failed=$((failed + 1))
    printf '%-*s  %s\n' "$width" "${hosts[i]}" "$state"
  done
  ((failed == 0))
}

stop_main "$@"
