#!/usr/bin/env bash
# lab.sh — a virtual lab of K "machines" on this one Linux host, to run
# wordfreq's master and workers as on a lab network. Needs root, iproute2
# (ip, tc), ssh-keygen and OpenSSH's sshd.
#
#   scripts/lab.sh up K [--cpus C] [--rate RATE] [--dir DIR]
#   scripts/lab.sh exec [--dir DIR] I CMD...
#   scripts/lab.sh status [--dir DIR]
#   scripts/lab.sh down [--dir DIR]
#
# up builds nodes 1..K. Node I is:
#   - a network namespace wflabI, address 10.79.0.(10+I)/24, on a veth pair
#     (wflabhI on the host, wflabnI in the node) to the bridge wflab0
#     (10.79.0.1/24) in the host's namespace; nodes reach each other and
#     the host over the bridge, and nothing else (no default route);
#   - a CPU budget of C cores (fractional allowed; default: cores / K): a CFS
#     quota on the cgroup wordfreq-lab/nodeI (cgroup v1 cpu controller, or
#     cpu.max on cgroup v2, whichever the machine has; on v1 the node is put
#     in the cpuacct hierarchy too, for cpuacct.usage);
#   - a rate cap of RATE (tc syntax, default 1gbit) each way: tbf on the node
#     end (node egress) and on the host end (node ingress) of its veth;
#   - an sshd on 10.79.0.(10+I):22 letting root in with the lab's own ed25519
#     key (no password). Whatever runs through that sshd, or through exec,
#     is inside the node's namespace and CPU budget.
# Files written in DIR (default ${TMPDIR:-/tmp}/wordfreq-lab):
#   hosts        the node addresses, one a line (a hosts file for deploy.sh)
#   id, id.pub   the key to log in with, e.g. from the host or another node:
#                  ssh -i DIR/id -o UserKnownHostsFile=DIR/known_hosts root@10.79.0.11
#   known_hosts  the nodes' host keys;  ssh_config: ssh -F DIR/ssh_config 10.79.0.11
#   lab.env      what was created (names, cgroups, sshd PIDs, cpus, rate),
#                read back by exec, status and down
#   nodeI/       node I's sshd config, host key, pid file and log
# up prints a table of the nodes. An up on a DIR holding a lab replaces it;
# an up that fails half-way removes what it had created and exits non-zero.
#
# exec runs CMD in node I (namespace and CPU budget) with the caller's stdin,
# stdout and stderr, and exits with CMD's status: e.g. a master, or
# `wordfreq count --threads 1`, measured under a worker's budget.
# status says what of the lab exists and whether each node answers over ssh;
# exit status 0 only when the lab is complete.
# down removes exactly what up recorded in DIR/lab.env: the recorded sshds,
# any process left in the nodes' cgroups or namespaces, the namespaces, veths,
# bridge and cgroups, and the files it wrote. Running it again does nothing.
# Left in place, as other sshds and cgroups may come to rely on them: the
# directory /run/sshd (sshd's privilege separation dir) if up had to make it,
# and on cgroup v2 a "+cpu" that up had to add to the root's subtree_control.
set -euo pipefail

prog=lab.sh
net=10.79.0                  # bridge .1, node I .(10+I)
bridge=wflab0
cg_name=wordfreq-lab
max_nodes=200
dir=${TMPDIR:-/tmp}/wordfreq-lab
node_files=(sshd_config ssh_host_ed25519_key ssh_host_ed25519_key.pub sshd.pid sshd.log)
lab_files=(hosts id id.pub authorized_keys known_hosts ssh_config)

usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; }
die() { echo "$prog: $*" >&2; exit 1; }
usage_error() { echo "$prog: $* (try --help)" >&2; exit 2; }
need_value() { [ "$1" -ge 2 ] || usage_error "$2 needs a value"; }

set_dir() {
  dir=$(realpath -m -- "$1")
  case $dir in
    *[!A-Za-z0-9._/+,@:=-]*) usage_error "--dir: use a plain path (letters, digits, . _ - + , @ : =): $dir" ;;
  esac
}

need_root() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces, cgroups and sshd need it)"
}

need_tools() {  # need_tools TOOL...: on PATH, and sshd where asked for
  local t
  for t; do
    [ "$t" != sshd ] || continue
    command -v "$t" >/dev/null || die "$t not found (ip and tc: iproute2; ssh, ssh-keygen: openssh-client)"
  done
  case " $* " in
    *" sshd "*)
      sshd_bin=$(command -v sshd || echo /usr/sbin/sshd)
      [ -x "$sshd_bin" ] || die "no sshd binary (apt-get install openssh-server)" ;;
  esac
}

# ---- lab.env: what was created, appended right after each step -------------

env_file() { echo "$dir/lab.env"; }

rec() {  # rec NAME VALUE: append NAME=VALUE, quoted for sourcing
  printf '%s=%q\n' "$1" "$2" >>"$(env_file)"
}

rec_add() {  # rec_add NAME VALUE: append VALUE to array (or word list) NAME
  case $1 in
    *\]) printf '%s+=%q\n' "$1" " $2" >>"$(env_file)" ;;
    *) printf '%s+=(%q)\n' "$1" "$2" >>"$(env_file)" ;;
  esac
}

load_env() {
  local f
  f=$(env_file)
  [ -f "$f" ] || return 1
  if [ ! -O "$f" ] || [ -n "$(find "$f" -perm /022)" ]; then
    die "$f is not owned by $(id -un) or is writable by others; not reading it"
  fi
  LAB_K=0 LAB_CREATED_DIR=0 LAB_BRIDGE="" LAB_SSHD=""
  LAB_CG_VERSION="" LAB_CPUS="" LAB_RATE="" LAB_CG_PERIOD="" LAB_CG_QUOTA=""
  LAB_CG_PARENTS=() NODE_NS=() NODE_VETH_HOST=() NODE_VETH_NODE=() NODE_ADDR=()
  NODE_CGROUPS=() NODE_SSHD_PID=()
  # shellcheck source=/dev/null
  source "$f"
}

# ---- small queries -----------------------------------------------------------

netns_exists() { ip netns list | awk -v n="$1" '$1 == n { f = 1 } END { exit !f }'; }
link_exists() { [ -n "$1" ] && [ -e "/sys/class/net/$1" ]; }
bridge_alias() { echo "wordfreq lab $dir"; }

is_lab_sshd() {  # is_lab_sshd PID CONFIG: PID is still the sshd started with CONFIG
  local pid=$1 conf=$2 exe
  [[ $pid =~ ^[0-9]+$ ]] && [ -d "/proc/$pid" ] || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  case $exe in "$LAB_SSHD" | "$LAB_SSHD (deleted)") ;; *) return 1 ;; esac
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$conf"
}

cgroup_procs() {  # the processes in the given cgroups, less this one
  local cg
  for cg; do cat "$cg/cgroup.procs" 2>/dev/null || true; done | sort -un | grep -vx "$$" || true
}

cpu_used() {  # seconds of CPU used by the node cgroups given, or "?"
  local cg
  for cg; do
    if [ -r "$cg/cpuacct.usage" ]; then
      awk '{ printf "%.2f", $1 / 1e9 }' "$cg/cpuacct.usage"; return
    elif [ -r "$cg/cpu.stat" ] && grep -q '^usage_usec ' "$cg/cpu.stat"; then
      awk '$1 == "usage_usec" { printf "%.2f", $2 / 1e6 }' "$cg/cpu.stat"; return
    fi
  done
  echo "?"
}

rate_to_bytes() {  # a tc rate (100mbit, 1gbit, 12mbps, ...) in bytes per second
  awk -v r="$1" 'BEGIN {
    if (!match(r, /^[0-9]+(\.[0-9]+)?/)) exit 1
    n = substr(r, 1, RLENGTH); u = tolower(substr(r, RLENGTH + 1))
    m["bit"] = 1 / 8; m["kbit"] = 1e3 / 8; m["mbit"] = 1e6 / 8; m["gbit"] = 1e9 / 8; m["tbit"] = 1e12 / 8
    m["kibit"] = 2^10 / 8; m["mibit"] = 2^20 / 8; m["gibit"] = 2^30 / 8; m["tibit"] = 2^40 / 8
    m["bps"] = 1; m["kbps"] = 1e3; m["mbps"] = 1e6; m["gbps"] = 1e9; m["tbps"] = 1e12
    m["kibps"] = 2^10; m["mibps"] = 2^20; m["gibps"] = 2^30; m["tibps"] = 2^40
    if (!(u in m) || n * m[u] < 1000) exit 1
    printf "%d\n", n * m[u] }'
}

# ---- cgroups -----------------------------------------------------------------

detect_cgroups() {  # sets cg_version and cg_roots (the CPU controller's first)
  local mnt type opts cpu="" acct="" v2=""
  while read -r _ mnt type opts _; do
    case $type in
      cgroup)
        case ,$opts, in *,cpu,*) [ -n "$cpu" ] || cpu=$mnt ;; esac
        case ,$opts, in *,cpuacct,*) [ -n "$acct" ] || acct=$mnt ;; esac ;;
      cgroup2)
        if [ -z "$v2" ] && grep -qw cpu "$mnt/cgroup.controllers" 2>/dev/null; then v2=$mnt; fi ;;
    esac
  done </proc/self/mounts
  if [ -n "$cpu" ] && [ -e "$cpu/cpu.cfs_quota_us" ]; then
    cg_version=1 cg_roots=("$cpu")
    if [ -n "$acct" ] && [ "$acct" != "$cpu" ]; then cg_roots+=("$acct"); fi
  elif [ -n "$v2" ]; then
    cg_version=2 cg_roots=("$v2")
  else
    die "no cgroup CPU controller (neither a cgroup v1 cpu hierarchy nor cgroup v2 with cpu)"
  fi
}

make_cgroup_parents() {
  local root parent
  for root in "${cg_roots[@]}"; do
    parent=$root/$cg_name
    mkdir "$parent"
    rec_add LAB_CG_PARENTS "$parent"
  done
  if [ "$cg_version" = 2 ]; then
    root=${cg_roots[0]}
    if ! grep -qw cpu "$root/cgroup.subtree_control"; then
      echo "+cpu" >"$root/cgroup.subtree_control"
      rec LAB_CG_V2_ROOT_CPU_ADDED 1
    fi
    echo "+cpu" >"$root/$cg_name/cgroup.subtree_control"
  fi
}

make_node_cgroups() {  # make_node_cgroups I: node I's cgroups, quota on the first
  local i=$1 root cg
  for root in "${cg_roots[@]}"; do
    cg=$root/$cg_name/node$i
    mkdir "$cg"
    rec_add "NODE_CGROUPS[$i]" "$cg"
  done
  cg=${cg_roots[0]}/$cg_name/node$i
  if [ "$cg_version" = 1 ]; then
    echo "$period" >"$cg/cpu.cfs_period_us"
    echo "$quota" >"$cg/cpu.cfs_quota_us"
  else
    echo "$quota $period" >"$cg/cpu.max"
  fi
}

join_cgroups() {  # move the calling (sub)shell into the given cgroups
  local cg
  for cg; do echo "$BASHPID" >"$cg/cgroup.procs" || return 1; done
}

# ---- network -----------------------------------------------------------------

make_bridge() {
  ip link add "$bridge" type bridge
  rec LAB_BRIDGE "$bridge"
  ip link set "$bridge" alias "$(bridge_alias)"
  ip addr add "$net.1/24" dev "$bridge"
  ip link set "$bridge" up
}

make_node_net() {  # make_node_net I
  local i=$1 ns=wflab$1 host=wflabh$1 node=wflabn$1 addr=$net.$((10 + $1))
  ip netns add "$ns"
  rec "NODE_NS[$i]" "$ns"
  ip link add "$host" type veth peer name "$node" netns "$ns"
  rec "NODE_VETH_HOST[$i]" "$host"
  rec "NODE_VETH_NODE[$i]" "$node"
  ip link set "$host" master "$bridge"
  ip link set "$host" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$addr/24" dev "$node"
  ip -n "$ns" link set "$node" up
  rec "NODE_ADDR[$i]" "$addr"
  # node egress, then node ingress (the host end's egress)
  tc -n "$ns" qdisc add dev "$node" root tbf rate "$rate" burst "$burst" latency 50ms
  tc qdisc add dev "$host" root tbf rate "$rate" burst "$burst" latency 50ms
}

# ---- ssh -----------------------------------------------------------------------

make_user_key() {
  rm -f "$dir/id" "$dir/id.pub"
  ssh-keygen -q -t ed25519 -N '' -C "wordfreq-lab $dir" -f "$dir/id"
  chmod 600 "$dir/id"
  cp "$dir/id.pub" "$dir/authorized_keys"
}

write_sshd_config() {  # write_sshd_config I
  local i=$1 d=$dir/node$1
  mkdir -p "$d"
  rm -f "$d/ssh_host_ed25519_key" "$d/ssh_host_ed25519_key.pub"
  ssh-keygen -q -t ed25519 -N '' -C "wordfreq-lab node$i" -f "$d/ssh_host_ed25519_key"
  cat >"$d/sshd_config" <<EOF
# sshd of wordfreq lab node $i, written by scripts/lab.sh
ListenAddress $net.$((10 + i)):22
AddressFamily inet
HostKey $d/ssh_host_ed25519_key
PidFile $d/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
X11Forwarding no
PrintMotd no
PrintLastLog no
MaxStartups 100:30:200
MaxSessions 100
Subsystem sftp internal-sftp
EOF
}

start_sshd() {  # start_sshd I: in node I's cgroups, then its namespace
  local i=$1 d=$dir/node$1 ns=wflab$1 tries=0 pid cgs
  read -ra cgs <<<"${NODE_CGROUPS[i]}"
  rm -f "$d/sshd.pid"
  # sshd checks its config and keys, forks into the background and exits;
  # the daemon writes its pid file once it listens.
  (
    join_cgroups "${cgs[@]}"
    exec ip netns exec "$ns" "$sshd_bin" -f "$d/sshd_config" -E "$d/sshd.log"
  ) </dev/null
  until [ -s "$d/sshd.pid" ]; do
    tries=$((tries + 1))
    [ "$tries" -le 100 ] || die "node $i: sshd did not start: $(tail -n 1 "$d/sshd.log" 2>/dev/null)"
    sleep 0.1
  done
  pid=$(cat "$d/sshd.pid")
  rec "NODE_SSHD_PID[$i]" "$pid"
}

set_ssh_opts() {  # ssh_opts: options to log in to a node with the lab's files only
  ssh_opts=(-F /dev/null -i "$dir/id" -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=5
    -o "UserKnownHostsFile=$dir/known_hosts" -o GlobalKnownHostsFile=/dev/null
    -o StrictHostKeyChecking=yes -o LogLevel=ERROR)
}

write_lab_files() {
  local i
  : >"$dir/hosts"
  : >"$dir/known_hosts"
  for ((i = 1; i <= k; i++)); do
    echo "$net.$((10 + i))" >>"$dir/hosts"
    echo "$net.$((10 + i)) $(cut -d' ' -f1,2 "$dir/node$i/ssh_host_ed25519_key.pub")" >>"$dir/known_hosts"
  done
  cat >"$dir/ssh_config" <<EOF
# ssh -F $dir/ssh_config 10.79.0.11   (written by scripts/lab.sh)
Host $net.*
  User root
  IdentityFile $dir/id
  IdentitiesOnly yes
  UserKnownHostsFile $dir/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
EOF
}

check_nodes() {  # each node answers ssh from the host, in its cgroup and namespace
  local i addr hint="" pids=() failed=""
  set_ssh_opts
  step="logging in to each node from the host"
  for ((i = 1; i <= k; i++)); do  # at once: a login takes seconds on a small budget
    addr=$net.$((10 + i))
    # shellcheck disable=SC2029  # $i and $addr are meant to expand here
    ssh "${ssh_opts[@]}" "root@$addr" \
      "grep -q '/$cg_name/node$i\$' /proc/self/cgroup && ip -4 -o addr show | grep -q ' $addr/'" </dev/null &
    pids[i]=$!
  done
  for ((i = 1; i <= k; i++)); do
    wait "${pids[i]}" || failed+=" $i"
  done
  [ -z "$failed" ] ||
    die "node(s)$failed: ssh from the host failed, or its session is not in the node's cgroup and namespace"
  if [ "$k" -ge 2 ]; then
    addr=$net.$((10 + k))
    step="logging in to node $k from node 1"
    if [ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null)" = 1 ]; then
      hint=" (net.bridge.bridge-nf-call-iptables is 1: iptables FORWARD rules see bridged traffic)"
    fi
    ip netns exec wflab1 ssh "${ssh_opts[@]}" "root@$addr" true </dev/null ||
      die "node 1 cannot log in to node $k ($addr) across the bridge$hint"
  fi
}

# ---- up --------------------------------------------------------------------------

check_free() {  # nothing of a lab must exist already
  local root owner="" taken
  if link_exists "$bridge"; then
    owner=$(cat "/sys/class/net/$bridge/ifalias" 2>/dev/null || true)
    case $owner in
      "wordfreq lab "*) die "a lab exists already in ${owner#wordfreq lab }: remove it with $0 down --dir ${owner#wordfreq lab }" ;;
      *) die "a network interface $bridge exists already (not made by this script); not touching it" ;;
    esac
  fi
  taken=$( (ip netns list | awk '{ print $1 }'; ls /sys/class/net) | { grep -E '^wflab[hn]?[0-9]+$' || true; } | paste -sd ' ' -)
  [ -z "$taken" ] || die "these namespaces or interfaces exist already (a lab half removed?): $taken; not touching them"
  for root in "${cg_roots[@]}"; do
    [ ! -e "$root/$cg_name" ] || die "cgroup $root/$cg_name exists already (another lab?); not touching it"
  done
  if [ -n "$(ip -4 -o addr show to "$net.0/24")" ] || [ -n "$(ip -4 route show root "$net.0/24")" ]; then
    die "$net.0/24 is in use on this host already; not touching it"
  fi
}

up_failed() {
  local status=$?
  trap - EXIT INT TERM HUP
  [ "$status" -ne 0 ] || status=1
  if [ "$status" -gt 128 ]; then
    echo "$prog: up interrupted while $step; removing what it had created" >&2
  else
    echo "$prog: up failed while $step; removing what it had created" >&2
  fi
  teardown >&2 || echo "$prog: could not remove everything; see $(env_file) and $0 status" >&2
  exit "$status"
}

print_table() {
  local i
  printf '%-5s %-12s %-10s %-8s %-9s %s\n' node address namespace cpus rate "sshd pid"
  for ((i = 1; i <= LAB_K; i++)); do
    printf '%-5s %-12s %-10s %-8s %-9s %s\n' "$i" "${NODE_ADDR[i]}" "${NODE_NS[i]}" "$LAB_CPUS" "$LAB_RATE" "${NODE_SSHD_PID[i]}"
  done
  echo "bridge $LAB_BRIDGE $net.1/24; cgroup v$LAB_CG_VERSION ${LAB_CG_PARENTS[0]}/nodeI (quota $LAB_CG_QUOTA us per $LAB_CG_PERIOD us)"
  echo "log in:    ssh -i $dir/id -o UserKnownHostsFile=$dir/known_hosts root@${NODE_ADDR[1]}"
  echo "       or: ssh -F $dir/ssh_config ${NODE_ADDR[1]}"
  echo "run in node 1 (its namespace and CPU budget): $0 exec --dir $dir 1 CMD..."
  echo "tear down: $0 down --dir $dir"
}

cmd_up() {
  local k="" cpus="" rate=1gbit rate_bytes burst period quota i
  while [ $# -gt 0 ]; do
    case $1 in
      --cpus) need_value $# "$1"; cpus=$2; shift 2 ;;
      --cpus=*) cpus=${1#*=}; shift ;;
      --rate) need_value $# "$1"; rate=$2; shift 2 ;;
      --rate=*) rate=${1#*=}; shift ;;
      --dir) need_value $# "$1"; set_dir "$2"; shift 2 ;;
      --dir=*) set_dir "${1#*=}"; shift ;;
      -h | --help) usage; exit 0 ;;
      -*) usage_error "up: unknown option $1" ;;
      *) [ -z "$k" ] || usage_error "up: unexpected argument $1"; k=$1; shift ;;
    esac
  done
  if ! [[ $k =~ ^[0-9]+$ ]] || [ "$k" -lt 1 ] || [ "$k" -gt "$max_nodes" ]; then
    usage_error "up: give the number of nodes K, 1 to $max_nodes"
  fi
  k=$((10#$k))
  need_root
  need_tools ip tc ssh ssh-keygen sshd
  [ -n "$cpus" ] || cpus=$(awk -v n="$(nproc)" -v k="$k" 'BEGIN { printf "%.4g", n / k }')
  [[ $cpus =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)$ ]] || usage_error "--cpus: not a number of cores: $cpus"
  # a short period throttles smoothly; the kernel's smallest quota is 1 ms
  read -r period quota < <(awk -v c="$cpus" 'BEGIN {
    p = 10000; q = int(c * p + 0.5); if (q < 1000) { p = 100000; q = int(c * p + 0.5) }; print p, q }')
  [ "$quota" -ge 1000 ] || usage_error "--cpus $cpus is too small (at least 0.01)"
  rate_bytes=$(rate_to_bytes "$rate") || usage_error "--rate: not a tc rate: $rate (e.g. 100mbit, 1gbit)"
  burst=$(awk -v b="$rate_bytes" 'BEGIN { x = int(b / 100); if (x < 16384) x = 16384; print x }')  # 10 ms, >= 16 KiB
  detect_cgroups

  if [ -f "$(env_file)" ]; then
    echo "$prog: replacing the lab in $dir" >&2
    teardown >&2 || die "could not remove the lab in $dir; see $0 status --dir $dir"
  fi
  check_free

  step="starting"
  trap up_failed EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  step="writing $dir"
  local created_dir=0 created_run_sshd=0
  [ -d "$dir" ] || { mkdir -p "$dir"; created_dir=1; }
  [ -d /run/sshd ] || { mkdir -m 755 /run/sshd; created_run_sshd=1; }
  echo "# wordfreq lab, written by scripts/lab.sh up; read back by its exec, status and down" >"$(env_file)"
  rec LAB_DIR "$dir"
  rec LAB_CREATED_DIR "$created_dir"
  rec LAB_CREATED_RUN_SSHD "$created_run_sshd"
  rec LAB_K "$k"
  rec LAB_CPUS "$cpus"
  rec LAB_RATE "$rate"
  rec LAB_SSHD "$sshd_bin"
  rec LAB_CG_VERSION "$cg_version"
  rec LAB_CG_PERIOD "$period"
  rec LAB_CG_QUOTA "$quota"
  step="making the lab's ssh keys"
  make_user_key
  step="making the cgroups ${cg_roots[*]/%//$cg_name}"
  make_cgroup_parents
  step="making the bridge $bridge"
  make_bridge
  for ((i = 1; i <= k; i++)); do
    step="making node $i's namespace, veth and rate cap"
    make_node_net "$i"
    step="making node $i's cgroup"
    make_node_cgroups "$i"
    step="writing node $i's sshd config and host key"
    write_sshd_config "$i"
  done
  load_env
  for ((i = 1; i <= k; i++)); do
    step="starting node $i's sshd"
    start_sshd "$i"
  done
  step="writing hosts, known_hosts and ssh_config"
  write_lab_files
  check_nodes
  trap - EXIT INT TERM HUP
  load_env
  print_table
}

# ---- down --------------------------------------------------------------------------

kill_all() {  # kill_all LISTER ARGS...: TERM, then KILL, whatever LISTER lists
  local round pids
  for ((round = 1; round <= 50; round++)); do
    pids=$("$@" | tr '\n' ' ')
    [ -n "${pids// /}" ] || return 0
    # shellcheck disable=SC2086
    if [ "$round" -le 20 ]; then kill -TERM $pids 2>/dev/null || true
    else kill -KILL $pids 2>/dev/null || true; fi
    sleep 0.1
  done
  return 1
}

netns_procs() { ip netns pids "$1" 2>/dev/null | grep -vx "$$" || true; }

teardown() {  # remove what lab.env records; non-zero if something stayed
  local i pid cg failed=0 cgs
  load_env || return 0
  for ((i = 1; i <= LAB_K; i++)); do
    pid=${NODE_SSHD_PID[i]:-}
    if is_lab_sshd "$pid" "$dir/node$i/sshd_config"; then
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  for ((i = 1; i <= LAB_K; i++)); do
    read -ra cgs <<<"${NODE_CGROUPS[i]:-}"
    if [ "${#cgs[@]}" -gt 0 ]; then
      [ ! -e "${cgs[0]}/cgroup.kill" ] || echo 1 >"${cgs[0]}/cgroup.kill" 2>/dev/null || true
      kill_all cgroup_procs "${cgs[@]}" || { echo "$prog: processes stay in ${cgs[*]}" >&2; failed=1; }
    fi
    if [ -n "${NODE_NS[i]:-}" ] && netns_exists "${NODE_NS[i]}"; then
      kill_all netns_procs "${NODE_NS[i]}" || { echo "$prog: processes stay in namespace ${NODE_NS[i]}" >&2; failed=1; }
    fi
  done
  for ((i = 1; i <= LAB_K; i++)); do
    # the veth first: deleting it is immediate, a namespace goes in the background
    if [ -n "${NODE_VETH_HOST[i]:-}" ] && link_exists "${NODE_VETH_HOST[i]}"; then
      ip link del "${NODE_VETH_HOST[i]}" || failed=1
    fi
    if [ -n "${NODE_NS[i]:-}" ] && netns_exists "${NODE_NS[i]}"; then
      ip netns del "${NODE_NS[i]}" || failed=1
    fi
  done
  if [ -n "$LAB_BRIDGE" ] && link_exists "$LAB_BRIDGE"; then
    if [ "$(cat "/sys/class/net/$LAB_BRIDGE/ifalias" 2>/dev/null)" = "$(bridge_alias)" ]; then
      ip link del "$LAB_BRIDGE" || failed=1
    else
      echo "$prog: $LAB_BRIDGE is not this lab's bridge any more; left alone" >&2
    fi
  fi
  for ((i = 1; i <= LAB_K; i++)); do
    for cg in ${NODE_CGROUPS[i]:-}; do
      [ ! -d "$cg" ] || rmdir "$cg" || failed=1
    done
  done
  for cg in "${LAB_CG_PARENTS[@]}"; do
    [ ! -d "$cg" ] || rmdir "$cg" || failed=1
  done
  [ "$failed" = 0 ] || return 1
  for ((i = 1; i <= LAB_K; i++)); do
    [ -d "$dir/node$i" ] || continue
    (cd "$dir/node$i" && rm -f -- "${node_files[@]}")
    rmdir "$dir/node$i" 2>/dev/null || echo "$prog: $dir/node$i holds files this script did not write; left alone" >&2
  done
  (cd "$dir" && rm -f -- "${lab_files[@]}")
  rm -f "$(env_file)"
  if [ "$LAB_CREATED_DIR" = 1 ]; then rmdir "$dir" 2>/dev/null || true; fi
}

cmd_down() {
  parse_dir_only down "$@"
  need_root
  need_tools ip
  if [ ! -f "$(env_file)" ]; then
    echo "no lab in $dir (no lab.env): nothing to remove"
    return 0
  fi
  teardown || die "could not remove everything; lab.env kept: see $0 status --dir $dir"
  echo "lab in $dir removed"
}

# ---- status -----------------------------------------------------------------------

cmd_status() {
  parse_dir_only status "$@"
  need_root
  need_tools ip tc ssh
  load_env || die "no lab in $dir (no lab.env)"
  local i bad=0 cgs ns node host pid probes=()
  set_ssh_opts
  for ((i = 1; i <= LAB_K; i++)); do  # the logins at once: each takes seconds on a small budget
    ssh "${ssh_opts[@]}" "root@${NODE_ADDR[i]:-$net.$((10 + i))}" true </dev/null >/dev/null 2>&1 &
    probes[i]=$!
  done
  say() {  # say OK|MISSING WHAT
    [ "$1" = ok ] || bad=$((bad + 1))
    printf '  %-7s %s\n' "$1" "$2"
  }
  is() { if "$@" >/dev/null 2>&1; then echo ok; else echo MISSING; fi; }
  echo "lab in $dir: $LAB_K nodes, $LAB_CPUS cpus and $LAB_RATE each, cgroup v$LAB_CG_VERSION"
  say "$(is link_exists "$LAB_BRIDGE")" "bridge $LAB_BRIDGE ($net.1/24)"
  for cg in "${LAB_CG_PARENTS[@]}"; do say "$(is test -d "$cg")" "cgroup $cg"; done
  for ((i = 1; i <= LAB_K; i++)); do
    ns=${NODE_NS[i]:-} host=${NODE_VETH_HOST[i]:-} node=${NODE_VETH_NODE[i]:-} pid=${NODE_SSHD_PID[i]:-}
    read -ra cgs <<<"${NODE_CGROUPS[i]:-}"
    echo "node $i ${NODE_ADDR[i]:-(no address)}"
    say "$(is netns_exists "${ns:-wflab$i}")" "namespace ${ns:-wflab$i}"
    say "$(is link_exists "${host:-wflabh$i}")" "veth ${host:-wflabh$i} (host end)"
    say "$(is ip -n "${ns:-wflab$i}" link show dev "${node:-wflabn$i}")" "veth ${node:-wflabn$i} (node end)"
    if [ -n "$host" ] && tc qdisc show dev "$host" 2>/dev/null | grep -q '^qdisc tbf' &&
      tc -n "$ns" qdisc show dev "$node" 2>/dev/null | grep -q '^qdisc tbf'; then
      say ok "rate cap $LAB_RATE both ways (tbf)"
    else
      say MISSING "rate cap $LAB_RATE both ways (tbf)"
    fi
    if [ "${#cgs[@]}" -gt 0 ]; then
      for cg in "${cgs[@]}"; do say "$(is test -d "$cg")" "cgroup $cg"; done
      [ ! -d "${cgs[0]}" ] || echo "          CPU used so far: $(cpu_used "${cgs[@]}") s"
    else
      say MISSING "cgroup $cg_name/node$i"
    fi
    say "$(is is_lab_sshd "$pid" "$dir/node$i/sshd_config")" "sshd pid ${pid:-?}"
    if wait "${probes[i]}"; then say ok "ssh root@${NODE_ADDR[i]:-$net.$((10 + i))}"
    else say MISSING "ssh root@${NODE_ADDR[i]:-$net.$((10 + i))}"; fi
  done
  if [ "$bad" -eq 0 ]; then
    echo "lab complete"
  else
    echo "lab incomplete: $bad missing"
    return 1
  fi
}

# ---- exec --------------------------------------------------------------------------

cmd_exec() {
  while [ $# -gt 0 ]; do
    case $1 in
      --dir) need_value $# "$1"; set_dir "$2"; shift 2 ;;
      --dir=*) set_dir "${1#*=}"; shift ;;
      --) shift; break ;;
      -h | --help) usage; exit 0 ;;
      -*) usage_error "exec: unknown option $1" ;;
      *) break ;;
    esac
  done
  [ $# -ge 2 ] || usage_error "exec: give a node number and a command"
  local i=$1 cgs
  shift
  need_root
  need_tools ip
  load_env || die "no lab in $dir (no lab.env)"
  [[ $i =~ ^[0-9]{1,4}$ ]] && i=$((10#$i))
  if ! [[ $i =~ ^[0-9]+$ ]] || [ -z "${NODE_NS[i]:-}" ]; then
    usage_error "exec: no node $i in the lab in $dir (nodes 1..$LAB_K)"
  fi
  netns_exists "${NODE_NS[i]}" || die "node $i's namespace ${NODE_NS[i]} is gone (see $0 status --dir $dir)"
  read -ra cgs <<<"${NODE_CGROUPS[i]:-}"
  [ "${#cgs[@]}" -gt 0 ] || die "node $i has no cgroup recorded"
  join_cgroups "${cgs[@]}" 2>/dev/null || die "cannot enter node $i's cgroups ${cgs[*]}"
  exec ip netns exec "${NODE_NS[i]}" "$@"
}

# ---- main -----------------------------------------------------------------------------

parse_dir_only() {  # parse_dir_only COMMAND ARGS...: only --dir is allowed
  local cmd=$1
  shift
  while [ $# -gt 0 ]; do
    case $1 in
      --dir) need_value $# "$1"; set_dir "$2"; shift 2 ;;
      --dir=*) set_dir "${1#*=}"; shift ;;
      -h | --help) usage; exit 0 ;;
      *) usage_error "$cmd: unexpected argument $1" ;;
    esac
  done
}

main() {
  set_dir "$dir"
  while [ $# -gt 0 ]; do
    case $1 in
      --dir) need_value $# "$1"; set_dir "$2"; shift 2 ;;
      --dir=*) set_dir "${1#*=}"; shift ;;
      -h | --help | help) usage; exit 0 ;;
      *) break ;;
    esac
  done
  [ $# -gt 0 ] || usage_error "give a command: up, exec, status or down"
  local cmd=$1
  shift
  case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status "$@" ;;
    exec) cmd_exec "$@" ;;
    *) usage_error "unknown command $cmd" ;;
  esac
}

main "$@"
