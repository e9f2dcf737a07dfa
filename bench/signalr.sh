#!/usr/bin/env bash
# SignalR broadcast across a cluster's workers (samples/Chat: AddClusterBackplane(), Cluster:Affinity=ConnectionToken)
# side by side with one plain Kestrel process serving the same hub (Cluster:Enabled=false: the limit) and with the same
# cluster on SignalR's Redis backplane (AddStackExchangeRedis, Chat:Redis; Debian's redis-server, installed here when
# missing, on 127.0.0.1 only, no persistence), per transport.
#
#   bash bench/signalr.sh            3 runs of 10 s per case, 40 clients
#   bash bench/signalr.sh --quick    1 run of 3 s per case
#   RUNS=5 CLIENTS=40 bash bench/signalr.sh
#   MODES="cluster plain" bash bench/signalr.sh    without the Redis case
#
# Per case: CLIENTS clients connect (bench/SignalRLoad, the real .NET client); two of them (on different workers in
# the cluster) invoke Send back to back, each waiting for its previous invocation; every client times each broadcast
# from send to receipt and checks that each sender's messages arrive in the order sent. Reports broadcasts/s,
# deliveries/s (broadcasts x clients), p99 fan-out latency, lost messages and out-of-order deliveries (0 expected),
# medians (min-max) over the runs. Every server (and redis-server) is started here and stopped by pid; raw output goes
# to bench/results/signalr/.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-3}
clients=${CLIENTS:-40}
modes=${MODES:-cluster redis plain}
redis_port=6391
duration=10
if [ "${1:-}" = "--quick" ]; then runs=1; duration=3; fi
port=5493
out=bench/results/signalr
mkdir -p "$out"

dotnet build samples/Chat -c Release -nologo -v quiet >/dev/null
dotnet build bench/SignalRLoad -c Release -nologo -v quiet >/dev/null
rm -rf bench/results/chat && cp -r samples/Chat/bin/Release/net10.0 bench/results/chat
load=bench/SignalRLoad/bin/Release/net10.0/SignalRLoad.dll

server=
redis=
stop_server() { if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; server=; fi; }
stop_redis() { if [ -n "$redis" ]; then kill "$redis" 2>/dev/null || true; wait "$redis" 2>/dev/null || true; redis=; fi; }
trap 'stop_server; stop_redis' EXIT

if [[ " $modes " == *" redis "* ]]; then
  if ! command -v redis-server >/dev/null; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
  fi
  # Our own server, not the package's service: loopback only, nothing written to disk.
  redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --protected-mode yes >"$out/redis.log" 2>&1 &
  redis=$!
  for _ in $(seq 1 100); do
    redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && break
    sleep 0.1
  done
  redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG || { echo "redis-server did not come up (see $out/redis.log)" >&2; exit 1; }
fi

# start_server MODE: cluster (2 workers), redis (the same on the Redis backplane) or plain; waits until the hub answers negotiate.
start_server() {
  local enabled=true redis_connection=
  [ "$1" = plain ] && enabled=false
  [ "$1" = redis ] && redis_connection="127.0.0.1:$redis_port"
  Chat__Redis=$redis_connection Cluster__Enabled=$enabled Cluster__Workers=2 Cluster__Affinity=ConnectionToken \
    dotnet bench/results/chat/Chat.dll --urls "http://127.0.0.1:$port" >"$out/server-$1.log" 2>&1 &
  server=$!
  for _ in $(seq 1 200); do
    if curl -sf -X POST "http://127.0.0.1:$port/chat/negotiate?negotiateVersion=1" >/dev/null; then
      [ "$1" = plain ] && return 0
      # Both workers up: two negotiations name two workers.
      local a b
      a=$(curl -s -X POST "http://127.0.0.1:$port/chat/negotiate?negotiateVersion=1" | grep -o '"connectionToken":"w[0-9]*' || true)
      b=$(curl -s -X POST "http://127.0.0.1:$port/chat/negotiate?negotiateVersion=1" | grep -o '"connectionToken":"w[0-9]*' || true)
      if [ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$b" ]; then
        # On the Redis case, the hub's messages go through Redis: its workers subscribed to the hub's channels.
        if [ "$1" = redis ] && ! redis-cli -p "$redis_port" pubsub channels | grep -q ChatHub; then
          echo "the redis case's workers did not subscribe to Redis (see $out/server-$1.log)" >&2
          return 1
        fi
        return 0
      fi
    fi
    sleep 0.1
  done
  echo "the $1 server did not come up (see $out/server-$1.log)" >&2
  return 1
}

echo "| transport | server | broadcasts/s | deliveries/s | p99 fan-out ms | lost | out of order |"
echo "|---|---|---|---|---|---|---|"
for transport in WebSockets ServerSentEvents LongPolling; do
  for mode in $modes; do
    start_server "$mode"
    for run in $(seq 1 "$runs"); do
      dotnet "$load" "http://127.0.0.1:$port" "$clients" "$transport" "$duration" >"$out/$transport-$mode-$run.json"
    done
    stop_server
    python3 - "$out" "$transport" "$mode" "$runs" <<'PY'
import json, statistics, sys
out, transport, mode, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rows = [json.load(open(f"{out}/{transport}-{mode}-{run}.json")) for run in range(1, runs + 1)]
def cell(key):
    values = [row[key] for row in rows]
    return f"{statistics.median(values):g} ({min(values):g}-{max(values):g})" if runs > 1 else f"{values[0]:g}"
print(f"| {transport} | {mode} ({rows[0]['workers']} workers) | {cell('broadcastsPerSecond')} | {cell('deliveriesPerSecond')} | {cell('p99Ms')} | {sum(r['lost'] for r in rows)} | {sum(r['outOfOrder'] for r in rows)} |")
PY
  done
done
echo
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
