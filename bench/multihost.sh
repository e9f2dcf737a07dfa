#!/usr/bin/env bash
# Several hosts behind HAProxy (issue 17): three "hosts", each a network namespace with its own address on a bridge
# (198.18.N.0/24, the benchmarking range), each running the demo cluster (samples/SeedDemo, 2 workers, RoundRobin)
# with its admin endpoint (/healthz/ready) and its HAProxy agent (Cluster:AgentUrl). Debian's haproxy on 127.0.0.1
# balances across them with http-check on /healthz/ready and agent-check, and wrk loads it through HAProxy.
# Scenarios, in this order (each asserts, and the script exits 1 naming the one that failed):
#   rolling   SIGHUP each host's primary one at a time under load: 0 failed requests, every reload finished.
#   saturate  extra load straight at host 1 only: its agent weight falls and its share of HAProxy's traffic drops.
#   sigterm   host 3's primary SIGTERMed under load: HAProxy sees drain (or down), 0 failed requests.
#   sigkill   host 2's primary SIGKILLed under load: failed requests at most wrk's connections (one in flight
#             each), and HAProxy marks it down within its check bound.
# Figures go to stdout and bench/results/multihost/. Bounded: every wait has a deadline, each wrk is stopped by SIGINT
# (capped at 120 s), and a watchdog ends the run at 300 s (MULTIHOST_LIMIT). Load goes to 127.0.0.1 and
# the namespaces' own addresses only; everything it made (namespaces, bridge, processes by pid) goes on exit.
#   bash bench/multihost.sh          as .ci/run runs it (needs root, haproxy, wrk; skips where namespaces cannot be made)
# Exit: 0 passed or skipped, 1 a scenario failed, 2 the set-up failed.
set -uo pipefail
cd "$(dirname "$0")/.."

out=$PWD/bench/results/multihost
mkdir -p "$out"
rm -f "$out"/*.log "$out"/*.wrk "$out"/*.csv

skip() { echo "multihost: SKIPPED: $*"; exit 0; }
setup_failed() { echo "multihost: SET-UP FAILED: $*" >&2; exit 2; }

[ "$(id -u)" -eq 0 ] || skip "needs root to make network namespaces (run as root, as CI does)"
command -v haproxy >/dev/null || setup_failed "haproxy is not installed (.ci/setup installs Debian's haproxy)"
command -v wrk >/dev/null || setup_failed "wrk is not installed (.ci/setup installs it)"

# Names unique to this run, so that parallel runs never collide (interface names: at most 15 characters).
tag=pcmh$$
subnet=198.18.$(( $$ % 200 + 20 ))
bridge=${tag}b
hosts=(1 2 3)
pids=()
orphans=
haproxy_pid=
wrk_pids=()
work=$(mktemp -d)

cleanup() {
  [ -z "$watchdog" ] || kill "$watchdog" 2>/dev/null
  for pid in "${wrk_pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  for host in "${hosts[@]}"; do
    local pid=${pids[$host]:-}
    [ -n "$pid" ] || continue
    local children
    children=$(cat /proc/"$pid"/task/*/children 2>/dev/null)
    kill -KILL "$pid" $children 2>/dev/null
  done
  [ -z "$orphans" ] || kill -KILL $orphans 2>/dev/null
  [ -z "$haproxy_pid" ] || kill -KILL "$haproxy_pid" 2>/dev/null
  wait 2>/dev/null
  for host in "${hosts[@]}"; do ip netns del "$tag-$host" 2>/dev/null; done
  ip link del "$bridge" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# A bound on the whole run, whatever hangs: 300 s, more than three times what a quiet 2-core machine needs.
watchdog=
# Its sleep holds no output open (a caller's pipe, like .ci/run's tee, would wait for it) and ends with it.
(
  trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
  sleep "${MULTIHOST_LIMIT:-300}" >/dev/null 2>&1 </dev/null &
  sleeper=$!
  wait "$sleeper"
  echo "multihost: FAIL gave up after ${MULTIHOST_LIMIT:-300} s (a step hung; see $out)" >&2
  kill -TERM $$
) &
watchdog=$!

if ! ip link add "$bridge" type bridge 2>"$work/ip.err"; then
  skip "cannot make a bridge here ($(cat "$work/ip.err")): no network namespaces in this sandbox"
fi
ip addr add "$subnet.1/24" dev "$bridge" && ip link set "$bridge" up || setup_failed "bridge $bridge"
for host in "${hosts[@]}"; do
  ns=$tag-$host
  ip netns add "$ns" || skip "cannot make network namespace $ns"
  ip link add "${tag}v$host" type veth peer name eth0 netns "$ns" || setup_failed "veth for $ns"
  ip link set "${tag}v$host" master "$bridge" up
  ip -n "$ns" addr add "$subnet.1$host/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
done

# The demo from a private copy, so that a build in this checkout cannot swap the binary under a reload.
demo=samples/SeedDemo/bin/Release/net10.0
[ -f "$demo/SeedDemo.dll" ] || dotnet build samples/SeedDemo -c Release -nologo -v quiet >/dev/null || setup_failed "building samples/SeedDemo"
cp -r "$demo" "$work/app"

address() { echo "$subnet.1$1"; }
# Off loopback the admin endpoint needs a token; /healthz/* (what HAProxy checks) needs none. A file, not
# Cluster__AdminToken: the primary keeps that variable from its workers, and a worker then rejects the AdminUrl.
echo "multihost-$$-$RANDOM" >"$work/admin-token"

start_host() { # host
  local host=$1
  ip netns exec "$tag-$host" env ASPNETCORE_URLS="http://$(address "$host"):3000" Cluster__Workers=2 Cluster__Scheduling=RoundRobin \
    Cluster__AdminUrl="http://$(address "$host"):9090" Cluster__AdminTokenFile="$work/admin-token" Cluster__AgentUrl="tcp://$(address "$host"):9101" \
    Cluster__DrainTimeout=00:00:10 Logging__LogLevel__Default=Warning Logging__LogLevel__ProcessCluster=Information \
    dotnet "$work/app/SeedDemo.dll" >"$out/host$host.log" 2>&1 &
  pids[$host]=$!
}

# until SECONDS WHAT COMMAND...: runs COMMAND every 0.1 s until it succeeds; false after SECONDS.
until_true() {
  local deadline=$(( $(date +%s%N) + $1 * 1000000000 )) what=$2
  shift 2
  while [ "$(date +%s%N)" -lt "$deadline" ]; do
    "$@" && return 0
    sleep 0.1
  done
  echo "multihost: timed out after ${SECONDS}s waiting for $what" >&2
  return 1
}

host_ready() { curl -fsS --max-time 1 "http://$(address "$1"):9090/healthz/ready" >/dev/null 2>&1; }

for host in "${hosts[@]}"; do start_host "$host"; done
for host in "${hosts[@]}"; do
  until_true 60 "host $host's /healthz/ready" host_ready "$host" || { tail -20 "$out/host$host.log" >&2; setup_failed "host $host did not become ready"; }
done

port=$(( 38400 + $$ % 500 ))
stats=$(( port + 1 ))
cat >"$work/haproxy.cfg" <<EOF
global
  maxconn 2000
defaults
  mode http
  timeout connect 2s
  timeout client 10s
  timeout server 10s
  retries 2
  option redispatch
  retry-on conn-failure empty-response
frontend fe
  bind 127.0.0.1:$port
  default_backend be
backend be
  balance roundrobin
  option httpchk GET /healthz/ready
  http-check expect status 200
  default-server check port 9090 inter 500 fall 2 rise 2 agent-check agent-port 9101 agent-inter 500 weight 100
$(for host in "${hosts[@]}"; do echo "  server h$host $(address "$host"):3000"; done)
listen stats
  bind 127.0.0.1:$stats
  stats enable
  stats uri /stats
EOF
haproxy -c -q -f "$work/haproxy.cfg" || setup_failed "haproxy -c rejected the configuration"
haproxy -f "$work/haproxy.cfg" -D -p "$work/haproxy.pid" || setup_failed "haproxy did not start"
haproxy_pid=$(cat "$work/haproxy.pid")

# HAProxy's CSV stats, one line per host: "h1 SESSIONS STATUS WEIGHT" (its columns stot, status, weight).
stats_now() { curl -fsS --max-time 2 "http://127.0.0.1:$stats/stats;csv" | awk -F, '$1 == "be" && $2 ~ /^h[0-9]$/ { print $2, $8, $18, $19 }'; }
# server_field HOST sessions|status|weight: one host's figure now.
server_field() { stats_now | awk -v s="h$1" -v f="$2" '$1 == s { print (f == "sessions" ? $2 : f == "status" ? $3 : $4) }'; }
all_up() { local host; for host in "${hosts[@]}"; do [ "$(server_field "$host" status)" = UP ] || return 1; done; }
until_true 20 "HAProxy seeing every host UP" all_up || setup_failed "HAProxy never saw all three hosts UP"

failures=()
fail() { failures+=("$1"); echo "multihost: FAIL $1"; }

# load NAME CONNECTIONS URL [wrk options...]: wrk in the background until stop_load (-d is only a cap). Its timeout
# is long, so that a loaded machine's slowness is not counted as failed requests.
load() {
  local name=$1 connections=$2 url=$3
  shift 3
  wrk -t1 -c"$connections" -d120s --timeout 10s "$@" "$url" >"$out/$name.wrk" 2>&1 &
  wrk_pid=$!
  wrk_pids+=("$wrk_pid")
}
# stop_load [PID]: wrk stops on SIGINT and prints its totals.
stop_load() { kill -INT "${1:-$wrk_pid}" 2>/dev/null; wait "${1:-$wrk_pid}" 2>/dev/null; }
# failed NAME: socket errors plus non-2xx/3xx answers in that wrk run.
failed() { awk '/Socket errors/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 } /Non-2xx/ { n += $5 } END { print n + 0 }' "$out/$1.wrk"; }
requests() { awk '/requests in/ { print $1 }' "$out/$1.wrk"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
through=http://127.0.0.1:$port/hello

echo "multihost: 3 hosts up on $subnet.11-13 behind HAProxy 127.0.0.1:$port (load average $(cut -d' ' -f1 /proc/loadavg))"

# --- 1. Rolling deploy, one host at a time ---------------------------------------------------------------------
load rolling 16 "$through"
sleep 2
for host in "${hosts[@]}"; do
  before=$(grep -c 'Rolling reload finished' "$out/host$host.log")
  started=$(now_ms)
  kill -HUP "${pids[$host]}"
  reloaded() { [ "$(grep -c 'Rolling reload finished' "$out/host$host.log")" -gt "$before" ]; }
  until_true 60 "host $host's reload" reloaded || fail "rolling: host $host's reload did not finish within 60 s (see $out/host$host.log)"
  until_true 20 "HAProxy seeing host $host UP again" all_up || fail "rolling: HAProxy did not see host $host UP within 20 s of its reload"
  echo "multihost: host $host reloaded and UP in HAProxy again after $(( $(now_ms) - started )) ms"
done
stop_load
echo "multihost: rolling deploy of 3 hosts: $(requests rolling) requests, $(failed rolling) failed"
[ "$(failed rolling)" -eq 0 ] || fail "rolling: $(failed rolling) requests failed through HAProxy during a one-host-at-a-time reload (expected 0; see $out/rolling.wrk)"

# --- 2. Load rises on host 1 only ------------------------------------------------------------------------------
# Through HAProxy a light load paced by wrk's delay (no host saturates from it); after a 3 s baseline, 4 connections
# of the demo's CPU route straight at host 1 keep both its workers busy, and its agent weight falls. The shares are
# host 1's part of HAProxy's requests over each phase: the baseline, and from when its weight fell for 5 s.
echo 'function delay() return 20 end' >"$work/paced.lua"
load saturate 6 "$through" -s "$work/paced.lua"
paced_pid=$wrk_pid
echo "ms,phase,h1_weight,h2_weight,h3_weight,h1_requests,h2_requests,h3_requests" >"$out/saturate.csv"
declare -A last baseline saturated
sample() { # phase: one row of the CSV, and each host's requests since the last sample added to the phase's total
  local entries entry name sessions weight delta weights="" deltas=""
  mapfile -t entries < <(stats_now)
  for entry in "${entries[@]}"; do
    read -r name sessions _ weight <<<"$entry"
    delta=$(( sessions - ${last[$name]:-$sessions} ))
    last[$name]=$sessions
    weights+=",$weight"
    deltas+=",$delta"
    [ "$1" != baseline ] || baseline[$name]=$(( ${baseline[$name]:-0} + delta ))
    [ "$1" != saturated ] || saturated[$name]=$(( ${saturated[$name]:-0} + delta ))
  done
  echo "$(( $(now_ms) - t0 )),$1$weights$deltas" >>"$out/saturate.csv"
}
share() { # baseline|saturated: host 1's percentage of that phase's requests
  local -n phase=$1
  local total=$(( ${phase[h1]:-0} + ${phase[h2]:-0} + ${phase[h3]:-0} ))
  echo $(( total > 0 ? 100 * ${phase[h1]:-0} / total : -1 ))
}
t0=$(now_ms)
sample start
while [ $(( $(now_ms) - t0 )) -lt 3000 ]; do sleep 0.5; sample baseline; done
load saturate-direct 4 "http://$(address 1):3000/"
low_weight=100 fell_at= phase=rising
deadline=$(( $(now_ms) + 30000 ))
while [ "$(now_ms)" -lt "$deadline" ]; do
  sleep 0.5
  weight=$(server_field 1 weight)
  [ "${weight:-100}" -ge "$low_weight" ] || low_weight=$weight
  if [ -z "$fell_at" ] && [ "${weight:-100}" -lt 50 ]; then
    fell_at=$(( $(now_ms) - t0 ))
    deadline=$(( $(now_ms) + 5000 ))
    sample rising
    phase=saturated
  else
    sample "$phase"
  fi
done
stop_load
stop_load "$paced_pid"
share_before=$(share baseline)
share_after=$(share saturated)
echo "multihost: saturating host 1: its weight fell to ${low_weight} (of 100)${fell_at:+, below 50 at ${fell_at} ms (its own load began at 3000 ms)}; its share of HAProxy's requests ${share_before}% before, ${share_after}% after (samples: $out/saturate.csv)"
column -t -s, "$out/saturate.csv" 2>/dev/null || cat "$out/saturate.csv"
if [ -z "$fell_at" ]; then
  fail "saturate: host 1's agent weight stayed at ${low_weight}% or above for 30 s while its workers were saturated (expected below 50%)"
elif [ "$share_after" -ge "$share_before" ]; then
  fail "saturate: host 1's share of HAProxy's requests did not fall (${share_before}% before, ${share_after}% after its weight fell)"
fi
[ "$(failed saturate)" -eq 0 ] || fail "saturate: $(failed saturate) requests failed through HAProxy"
weighed_again() { [ "$(server_field 1 weight)" -ge 50 ]; }
until_true 30 "host 1 idle and weighed again" weighed_again

# --- 3. One primary SIGTERMed: the agent says drain ------------------------------------------------------------
load sigterm 16 "$through"
sleep 2
start=$(now_ms)
kill -TERM "${pids[3]}"
leaves_up() { [ "$(server_field 3 status)" != UP ]; }
until_true 10 "HAProxy taking host 3 out" leaves_up || fail "sigterm: HAProxy still sent to host 3 10 s after its SIGTERM"
out_ms=$(( $(now_ms) - start ))
status_seen=$(server_field 3 status)
exited() { ! kill -0 "${pids[3]}" 2>/dev/null; }
until_true 30 "host 3's primary exiting" exited || fail "sigterm: host 3's primary still ran 30 s after its SIGTERM"
stop_load
echo "multihost: SIGTERM of host 3: HAProxy marked it ${status_seen} after ${out_ms} ms; $(requests sigterm) requests, $(failed sigterm) failed"
[ "$(failed sigterm)" -eq 0 ] || fail "sigterm: $(failed sigterm) requests failed through HAProxy while host 3 drained (expected 0; see $out/sigterm.wrk)"

# --- 4. One primary SIGKILLed: failures bounded by what was in flight ------------------------------------------
connections=16
load sigkill "$connections" "$through"
sleep 2
start=$(now_ms)
# Only the primary: its workers see their channel close and exit by themselves (killed at the end if they do not).
orphans=$(cat /proc/"${pids[2]}"/task/*/children 2>/dev/null)
kill -KILL "${pids[2]}"
wait "${pids[2]}" 2>/dev/null # reaped here, so that bash does not print "Killed" for it later
down() { [ "$(server_field 2 status)" = DOWN ]; }
until_true 10 "HAProxy marking host 2 down" down || fail "sigkill: HAProxy did not mark host 2 down within 10 s of its SIGKILL"
down_ms=$(( $(now_ms) - start ))
sleep 1
stop_load
echo "multihost: SIGKILL of host 2: HAProxy marked it down after ${down_ms} ms (checks every 500 ms, fall 2); $(requests sigkill) requests, $(failed sigkill) failed (bound: $connections in flight)"
[ "$(failed sigkill)" -le "$connections" ] || fail "sigkill: $(failed sigkill) requests failed, more than the $connections that can be in flight at once"
[ "$down_ms" -le 3000 ] || fail "sigkill: HAProxy took ${down_ms} ms to mark host 2 down (bound 3000 ms: 2 checks 500 ms apart, plus their timeouts)"

failed_scenarios=$(printf '%s\n' "${failures[@]}" | cut -d: -f1 | sort -u | grep -c .)
echo "multihost: $(( 4 - failed_scenarios )) passed, ${failed_scenarios} failed"
[ "${#failures[@]}" -eq 0 ] || { printf 'multihost: %s\n' "${failures[@]}" >&2; exit 1; }
