#!/usr/bin/env bash
# deploy.sh — copy wordfreq to lab machines over ssh and start one long-lived
# worker on each; write the list of workers that answer, for
# `wordfreq master --hosts workers.txt`.
#
#   scripts/deploy.sh --hosts FILE [--user U] [--ssh-port P] [--identity KEY]
#       [--worker-port P] [--threads T] [--remote-dir D] [--pace SECONDS]
#       [--binary PATH] [--secret-file F] [--out workers.txt]
#
#   --hosts FILE      one [user@]host per line; blank lines and # comments
#                     (whole-line or trailing) are allowed
#   --user U          user for lines without one (default: the current user)
#   --ssh-port P      ssh port of every host (default: ssh's own)
#   --identity KEY    ssh private key (default: ssh's own)
#   --worker-port P   port the workers listen on, on 0.0.0.0 (default 7000)
#   --threads T       compute threads per worker (default: the worker's cores)
#   --remote-dir D    remote directory, relative to the remote home unless
#                     absolute (default .wordfreq)
#   --pace SECONDS    pause between hosts, for labs that limit the rate of
#                     ssh connections (default 0)
#   --binary PATH     a prebuilt wordfreq (default: `cargo build --release`)
#   --secret-file F   the secret every link proves (default: WORDFREQ_SECRET_FILE,
#                     else ~/.wordfreq/secret if it exists); copied to
#                     D/secret (mode 600) and passed as `--secret-file
#                     D/secret` (builds without --secret-file get none, and the
#                     table says so). Workers listen on 0.0.0.0, so without a
#                     secret they refuse to start; the master and status here
#                     find the same file by default.
#   --out FILE        where to write `host:port` of each deployed worker
#                     (default workers.txt)
#   SSH_OPTS          extra ssh options (word-split), before this script's own
#                     (-o BatchMode=yes -o ConnectTimeout=10 -o LogLevel=ERROR),
#                     so they win: e.g. SSH_OPTS="-o StrictHostKeyChecking=no"
#
# Remote hosts need a POSIX sh and a login shell of the sh family (the
# command is `sh -c '...'`). Host keys are checked as ssh does, against
# ~/.ssh/known_hosts and also against a file named known_hosts beside the
# hosts file, if there is one (as scripts/lab.sh writes).
#
# Each host gets one ssh connection (a ControlMaster in a private temp dir;
# every step below is a session on it). On the host, with D its remote dir
# and HOST its name in the hosts file (without user@):
#   - the host's `uname -m` must match the binary's ELF machine;
#   - the binary is streamed to D/wordfreq.new and checked (cksum);
#   - the worker that a previous deploy started for HOST (PID in
#     D/worker-HOST.pid) is stopped if /proc/PID/cmdline still shows a
#     wordfreq worker: TERM, up to 5 s, then KILL;
#   - D/wordfreq.new is renamed to D/wordfreq, and `D/wordfreq worker --listen
#     0.0.0.0:PORT [--threads T]` started detached (setsid, nohup, stdin
#     /dev/null, output to D/worker-HOST.log, PID in D/worker-HOST.pid).
# The PID and log files are named after the host because hosts may share D
# (an NFS home; the network namespaces of scripts/lab.sh share one
# filesystem). Readiness is a real protocol exchange, from this machine:
# `wordfreq status --workers HOST:PORT --wait 10`; if it fails, the table
# shows the last line of the worker's log.
#
# Prints one line per host (deployed, unreachable (ssh: ...), arch mismatch
# (...), worker did not start: LAST-LOG-LINE, ...), writes HOST:PORT of each
# deployed worker to the --out file, and exits 1 if any host failed, 2 on
# bad arguments. Running it again replaces the workers; scripts/stop.sh takes
# the same options and stops them.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
source "$here/lib.sh"

show_help() {
  # The header comment of the script that was run, up to its first
  # non-comment line.
  awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
}

die() {
  echo "${0##*/}: $*" >&2
  exit 2
}

# Options (deploy.sh and stop.sh share them; stop.sh ignores some).
hosts_file='' user='' ssh_port='' identity='' worker_port=7000 threads=''
remote_dir=.wordfreq pace=0 binary='' secret_file='' out=workers.txt

parse_args() {
  local opt val
  while (($#)); do
    opt=$1
    case $opt in
      -h | --help) show_help; exit 0 ;;
      --*=*) val=${opt#*=}; opt=${opt%%=*}; shift ;;
      --hosts | --user | --ssh-port | --identity | --worker-port | --threads | \
        --remote-dir | --pace | --binary | --secret-file | --out)
        (($# >= 2)) || die "$opt needs a value (--help for usage)"
        val=$2; shift 2 ;;
      --*) die "unknown option $opt (--help for usage)" ;;
      *) die "unexpected argument '$opt' (--help for usage)" ;;
    esac
    case $opt in
      --hosts) hosts_file=$val ;;
      --user) user=$val ;;
      --ssh-port) ssh_port=$val ;;
      --identity) identity=$val ;;
      --worker-port) worker_port=$val ;;
      --threads) threads=$val ;;
      --remote-dir) remote_dir=$val ;;
      --pace) pace=$val ;;
      --binary) binary=$val ;;
      --secret-file) secret_file=$val ;;
      --out) out=$val ;;
      *) die "unknown option $opt (--help for usage)" ;;
    esac
  done
  [[ -n $hosts_file ]] || die "--hosts FILE is required (--help for usage)"
  [[ -r $hosts_file ]] || die "cannot read hosts file $hosts_file"
  [[ -z $ssh_port || $ssh_port =~ ^[0-9]+$ ]] || die "--ssh-port: not a number: $ssh_port"
  [[ $pace =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--pace: not a number of seconds: $pace"
  [[ -n $remote_dir ]] || die "--remote-dir must not be empty"
  [[ -z $identity || -r $identity ]] || die "cannot read identity $identity"
  [[ -n $user ]] || user=$(id -un)
}

# check_deploy_args: the options that only deploy uses.
check_deploy_args() {
  if ! [[ $worker_port =~ ^[0-9]+$ ]] || ((worker_port == 0 || worker_port > 65535)); then
    die "--worker-port: not a port: $worker_port"
  fi
  [[ -z $threads || $threads =~ ^[1-9][0-9]*$ ]] || die "--threads: not a positive number: $threads"
  [[ -z $binary || -f $binary ]] || die "no such binary $binary"
  [[ -z $secret_file || -r $secret_file ]] || die "cannot read secret file $secret_file"
}

# read_hosts: fill `hosts` with the hosts of the hosts file as written
# ([user@]host) and `targets` with their ssh targets (user@host), in order,
# each target once.
read_hosts() {
  local line target seen=' '
  hosts=() targets=()
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line%%#*}
    line=${line#"${line%%[![:space:]]*}"}
    line=${line%"${line##*[![:space:]]}"}
    [[ -n $line ]] || continue
    [[ $line != *[[:space:]]* && $line != -* && $line != *@ && $line != @* ]] ||
      die "$hosts_file: not a [user@]host: '$line'"
    target=$line
    [[ $target == *@* ]] || target=$user@$line
    [[ $seen != *" $target "* ]] || continue
    seen+="$target "
    hosts+=("$line")
    targets+=("$target")
  done <"$hosts_file"
  ((${#hosts[@]})) || die "$hosts_file names no host"
}

# worker_addr TARGET: the address a master dials, HOST:PORT, where HOST is
# what ssh connects to (its HostName if an ssh config renames the host;
# [HOST] for an IPv6 literal).
worker_addr() {
  local host
  host=$("${ssh[@]}" -G "$1" 2>/dev/null | awk '$1 == "hostname" { print $2; exit }' || true)
  [[ -n $host ]] || host=${1#*@}
  if [[ $host == *:* && $host != \[* ]]; then host="[$host]"; fi
  echo "$host:$worker_port"
}

# The ssh command line: SSH_OPTS first (the first value of an option wins).
# Prints the table's header; sets `width` (the caller's local) to the
# widest host name, for the rows.
table_header() {
  local h
  width=4
  for h in "${hosts[@]}"; do
    ((${#h} <= width)) || width=${#h}
  done
  printf '%-*s  %s\n' "$width" HOST STATE
}

ssh_command() {
  local -a extra=()
  local known
  read -r -a extra <<<"${SSH_OPTS:-}"
  ssh=(ssh "${extra[@]}" -o BatchMode=yes -o ConnectTimeout=10 -o LogLevel=ERROR)
  [[ -z $ssh_port ]] || ssh+=(-p "$ssh_port")
  [[ -z $identity ]] || ssh+=(-i "$identity" -o IdentitiesOnly=yes)
  known="$(cd "$(dirname "$hosts_file")" && pwd)/known_hosts"
  if [[ -f $known && $known != *[[:space:]]* ]]; then
    ssh+=(-o "UserKnownHostsFile=$known ~/.ssh/known_hosts ~/.ssh/known_hosts2")
  fi
}

# squote WORD: WORD quoted for a POSIX remote shell.
squote() {
  printf "'%s'" "${1//\'/\'\\\'\'}"
}

# ssh_error FILE: the last line ssh wrote, without its "ssh: " prefix.
ssh_error() {
  local last
  last=$(grep -v '^[[:space:]]*$' "$1" | tail -n 1 || true)
  echo "${last#ssh: }"
}

# The script every ssh session runs (POSIX sh, under `sh -c`), with
# arguments MODE DIR HOST PORT THREADS ARCH CKSUM SECRET_BYTES. It reports
# one `RESULT ...` line. Modes:
#   deploy  stdin is SECRET_BYTES of secret, then the binary; check the
#           architecture and the copy, stop the previous worker, start the new
#           one: `RESULT started PID [NOTE]`
#   stop    stop the recorded worker: `RESULT stopped (pid N)` or
#           `RESULT not running`
#   check   `RESULT alive|dead LAST-LOG-LINE`
# shellcheck disable=SC2016 # expanded by the remote shell
remote_script='
mode=$1 dir=$2 name=$3 port=$4 threads=$5 want=$6 sum=$7 secret_bytes=$8
result() { printf "RESULT %s\n" "$*"; exit 0; }
norm_arch() {
  case $1 in
    x86_64 | amd64) echo x86_64 ;;
    aarch64 | arm64) echo aarch64 ;;
    i?86) echo i686 ;;
    arm | armv*) echo arm ;;
    *) echo "$1" ;;
  esac
}
cd || result "cannot enter the home directory"
case $dir in /*) ;; *) dir=$(pwd)/$dir ;; esac
bin=$dir/wordfreq pidfile=$dir/worker-$name.pid log=$dir/worker-$name.log

# is_worker PID: PID is alive and its command line is `.../wordfreq worker`.
is_worker() {
  if [ -r "/proc/$1/cmdline" ]; then
    tr "\000" "\n" <"/proc/$1/cmdline" 2>/dev/null
  else
    ps -p "$1" -o args= 2>/dev/null | tr " " "\n"
  fi | {
    prev= n=0
    while IFS= read -r arg && [ "$n" -lt 3 ]; do
      [ "${prev##*/}" = wordfreq ] && [ "$arg" = worker ] && exit 0
      prev=$arg n=$((n + 1))
    done
    exit 1
  }
}

nap() { sleep 0.1 2>/dev/null || sleep 1; }

# stop_worker: stop the worker recorded in the PID file; print what happened.
stop_worker() {
  [ -f "$pidfile" ] || { echo "not running"; return 0; }
  pid=$(cat "$pidfile" 2>/dev/null)
  case $pid in "" | *[!0-9]*) rm -f "$pidfile"; echo "not running"; return 0 ;; esac
  if ! is_worker "$pid"; then rm -f "$pidfile"; echo "not running"; return 0; fi
  kill -TERM "$pid" 2>/dev/null
  how= n=50
  while [ "$n" -gt 0 ] && is_worker "$pid"; do nap; n=$((n - 1)); done
  if is_worker "$pid"; then
    kill -KILL "$pid" 2>/dev/null
    how=", KILL after 5 s" n=20
    while [ "$n" -gt 0 ] && is_worker "$pid"; do nap; n=$((n - 1)); done
  fi
  if is_worker "$pid"; then echo "still running (pid $pid)"; return 1; fi
  rm -f "$pidfile"
  echo "stopped (pid $pid$how)"
}

case $mode in
  stop)
    said=$(stop_worker) || result "could not stop: $said"
    result "$said" ;;
  check)
    state=dead
    pid=$(cat "$pidfile" 2>/dev/null) && is_worker "$pid" && state=alive
    line=$(tail -n 1 "$log" 2>/dev/null)
    result "$state ${line:-(empty log)}" ;;
  deploy) ;;
  *) result "unknown mode $mode" ;;
esac

have=$(norm_arch "$(uname -m)")
[ "$have" = "$want" ] || result "arch mismatch (binary $want, host $have)"
mkdir -p "$dir" || result "cannot create $dir"
rm -f "$dir/secret.new" "$bin.new"
if [ "$secret_bytes" -gt 0 ]; then
  (umask 077 && dd bs=1 count="$secret_bytes" of="$dir/secret.new" 2>/dev/null) ||
    result "copy failed: cannot write $dir/secret.new"
fi
(umask 022 && cat >"$bin.new") || result "copy failed: cannot write $bin.new"
set -- $(cksum <"$bin.new")
[ "$1 $2" = "$sum" ] || { rm -f "$bin.new"; result "copy failed: $bin.new is not the binary sent"; }
chmod 755 "$bin.new"
help=$("$bin.new" worker --help 2>&1) ||
  { rm -f "$bin.new"; result "binary does not run here: $(printf "%s\n" "$help" | tail -n 1)"; }
note= secret=
if [ -f "$dir/secret.new" ]; then
  case $help in
    *--secret-file*) mv -f "$dir/secret.new" "$dir/secret" && chmod 600 "$dir/secret" && secret=$dir/secret ;;
    *) rm -f "$dir/secret.new"; note=", no secret: this build has no --secret-file" ;;
  esac
fi
said=$(stop_worker) || result "previous worker $said"
mv -f "$bin.new" "$bin" || result "cannot rename $bin.new to $bin"
set -- "$bin" worker --listen "0.0.0.0:$port" -v
[ -z "$threads" ] || set -- "$@" --threads "$threads"
[ -z "$secret" ] || set -- "$@" --secret-file "$secret"
# The wrapper writes its own PID and then execs the worker, so the PID file
# names the worker even if setsid forks; setsid: a session of its own.
set -- nohup sh -c "echo \$\$ >\"\$0.new\" && mv -f \"\$0.new\" \"\$0\" && exec \"\$@\"" "$pidfile" "$@"
if command -v setsid >/dev/null 2>&1; then set -- setsid "$@"; fi
: >"$log"
"$@" </dev/null >>"$log" 2>&1 &
n=50
while [ "$n" -gt 0 ] && [ ! -s "$pidfile" ]; do nap; n=$((n - 1)); done
[ -s "$pidfile" ] || result "worker did not start: $(tail -n 1 "$log" 2>/dev/null)"
result "started $(cat "$pidfile")$note"
'

# remote_command MODE TARGET [ARCH CKSUM SECRET_BYTES]: the command line for
# ssh.
remote_command() {
  local arg cmd name=${2#*@}
  name=${name//[^A-Za-z0-9._:-]/_}
  cmd="sh -c $(squote "$remote_script") wordfreq-${1}"
  for arg in "$1" "$remote_dir" "$name" "$worker_port" "$threads" "${3:-}" "${4:-}" "${5:-0}"; do
    cmd+=" $(squote "$arg")"
  done
  echo "$cmd"
}

# result_of FILE: the text of the RESULT line of a session's output, without
# terminal colour sequences (a log line may have them).
result_of() {
  grep '^RESULT ' "$1" | tail -n 1 | sed $'s/^RESULT //; s/\x1b\\[[0-9;]*m//g' || true
}

# The private temp dir (control sockets, session output) and the control
# masters to close on exit.
tmp='' masters=()
cleanup() {
  local ctl
  for ctl in ${masters[@]+"${masters[@]}"}; do
    ssh -o ControlPath="$ctl" -O exit dummy >/dev/null 2>&1 || true
  done
  [[ -z $tmp ]] || rm -rf "$tmp"
}

make_tmp() {
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/wfdeploy.XXXXXX")
  trap cleanup EXIT
}

# binary_arch FILE: the machine FILE is built for, named as `uname -m`
# (normalized as on the remote side); this machine's if not a known ELF.
binary_arch() {
  local -a b
  local m
  read -r -a b <<<"$(od -An -tx1 -N20 "$1" | tr '\n' ' ')"
  if [[ ${#b[@]} -eq 20 && "${b[*]:0:4}" == "7f 45 4c 46" ]]; then
    # e_machine, at offset 18, in the file's byte order (EI_DATA, byte 5)
    if [[ ${b[5]} == 02 ]]; then m=${b[18]}${b[19]}; else m=${b[19]}${b[18]}; fi
    case $m in
      003e) echo x86_64; return ;;
      00b7) echo aarch64; return ;;
      0003) echo i686; return ;;
      0028) echo arm; return ;;
      00f3) if [[ ${b[4]} == 02 ]]; then echo riscv64; else echo riscv32; fi; return ;;
      0015) if [[ ${b[5]} == 01 ]]; then echo ppc64le; else echo ppc64; fi; return ;;
      0016) echo s390x; return ;;
    esac
  fi
  case $(uname -m) in
    amd64) echo x86_64 ;;
    arm64) echo aarch64 ;;
    i?86) echo i686 ;;
    armv*) echo arm ;;
    *) uname -m ;;
  esac
}

# status_binary: a wordfreq that runs here and has `status`: the one being
# deployed, else (when that one is built for another machine) this
# checkout's build, else the one on PATH.
status_binary() {
  local b
  for b in "$wf" "$root/target/release/wordfreq" "$(command -v wordfreq || true)"; do
    if [[ -x $b ]] && "$b" status --help >/dev/null 2>&1; then
      echo "$b"
      return
    fi
  done
  echo "${0##*/}: $wf has no \`status\` subcommand (needed to check that workers answer); use a newer build" >&2
  exit 2
}

# deploy_host INDEX: deploy to hosts[INDEX]; set `state`; return 1 on failure.
deploy_host() {
  local i=$1 target=${targets[$1]} ctl="$tmp/c$1" rc addr said pid why
  local -a session
  # One connection: the control master; every step is a session on it.
  if ! "${ssh[@]}" -o ControlMaster=yes -o ControlPath="$ctl" -o ControlPersist=120 \
    -f -N "$target" </dev/null >/dev/null 2>"$tmp/master$i"; then
    state="unreachable (ssh: $(ssh_error "$tmp/master$i"))"
    return 1
  fi
  masters+=("$ctl")
  session=("${ssh[@]}" -o ControlMaster=no -o ControlPath="$ctl" "$target")

  rc=0
  "${session[@]}" "$(remote_command deploy "$target" "$arch" "$sum" "$secret_bytes")" \
    < <(if [[ -n $secret_file ]]; then cat "$secret_file"; fi 2>/dev/null; cat "$wf" 2>/dev/null) \
    >"$tmp/out$i" 2>"$tmp/err$i" || rc=$?
  said=$(result_of "$tmp/out$i")
  if [[ $said != started\ * ]]; then
    if [[ -n $said ]]; then
      state=$said
    elif ((rc == 255)); then
      state="unreachable (ssh: $(ssh_error "$tmp/err$i"))"
    else
      state="remote script failed (exit $rc): $(ssh_error "$tmp/err$i")"
    fi
    close_master "$ctl" "$target"
    return 1
  fi
  said=${said#started }
  pid=${said%%,*}

  addr=$(worker_addr "$target")
  rc=0
  "$status_wf" status ${status_opts[@]+"${status_opts[@]}"} --workers "$addr" --wait 10 \
    >"$tmp/status$i" 2>"$tmp/err$i" || rc=$?
  if ((rc == 0)); then
    state="deployed (pid $said)"
    close_master "$ctl" "$target"
    return 0
  fi
  # `ADDR  unreachable  REASON`, else the error line
  why=$(sed -n 's/^[^ ]*  unreachable  //p' "$tmp/status$i" | tail -n 1)
  [[ -n $why ]] || why=$(ssh_error "$tmp/err$i")
  # It did not answer: dead (show why from its log) or alive but not reachable.
  "${session[@]}" "$(remote_command check "$target")" </dev/null >"$tmp/out$i" 2>"$tmp/err$i" || true
  said=$(result_of "$tmp/out$i")
  case $said in
    dead\ *) state="worker did not start: ${said#dead }" ;;
    alive\ *) state="worker (pid $pid) does not answer ($why); log: ${said#alive }" ;;
    *) state="worker does not answer ($why)" ;;
  esac
  close_master "$ctl" "$target"
  return 1
}

close_master() {
  "${ssh[@]}" -o ControlPath="$1" -O exit "$2" >/dev/null 2>&1 || true
}

deploy_main() {
  parse_args "$@"
  check_deploy_args
  read_hosts
  ssh_command
  if [[ -n $binary ]]; then
    wf="$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")"
  else
    build_wordfreq
  fi
  status_wf=$(status_binary)
  arch=$(binary_arch "$wf")
  read -r sum_crc sum_len _ <<<"$(cksum <"$wf")"
  sum="$sum_crc $sum_len"
  if [[ -z $secret_file ]]; then
    secret_file=${WORDFREQ_SECRET_FILE:-}
    [[ -n $secret_file || ! -f ${HOME:-/nonexistent}/.wordfreq/secret ]] || secret_file=$HOME/.wordfreq/secret
  fi
  secret_bytes=0 status_opts=()
  if [[ -n $secret_file ]]; then
    secret_bytes=$(wc -c <"$secret_file")
    status_opts=(--secret-file "$secret_file")
  fi
  make_tmp

  local i width failed=0 state addr
  local -a ok=()
  table_header
  for i in "${!hosts[@]}"; do
    if ((i > 0)) && [[ $pace != 0 ]]; then sleep "$pace"; fi
    if deploy_host "$i"; then
      addr=$(worker_addr "${targets[i]}")
      [[ " ${ok[*]-} " == *" $addr "* ]] || ok+=("$addr")
    else
      failed=$((failed + 1))
    fi
    printf '%-*s  %s\n' "$width" "${hosts[i]}" "$state"
  done

  : >"$out.new"
  if ((${#ok[@]})); then printf '%s\n' "${ok[@]}" >"$out.new"; fi
  mv -f "$out.new" "$out"
  echo "${#ok[@]} of ${#hosts[@]} hosts deployed ($arch, worker port $worker_port); workers listed in $out" >&2
  ((failed == 0))
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  deploy_main "$@"
fi
