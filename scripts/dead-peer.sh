#!/usr/bin/env bash
# dead-peer.sh — what a job does when a worker's machine goes silent (no FIN,
# no RST: power cut, cable pulled). Needs root: worker 1 runs in a network
# namespace; 3 s into the job it is frozen (SIGSTOP) and its replies are
# black-holed. The master should fail within its heartbeat timeout (15 s by
# default: nothing heard from worker 1), naming worker 1, and worker 0 should
# serve the next job.
#
#   sudo scripts/dead-peer.sh [INPUT]     (default: the sample text x100)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
build_wordfreq
input=${1:-$("$here/make-input.sh" 100)}
ns=wordfreq-dead-peer
pids=()
cleanup() {
  kill -9 "${pids[@]}" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  ip link del wfdp0 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$ns"
ip link add wfdp0 type veth peer name wfdp1
ip link set wfdp1 netns "$ns"
ip addr add 10.78.0.1/24 dev wfdp0
ip link set wfdp0 up
ip netns exec "$ns" ip addr add 10.78.0.2/24 dev wfdp1
ip netns exec "$ns" ip link set wfdp1 up

start_worker 10.78.0.1:0
pids+=("$worker_pid")
a0=$worker_addr
start_worker 10.78.0.2:0 ip netns exec "$ns"
worker1=$worker_pid
pids+=("$worker1")
a1=$worker_addr

( sleep 3; kill -STOP "$worker1"; ip netns exec "$ns" ip route add blackhole 10.78.0.1/32 ) &
start=$EPOCHSECONDS
status=0
err=$("$wf" master -q --workers "$a0,$a1" -o /dev/null "$input" 2>&1) || status=$?
echo "master exit status $status after $((EPOCHSECONDS - start)) s: $err"
"$wf" master -q --workers "$a0" -o /dev/null "$root/tests/data/kjvbible.txt" && echo "worker 0 served the next job"
