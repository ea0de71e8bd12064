#!/usr/bin/env bash
# A copy of ../shared/peers/netns-cluster.sh (the team's script that the BitTorrent baseline builds its
# network with), kept here so that `npm run bench -- distribution` and its test build the same
# network on a machine without ../shared (CI). Keep the two identical.
# netns-cluster.sh - N simulated hosts in network namespaces on one Linux bridge,
# every host link shaped with tc (htb) to RATE in both directions.
#
#   netns-cluster.sh up N RATE [DELAY]   create hosts h0..h{N-1}
#   netns-cluster.sh down                delete everything 'up' created (kills what runs inside)
#   netns-cluster.sh exec I CMD...       run CMD inside host I
#   netns-cluster.sh ip I                print host I's address
#   netns-cluster.sh status              state, qdiscs and byte counters
#   netns-cluster.sh verify [SECS]       iperf3 checks that the shaping holds (needs N>=4)
#
# Layout (nothing is created in the root network namespace):
#   namespace "${P}-sw"   : bridge br0 + one port vh<I> per host
#   namespace "${P}<I>"   : eth0 = 10.77.X.Y/16 (host I gets address number I+1), lo
#   upload   of host I    : htb root on eth0 inside ${P}<I>          (host -> bridge)
#   download of host I    : htb root on vh<I> inside ${P}-sw         (bridge -> host)
#   DELAY (optional)      : netem under the htb class on eth0 only, so RTT between
#                           two hosts = 2*DELAY. Needs CONFIG_NET_SCH_NETEM; fails
#                           loudly if the kernel lacks it.
#
# RATE uses tc units with SI prefixes: 100mbit = 100e6 bit/s, 1gbit, 500kbit ...
# or "none" for unshaped links. htb counts L2 bytes (Ethernet header included),
# so TCP goodput over a 100mbit link tops out near 95.6 Mbit/s (1448/1514).
#
# Environment:
#   SWARM_PREFIX   namespace prefix (default h -> h0, h1, ..., bridge ns h-sw)
#   SWARM_SUBNET   first two octets of the /16 (default 10.77)
#   SWARM_QUEUE_MS bfifo queue per shaped link, in ms at RATE (default 50; min 64 KB)
#   SWARM_STATE    state file (default /run/netns-cluster-$SWARM_PREFIX.state)
set -euo pipefail

P="${SWARM_PREFIX:-h}"
SUBNET="${SWARM_SUBNET:-10.77}"
QUEUE_MS="${SWARM_QUEUE_MS:-50}"
STATE="${SWARM_STATE:-/run/netns-cluster-$P.state}"
SW="$P-sw"

die() { echo "netns-cluster: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "missing '$1' (apt-get install $2)"; }

host_ip() { # index -> address; host I gets number I+1 inside the /16
  local n=$(( $1 + 1 ))
  echo "$SUBNET.$(( n / 256 )).$(( n % 256 ))"
}

rate_bps() { # tc rate string -> bit/s (SI prefixes, like tc)
  python3 - "$1" <<'EOF'
import re, sys
m = re.fullmatch(r'([0-9.]+)\s*(bit|kbit|mbit|gbit|tbit)', sys.argv[1].strip().lower())
if not m:
    sys.exit("bad RATE %r: use e.g. 100mbit, 1gbit, 500kbit" % sys.argv[1])
mult = {'bit': 1, 'kbit': 1e3, 'mbit': 1e6, 'gbit': 1e9, 'tbit': 1e12}[m.group(2)]
print(int(float(m.group(1)) * mult))
EOF
}

load_state() {
  [[ -f "$STATE" ]] || die "no cluster (state file $STATE missing); run: $0 up N RATE"
  # shellcheck disable=SC1090
  source "$STATE"
}

# shape DEV (inside namespace NS) to RATE; optional netem DELAY under the class
shape() {
  local ns="$1" dev="$2" rate="$3" delay="${4:-}"
  [[ "$rate" == none ]] && [[ -z "$delay" ]] && return 0
  local bps qbytes burst
  if [[ "$rate" == none ]]; then
    bps=100000000000 # 100gbit: effectively unshaped, but gives netem a parent class
  else
    bps=$(rate_bps "$rate")
  fi
  qbytes=$(( bps / 8 * QUEUE_MS / 1000 )); (( qbytes < 65536 )) && qbytes=65536
  # burst: 1 ms worth of data at RATE, at least 16 KB, so hrtimer granularity
  # does not cost throughput at high rates.
  burst=$(( bps / 8 / 1000 )); (( burst < 16384 )) && burst=16384
  ip netns exec "$ns" tc qdisc replace dev "$dev" root handle 1: htb default 10
  ip netns exec "$ns" tc class replace dev "$dev" parent 1: classid 1:10 htb \
    rate "${bps}bit" ceil "${bps}bit" burst "$burst" cburst "$burst" quantum 60000
  if [[ -n "$delay" ]]; then
    ip netns exec "$ns" tc qdisc replace dev "$dev" parent 1:10 handle 10: netem \
      delay "$delay" limit 100000 2>/dev/null \
      || die "tc netem unavailable (kernel without CONFIG_NET_SCH_NETEM?): cannot add DELAY=$delay"
  else
    ip netns exec "$ns" tc qdisc replace dev "$dev" parent 1:10 handle 10: bfifo limit "$qbytes"
  fi
}

cmd_up() {
  local n="${1:-}" rate="${2:-}" delay="${3:-}"
  [[ "$n" =~ ^[0-9]+$ ]] && (( n >= 2 && n <= 60000 )) || die "usage: $0 up N RATE [DELAY]  (N >= 2)"
  [[ -n "$rate" ]] || die "usage: $0 up N RATE [DELAY]"
  [[ "$rate" == none ]] || rate_bps "$rate" >/dev/null
  need ip iproute2; need tc iproute2
  [[ -f "$STATE" ]] && die "cluster already up ($STATE); run '$0 down' first"
  local existing i
  existing=$(ip netns list | awk '{print $1}')
  for i in "$SW" $(seq -f "$P%g" 0 $(( n - 1 ))); do
    grep -qx -- "$i" <<<"$existing" && die "namespace $i already exists (someone else's?); set SWARM_PREFIX"
  done
  # write state first so that a failed 'up' can still be torn down with 'down'
  printf 'N=%q\nRATE=%q\nDELAY=%q\nPREFIX=%q\nSUBNET=%q\nSW=%q\n' \
    "$n" "$rate" "$delay" "$P" "$SUBNET" "$SW" >"$STATE"

  ip netns add "$SW"
  ip netns exec "$SW" ip link set lo up
  ip netns exec "$SW" ip link add br0 type bridge forward_delay 0 stp_state 0
  ip netns exec "$SW" ip link set br0 up
  # bridged frames need not traverse iptables (per-namespace sysctl; affects only $SW)
  ip netns exec "$SW" sysctl -qw net.bridge.bridge-nf-call-iptables=0 2>/dev/null || true
  ip netns exec "$SW" sysctl -qw net.bridge.bridge-nf-call-ip6tables=0 2>/dev/null || true
  ip netns exec "$SW" sysctl -qw net.bridge.bridge-nf-call-arptables=0 2>/dev/null || true

  for (( i = 0; i < n; i++ )); do
    local h="$P$i" port="vh$i"
    ip netns add "$h"
    ip netns exec "$h" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip netns exec "$h" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
    ip netns exec "$h" ip link set lo up
    # create the pair inside the bridge namespace, then move one end into the host
    ip netns exec "$SW" ip link add "$port" type veth peer name eth0 netns "$h"
    ip netns exec "$SW" ip link set "$port" master br0
    ip netns exec "$SW" ip link set "$port" up
    ip netns exec "$h" ip addr add "$(host_ip "$i")/16" dev eth0
    ip netns exec "$h" ip link set eth0 up
    shape "$h" eth0 "$rate" "$delay"   # upload   (host egress)
    shape "$SW" "$port" "$rate" ""     # download (bridge-port egress towards the host)
  done
  echo "up: $n hosts ${P}0..$P$(( n - 1 )) ($(host_ip 0)..$(host_ip $(( n - 1 )))/16) rate=$rate delay=${delay:-none} queue=${QUEUE_MS}ms"
}

cmd_down() {
  if [[ ! -f "$STATE" ]]; then echo "down: nothing to do (no $STATE)"; return 0; fi
  load_state
  local i ns pids pid
  for ns in $(seq -f "$PREFIX%g" 0 $(( N - 1 ))) "$SW"; do
    ip netns list | awk '{print $1}' | grep -qx -- "$ns" || continue
    # end the processes that still run inside this namespace, by PID
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    for pid in $pids; do kill "$pid" 2>/dev/null || true; done
    if [[ -n "$pids" ]]; then
      for i in 1 2 3 4 5 6 7 8 9 10; do
        pids=$(ip netns pids "$ns" 2>/dev/null || true); [[ -z "$pids" ]] && break; sleep 0.2
      done
      for pid in $pids; do kill -9 "$pid" 2>/dev/null || true; done
    fi
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -f "$STATE"
  echo "down: removed $N hosts and $SW"
}

cmd_exec() {
  load_state
  local i="${1:-}"; shift || true
  [[ "$i" =~ ^[0-9]+$ ]] && (( i < N )) || die "usage: $0 exec I CMD...  (0 <= I < $N)"
  (( $# > 0 )) || die "usage: $0 exec I CMD..."
  exec ip netns exec "$PREFIX$i" "$@"
}

cmd_status() {
  load_state
  echo "N=$N RATE=$RATE DELAY=${DELAY:-none} prefix=$PREFIX bridge-ns=$SW"
  local i
  for (( i = 0; i < N; i++ )); do
    local up down
    up=$(ip netns exec "$PREFIX$i" tc -s qdisc show dev eth0 | awk '/^qdisc htb/{f=1} f&&/Sent/{print $2; exit}')
    down=$(ip netns exec "$SW" tc -s qdisc show dev "vh$i" | awk '/^qdisc htb/{f=1} f&&/Sent/{print $2; exit}')
    printf '%s%-4s %-15s up(sent)=%-12s down(sent)=%s\n' "$PREFIX" "$i" "$(host_ip "$i")" "${up:-n/a}" "${down:-n/a}"
  done
}

# iperf3 one-shot server in host S, clients in hosts C..., returns summed Mbit/s received
iperf_run() {
  local secs="$1" rev="$2" server="$3"; shift 3
  local sip port=5201 c out tmp pids=()
  sip=$(host_ip "$server")
  tmp=$(mktemp -d)
  local k=0
  for c in "$@"; do
    ip netns exec "$PREFIX$server" iperf3 -s -1 -B "$sip" -p $(( port + k )) >/dev/null 2>&1 &
    k=$(( k + 1 ))
  done
  sleep 0.5
  k=0
  for c in "$@"; do
    ip netns exec "$PREFIX$c" iperf3 -c "$sip" -p $(( port + k )) -t "$secs" -O 1 $rev -J >"$tmp/$k.json" 2>&1 &
    pids+=($!); k=$(( k + 1 ))
  done
  for c in "${pids[@]}"; do wait "$c" || true; done
  wait 2>/dev/null || true
  python3 - "$tmp" <<'EOF'
import json, os, sys
tot = 0.0
for f in sorted(os.listdir(sys.argv[1])):
    d = json.load(open(os.path.join(sys.argv[1], f)))
    if 'error' in d:
        print("ERR:" + d['error']); sys.exit(0)
    tot += d['end']['sum_received']['bits_per_second']
print("%.1f" % (tot / 1e6))
EOF
  rm -rf "$tmp"
}

cmd_verify() {
  load_state
  need iperf3 iperf3
  local secs="${1:-5}"
  (( N >= 4 )) || die "verify needs N >= 4"
  local nominal="unshaped"
  [[ "$RATE" != none ]] && nominal="$(( $(rate_bps "$RATE") / 1000000 )) Mbit/s nominal, ~$(python3 -c "print(round($(rate_bps "$RATE")*1448/1514/1e6,1))") Mbit/s max TCP goodput"
  echo "verify: RATE=$RATE ($nominal), ${secs}s per test"
  echo "  h1 -> h0 single TCP flow            : $(iperf_run "$secs" "" 0 1) Mbit/s"
  echo "  h0 -> h1 single TCP flow (reverse)  : $(iperf_run "$secs" -R 0 1) Mbit/s"
  echo "  h1+h2+h3 -> h0 (fan-in, h0 download): $(iperf_run "$secs" "" 0 1 2 3) Mbit/s total"
  echo "  h0 -> h1+h2+h3 (fan-out, h0 upload) : $(iperf_run "$secs" -R 0 1 2 3) Mbit/s total"
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) cmd_down ;;
  exec) shift; cmd_exec "$@" ;;
  ip) load_state; host_ip "${2:?usage: $0 ip I}" ;;
  status) cmd_status ;;
  verify) shift; cmd_verify "$@" ;;
  *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
