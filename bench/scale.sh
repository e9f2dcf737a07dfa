#!/usr/bin/env bash
# How the cluster sizes itself: a load step on the seed's CPU-bound "/" (1 → 16 concurrent keep-alive clients), then
# quiet. Each run starts a fresh autoscaling cluster (Cluster:MinWorkers=1, MaxWorkers=4, ScaleDownWindow=15 s so that a
# run takes about a minute; the default window is 60 s).
#
#   bash bench/scale.sh            3 runs
#   bash bench/scale.sh --quick    1 run
#
# Per run: before the step, one request to "/" every 250 ms for 5 s (light: about 15% busy, so one worker is right;
# a client sending back to back keeps a worker 100% busy and rightly scales it) gives the p99 before. The step is
# `wrk -t2 -c16` for 5 s (scaling happens here) then 10 s more (p99 "after"). A probe opens a new connection to /hello
# every 50 ms during the step and notes which worker answers: the seconds from the step until an added worker serves.
# Then quiet until one worker is left.
# Scale events come from the primary's log ("Scaling a → b workers: why").
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/lib.sh
bench_setup scale "$@"
port=38401
workers=auto
trap stop_server EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# Probe: one new connection per 50 ms; prints "<epoch seconds> <pid or FAIL>" lines until killed.
probe() {
  while true; do
    local answer
    answer=$(curl -s -m 2 -H "Connection: close" "http://127.0.0.1:$port/hello" || true)
    echo "$(now) ${answer##* }"
    [ -n "$answer" ] || echo "$(now) FAIL"
    sleep 0.05
  done
}

: >"$out/runs.tsv"
rm -f "$out"/before-*.txt
for run in $(seq 1 "$runs"); do
  log="$out/server-$run.log"
  start_server RoundRobin "$log" Cluster__MinWorkers=1 Cluster__MaxWorkers=4 Cluster__ScaleDownWindow=00:00:15
  first=$(worker_pids)
  for _ in $(seq 1 20); do
    curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port/" >>"$out/before-$run.txt"
    sleep 0.25
  done
  before_p99=$(sort -n "$out/before-$run.txt" | awk '{ a[NR] = $1 } END { i = int(NR * 0.99 + 0.999); printf "%.2f", a[i] * 1000 }')

  probe >"$out/probe-$run.txt" &
  prober=$!
  step=$(now)
  # The light phase can already trip the scaler (a slow, still-cold request keeps the worker busy a whole report):
  # such a run says so, since its "added worker serves" would not measure the step.
  at_step=$(worker_pids | wc -l)
  wrk -t2 -c16 -d5s --latency "http://127.0.0.1:$port/" >"$out/wrk-step-$run.txt"
  wrk -t2 -c16 -d10s --latency "http://127.0.0.1:$port/" >"$out/wrk-after-$run.txt"
  quiet=$(now)
  kill "$prober"; wait "$prober" 2>/dev/null || true

  # Quiet: wait (at most 90 s) until one worker is left.
  peak=$(grep -o "Scaling [0-9]* → [0-9]*" "$log" | awk '{ if ($4 > m) m = $4 } END { print m+0 }')
  for _ in $(seq 1 900); do [ "$(worker_pids | wc -l)" -le 1 ] && break; sleep 0.1; done
  shrunk=$(elapsed "$quiet" "$(now)")

  first_new=$(awk -v step="$step" -v old="$first" '$1 >= step && $2 != old && $2 != "FAIL" { print $1; exit }' "$out/probe-$run.txt")
  serving=$([ -n "$first_new" ] && elapsed "$step" "$first_new" || echo -)
  [ "$at_step" -gt 1 ] && serving="$serving (already $at_step workers at the step)"
  events=$(grep -c "Scaling [0-9]* → " "$log" || true)
  # A flap is an up right after a down.
  flaps=$(grep -o "Scaling [0-9]* → [0-9]*" "$log" | awk '{ up = $4 > $2; if (NR > 1 && up && !prev) f++; prev = up } END { print f+0 }')
  failed=$(( $(errors "$out/wrk-step-$run.txt") + $(errors "$out/wrk-after-$run.txt") + $(grep -c FAIL "$out/probe-$run.txt" || true) ))
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$serving" "$peak" "$events" "$flaps" \
    "$before_p99" "$(p99_ms "$out/wrk-after-$run.txt")" "$failed" "$shrunk" >>"$out/runs.tsv"
  stop_server
done

{
  echo "| run | step → an added worker serves, s | peak workers | scale events | flaps | p99 before, ms (1 request / 250 ms) | p99 after, ms (16 clients) | failed requests | quiet → 1 worker, s |"
  echo "|---|---|---|---|---|---|---|---|---|"
  awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }' "$out/runs.tsv"
  echo
  echo "Seed demo \"/\" (CPU-bound), MinWorkers=1 MaxWorkers=4 ScaleDownWindow=15 s; step = wrk -t2 -c16 (keep-alive) 5 s + 10 s;"
  echo "$(nproc) cores; $(dotnet --version) SDK; $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)."
} | tee "$out/summary.md"
