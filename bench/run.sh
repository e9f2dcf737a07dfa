#!/usr/bin/env bash
# Side-by-side throughput of the seed demo: ProcessCluster RoundRobin, Shared, and one plain Kestrel process
# (the same app with Cluster:Enabled=false), interleaved in one run so the machine's noise hits all alike.
#
#   bash bench/run.sh            3 runs of 10 s per case (about 4 minutes)
#   bash bench/run.sh --quick    1 run of 3 s per case (under a minute)
#
# Load: wrk -t1 -c32 on 127.0.0.1 against /hello, keep-alive and with "Connection: close" (a new connection per
# request). Prints a markdown table of medians (req/s, p99) and ratios to plain Kestrel; raw wrk output goes to
# bench/results/. Every server is started here, stopped by pid, and every wrk run ends by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=3
duration=10
if [ "${1:-}" = "--quick" ]; then runs=1; duration=3; fi

source bench/lib.sh
ensure_wrk
build_demo
out=bench/results
mkdir -p "$out"
port=38201
workers=$(nproc)
trap stop_server EXIT

modes=(RoundRobin Shared plain)
scenarios=(keepalive close)
: >"$out/runs.tsv"
for run in $(seq 1 "$runs"); do
  for mode in "${modes[@]}"; do
    start_server "$mode" "$out/server-$mode.log"
    # Untimed warm-up: every worker's JIT reaches its optimised code before anything is measured.
    wrk -t1 -c32 -d2s "http://127.0.0.1:$port/hello" >/dev/null
    wrk -t1 -c32 -d1s -H "Connection: close" "http://127.0.0.1:$port/hello" >/dev/null
    for scenario in "${scenarios[@]}"; do
      header=()
      [ "$scenario" = close ] && header=(-H "Connection: close")
      file="$out/wrk-$mode-$scenario-$run.txt"
      wrk -t1 -c32 -d"${duration}s" --latency "${header[@]}" "http://127.0.0.1:$port/hello" >"$file"
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$scenario" "$run" "$(rps "$file")" "$(p99_ms "$file")" "$(errors "$file")" >>"$out/runs.tsv"
    done
    stop_server
  done
done

{
  echo "| server | keep-alive req/s | p99 ms | vs plain | new connection per request req/s | p99 ms | vs plain | errors |"
  echo "|---|---|---|---|---|---|---|---|"
  for mode in "${modes[@]}"; do
    ka=$(value "$mode" keepalive 4); kap=$(value "$mode" keepalive 5)
    cl=$(value "$mode" close 4); clp=$(value "$mode" close 5)
    err=$(awk -F'\t' -v m="$mode" '$1==m { s+=$6 } END { print s+0 }' "$out/runs.tsv")
    kar=$(awk -v a="$ka" -v b="$(value plain keepalive 4)" 'BEGIN { printf "%.2f", a/b }')
    clr=$(awk -v a="$cl" -v b="$(value plain close 4)" 'BEGIN { printf "%.2f", a/b }')
    name=$([ "$mode" = plain ] && echo "plain Kestrel, 1 process" || echo "ProcessCluster $mode, $workers workers")
    echo "| $name | $ka | $kap | $kar | $cl | $clp | $clr | $err |"
  done
  echo
  echo "wrk -t1 -c32 -d${duration}s /hello on 127.0.0.1, median of $runs runs each, interleaved; $(nproc) cores; $(dotnet --version) SDK; $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)."
} | tee "$out/summary.md"
