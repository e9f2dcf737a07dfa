#!/usr/bin/env bash
# How fast and how steadily the cluster sizes itself, on the seed demo (RoundRobin), in three scenarios:
#
#   bash bench/scale.sh            5 runs of each (about 15 minutes on a quiet 2-core machine)
#   bash bench/scale.sh --quick    1 run of each
#   APP_COMMAND=path/to/SeedDemo bash bench/scale.sh   the same with another build of the demo as primary and
#                                  workers (e.g. native AOT); default: dotnet on a private copy of samples/SeedDemo
#   BENCH_PORT=38402 bash bench/scale.sh               another port (default 38401), e.g. beside another run
#   SCENARIOS="step zero" bash bench/scale.sh          a subset (default: step sawtooth zero)
#
# 1. Step (MinWorkers=1, MaxWorkers=4, ScaleDownWindow=15 s): one request to the CPU-bound "/" every 250 ms for 5 s
#    (light: about 15% busy, one worker is right), then `wrk -t2 -c16` keep-alive for 5 s + 10 s, then quiet until one
#    worker is left (wrk's timeout is 10 s: a slow answer under overload is not a failed one). Load start → decision:
#    the first "Scaling a → b" line with b > a in the primary's log after the step (log times in UTC, to the
#    millisecond). Load start → an added worker serves: a probe opens a new connection to /hello every 50 ms and notes
#    the first answer from a pid that was not a worker at the step. A run whose light phase had already scaled says so.
# 2. Sawtooth (same bounds and window): bursts of `wrk -t1 -c16 -d2s` every 10 s for 70 s. Scale events ("Scaling a → b"
#    lines) in the first period, and per minute over the six periods after it.
# 3. From zero (MinWorkers=0, MaxWorkers=2, ScaleDownWindow=3 s): wait until no worker runs, then one new connection
#    to /hello; its total time (curl's time_total) is the first-request latency from zero workers.
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/lib.sh
bench_setup scale "$@"
[ "${1:-}" = "--quick" ] || runs=5
port=${BENCH_PORT:-38401}
workers=auto
trap stop_server EXIT
# The primary's log lines carry UTC times: comparable with the script's clock.
export TZ=UTC
logtime=(Logging__Console__FormatterOptions__TimestampFormat="HH:mm:ss.fff " Logging__Console__FormatterOptions__UseUtcTimestamp=true)

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
# Seconds from epoch second $2 to the first scale-up line ("Scaling a → b", b > a) of log $1 at or after it; nothing if none.
first_up_after() {
  awk -v at="$2" 'BEGIN { day = at % 86400 }
    /Scaling [0-9]+ → [0-9]+ workers/ && $1 ~ /^[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9]+$/ {
      match($0, /Scaling [0-9]+ → [0-9]+/); split(substr($0, RSTART, RLENGTH), w, " ")
      split($1, t, ":"); s = t[1] * 3600 + t[2] * 60 + t[3]
      if (w[4] > w[2] && s >= day - 0.0005) { printf "%.3f", s - day; exit } }' "$1"
}
# Until (at most $2 s) the primary has at most $1 workers.
wait_workers_at_most() {
  for _ in $(seq 1 $(( $2 * 10 ))); do [ "$(worker_pids | wc -l)" -le "$1" ] && return 0; sleep 0.1; done
  return 1
}

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

scenarios=" ${SCENARIOS:-step sawtooth zero} "

# 1. Step.
[[ "$scenarios" == *" step "* ]] && : >"$out/step.tsv"
rm -f "$out"/before-*.txt
for run in $([[ "$scenarios" == *" step "* ]] && seq 1 "$runs"); do
  log="$out/step-$run.log"
  start_server RoundRobin "$log" Cluster__MinWorkers=1 Cluster__MaxWorkers=4 Cluster__ScaleDownWindow=00:00:15 "${logtime[@]}"
  for _ in $(seq 1 20); do
    curl -s -m 10 -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port/" >>"$out/before-$run.txt" || true
    sleep 0.25
  done
  before_p99=$(sort -n "$out/before-$run.txt" | awk '{ a[NR] = $1 } END { i = int(NR * 0.99 + 0.999); printf "%.2f", a[i] * 1000 }')

  probe >"$out/probe-$run.txt" &
  prober=$!
  # The light phase can already trip the scaler (a slow, still-cold request keeps the worker busy a whole report):
  # such a run says so, since its figures would not measure the step.
  at_step=$(worker_pids | tr '\n' ' ')
  step=$(now)
  wrk -t2 -c16 -d5s --timeout 10s --latency "http://127.0.0.1:$port/" >"$out/wrk-step-$run.txt"
  wrk -t2 -c16 -d10s --timeout 10s --latency "http://127.0.0.1:$port/" >"$out/wrk-after-$run.txt"
  quiet=$(now)
  kill "$prober"; wait "$prober" 2>/dev/null || true

  peak=$(grep -o "Scaling [0-9]* → [0-9]*" "$log" | awk '{ if ($4 > m) m = $4 } END { print m+0 }')
  wait_workers_at_most 1 90 || true
  shrunk=$(elapsed "$quiet" "$(now)")

  decision=$(first_up_after "$log" "$step")
  first_new=$(awk -v step="$step" -v old=" $at_step" '$1 >= step && $2 ~ /^[0-9]+$/ && index(old, " " $2 " ") == 0 { print $1; exit }' "$out/probe-$run.txt")
  serving=$([ -n "$first_new" ] && elapsed "$step" "$first_new" || echo -)
  workers_at_step=$(wc -w <<<"$at_step")
  [ "$workers_at_step" -le 1 ] || serving="$serving (already $workers_at_step workers at the step)"
  events=$(grep -c "Scaling [0-9]* → " "$log" || true)
  # A flap is an up right after a down.
  flaps=$(grep -o "Scaling [0-9]* → [0-9]*" "$log" | awk '{ up = $4 > $2; if (NR > 1 && up && !prev) f++; prev = up } END { print f+0 }')
  failed=$(( $(errors "$out/wrk-step-$run.txt") + $(errors "$out/wrk-after-$run.txt") + $(grep -c FAIL "$out/probe-$run.txt" || true) ))
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "${decision:--}" "$serving" "$peak" "$events" "$flaps" \
    "$before_p99" "$(p99_ms "$out/wrk-after-$run.txt")" "$failed" "$shrunk" >>"$out/step.tsv"
  stop_server
done

# 2. Sawtooth.
[[ "$scenarios" == *" sawtooth "* ]] && : >"$out/sawtooth.tsv"
for run in $([[ "$scenarios" == *" sawtooth "* ]] && seq 1 "$runs"); do
  log="$out/sawtooth-$run.log"
  start_server RoundRobin "$log" Cluster__MinWorkers=1 Cluster__MaxWorkers=4 Cluster__ScaleDownWindow=00:00:15 "${logtime[@]}"
  start=$(now)
  failed=0
  for period in $(seq 0 6); do
    wrk -t1 -c16 -d2s --timeout 10s "http://127.0.0.1:$port/" >"$out/wrk-saw-$run-$period.txt"
    failed=$(( failed + $(errors "$out/wrk-saw-$run-$period.txt") ))
    sleep "$(awk -v s="$start" -v n="$(now)" -v p="$period" 'BEGIN { d = s + (p + 1) * 10 - n; printf "%.2f", (d > 0 ? d : 0) }')"
    [ "$period" -gt 0 ] || after_first=$(grep -c "Scaling [0-9]* → " "$log" || true)
  done
  total=$(grep -c "Scaling [0-9]* → " "$log" || true)
  counts=$(grep -o "Scaling [0-9]* → [0-9]*" "$log" | awk '{ printf "%s%s", (NR > 1 ? " " : ""), $4 }')
  printf '%s\t%s\t%s\t%s\t%s\n' "$run" "$after_first" "$(( total - after_first ))" "${counts:--}" "$failed" >>"$out/sawtooth.tsv"
  stop_server
done

# 3. From zero.
if [[ "$scenarios" == *" zero "* ]]; then
  : >"$out/zero.tsv"
  log="$out/zero.log"
  start_server RoundRobin "$log" Cluster__MinWorkers=0 Cluster__MaxWorkers=2 Cluster__ScaleDownWindow=00:00:03 "${logtime[@]}"
  for run in $(seq 1 "$runs"); do
    wait_workers_at_most 0 60 || { echo "the cluster did not reach zero workers" >&2; exit 1; }
    answer=$(curl -s -m 30 -o /dev/null -w '%{http_code} %{time_total}' -H "Connection: close" "http://127.0.0.1:$port/hello" || echo "000 -")
    printf '%s\t%s\t%s\n' "$run" "${answer%% *}" "$(awk -v t="${answer##* }" 'BEGIN { printf "%.0f", t * 1000 }')" >>"$out/zero.tsv"
  done
  stop_server
fi

column() { [ ! -f "$1" ] || awk -F'\t' -v c="$2" '$c ~ /^[0-9.]+$/ { print $c }' "$1" | median; }
rows() { [ ! -f "$1" ] || awk -F'\t' '{ printf "|"; for (i = 1; i <= NF; i++) printf " %s |", $i; print "" }' "$1"; }
{
  echo "### Step: 1 → 16 keep-alive clients on \"/\""
  echo
  echo "| run | load start → decision, s | load start → an added worker serves, s | peak workers | scale events | flaps | p99 before, ms (1 request / 250 ms) | p99 after, ms (16 clients) | failed requests | quiet → 1 worker, s |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  rows "$out/step.tsv"
  echo "| median | $(column "$out/step.tsv" 2) | $(column "$out/step.tsv" 3) | | | | | | | |"
  echo
  echo "### Sawtooth: 2 s bursts of 16 clients every 10 s, 70 s"
  echo
  echo "| run | scale events, first period | scale events per minute after it | worker counts decided | failed requests |"
  echo "|---|---|---|---|---|"
  rows "$out/sawtooth.tsv"
  echo
  echo "### From zero workers: one new connection to /hello"
  echo
  echo "| sample | HTTP status | first-request latency, ms |"
  echo "|---|---|---|"
  rows "$out/zero.tsv"
  echo "| median | | $(column "$out/zero.tsv" 3) |"
  echo
  echo "Seed demo ($([ -n "${APP_COMMAND:-}" ] && echo "$APP_COMMAND" || echo "dotnet, JIT")), RoundRobin; $(nproc) cores; load average at the end $(cut -d' ' -f1-3 /proc/loadavg);"
  echo "$(dotnet --version) SDK; $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)."
} | tee "$out/summary.md"
