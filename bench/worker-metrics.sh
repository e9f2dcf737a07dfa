#!/usr/bin/env bash
# The cost of the workers' own HTTP metrics (issue 17): the seed demo, RoundRobin, with Cluster:AdminUrl unset (the
# workers measure nothing) and set (each worker listens to Kestrel's and Hosting's meters and reports to the primary),
# interleaved so the machine's noise hits both alike. The run with metrics also scrapes /metrics once at its end and
# counts the workers' series.
#
#   bash bench/worker-metrics.sh           5 runs of 10 s per case (about 3 minutes)
#   bash bench/worker-metrics.sh --quick   1 run of 3 s per case
#
# Load: wrk -t1 -c32 keep-alive on 127.0.0.1 against /hello. Prints a markdown table of medians with (min-max);
# raw wrk output goes to bench/results/. Every server is started here and stopped by pid; every wrk run ends by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=5
duration=10
if [ "${1:-}" = "--quick" ]; then runs=1; duration=3; fi

source bench/lib.sh
ensure_wrk
build_demo
out=bench/results/worker-metrics
mkdir -p "$out"
port=28211 # both below the ephemeral range (32768 up), where no outgoing connection takes them
admin_port=28212
workers=$(nproc)
trap stop_server EXIT

load_before=$(cut -d" " -f1-3 /proc/loadavg)
: >"$out/runs.tsv"
for run in $(seq 1 "$runs"); do
  for system in off on; do
    settings=()
    [ "$system" = on ] && settings=(Cluster__AdminUrl="http://127.0.0.1:$admin_port")
    start_server RoundRobin "$out/server-$system.log" "${settings[@]}"
    wrk -t1 -c32 -d2s "http://127.0.0.1:$port/hello" >/dev/null # untimed warm-up
    file="$out/wrk-$system-$run.txt"
    wrk -t1 -c32 -d"${duration}s" --latency "http://127.0.0.1:$port/hello" >"$file"
    printf '%s\tkeepalive\t%s\t%s\t%s\t%s\n' "$system" "$run" "$(rps "$file")" "$(p99_ms "$file")" "$(errors "$file")" >>"$out/runs.tsv"
    if [ "$system" = on ]; then
      sleep 1 # one report interval (500 ms) and more: the last counts reach the primary
      curl -s -m 5 "http://127.0.0.1:$admin_port/metrics" >"$out/metrics-$run.txt"
    fi
    stop_server
  done
done

counted=$(awk '/^http_server_request_duration_seconds_count\{/ { s+=$2 } END { print s+0 }' "$out/metrics-$runs.txt")
served=$(( $(requests "$out/wrk-on-$runs.txt") ))
{
  echo "| workers' HTTP metrics | keep-alive req/s | p99 ms | errors |"
  echo "|---|---|---|---|"
  for system in off on; do
    echo "| $system | $(spread "$system" keepalive 4) | $(spread "$system" keepalive 5) | $(awk -F'\t' -v m="$system" '$1==m { s+=$6 } END { print s+0 }' "$out/runs.tsv") |"
  done
  echo
  echo "Last run with metrics: http_server_request_duration_seconds_count summed over $(grep -c '^http_server_request_duration_seconds_count{' "$out/metrics-$runs.txt") workers = $counted (wrk counted $served in its timed part; the warm-up and readiness probes add to the workers' count)."
  echo "wrk -t1 -c32 -d${duration}s /hello on 127.0.0.1, RoundRobin, $workers workers, median (min-max) of $runs runs, interleaved; $(nproc) cores; load average before: $load_before."
} | tee "$out/table.md"
