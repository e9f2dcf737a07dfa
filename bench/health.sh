#!/usr/bin/env bash
# Health for orchestrators and per worker (issue 13): /healthz/ready latency, and how long a worker whose health check
# starts failing takes to be found unhealthy and to be gone (replaced surge-first, reason health).
#
#   bash bench/health.sh [RUNS]        (default 3; needs `dotnet build ProcessCluster.slnx -c Release`)
#
# Runs the test app (2 workers, RoundRobin) on 127.0.0.1:18431, admin on :18432, with Cluster:WorkerHealthPath=/health,
# WorkerHealthInterval = WorkerHealthTimeout = INTERVAL (default 00:00:02), WorkerHealthFailures = FAILURES (default 2).
# Per run: 200 sequential `curl /healthz/ready` (median, min, p90, max), then GET /health/fail (that worker's check
# answers 503 from now on) and the time until the primary logs "failed N health probes", and until that pid is gone.
# Stops the cluster with SIGTERM at the end of each run.
set -u
cd "$(dirname "$0")/.."
PORT=18431
ADMIN=18432
INTERVAL=${INTERVAL:-00:00:02}
FAILURES=${FAILURES:-2}
APP=tests/ProcessCluster.TestApp/bin/Release/net10.0/ProcessCluster.TestApp.dll
[ -f "$APP" ] || { echo "build first: dotnet build ProcessCluster.slnx -c Release" >&2; exit 1; }

for run in $(seq 1 "${1:-3}"); do
  log=$(mktemp)
  Cluster__Workers=2 Cluster__WorkerHealthPath=/health Cluster__WorkerHealthInterval=$INTERVAL Cluster__WorkerHealthTimeout=$INTERVAL \
  Cluster__WorkerHealthFailures=$FAILURES Cluster__AdminUrl=http://127.0.0.1:$ADMIN \
    dotnet "$APP" --urls=http://127.0.0.1:$PORT >"$log" 2>&1 &
  primary=$!
  for _ in $(seq 1 600); do curl -sf http://127.0.0.1:$ADMIN/healthz/ready >/dev/null 2>&1 && break; sleep 0.1; done
  for _ in $(seq 1 200); do curl -s -o /dev/null -w '%{time_total}\n' http://127.0.0.1:$ADMIN/healthz/ready; done | sort -n |
    awk -v run="$run" '{ a[NR] = $1 } END { printf "run %d: /healthz/ready ms: median %.2f, min %.2f, p90 %.2f, max %.2f\n", run, a[int(NR / 2)] * 1000, a[1] * 1000, a[int(NR * 0.9)] * 1000, a[NR] * 1000 }'
  sleep 3
  start=$(date +%s.%N)
  sick=$(curl -s http://127.0.0.1:$PORT/health/fail | sed 's/sick: //')
  detected=""
  gone=""
  for _ in $(seq 1 1200); do
    now=$(date +%s.%N)
    [ -z "$detected" ] && grep -q "failed $FAILURES health probes" "$log" && detected=$now
    if [ -n "$detected" ] && ! kill -0 "$sick" 2>/dev/null; then gone=$now; break; fi
    sleep 0.05
  done
  echo "run $run: sick pid $sick unhealthy after $(echo "${detected:-nan} - $start" | bc 2>/dev/null) s, gone after $(echo "${gone:-nan} - $start" | bc 2>/dev/null) s"
  kill -TERM "$primary"
  wait "$primary"
  rm -f "$log"
done
