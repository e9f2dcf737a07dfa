#!/usr/bin/env bash
# What a worker flooding its channel costs the primary (issue 11, bug 4; goal: a 10 s flood of load reports leaves the
# primary's RSS within 50 MiB of its calm value and a TTIN applied within 1 s).
#
#   bash bench/flood.sh [--quick] [ROOT]        MODE=load (default), message, fds or connect
#
# ROOT is the checkout to measure (default: this one), so the same script drives old and new code: it builds ROOT's
# dotnet-cluster and demo and runs private copies of them. `dotnet-cluster run` autoscales between 2 and 4 workers
# (workers send load reports only to a primary that scales or balances by load, and each report is a scaling step),
# starting 2 through bench/flood-worker.sh: worker 1 is a fake worker (bench/flood-worker.py) that, on SIGUSR1, sends LoadReport frames
# (or 64 KiB Message frames) as fast as it can for 10 s; worker 2 is the demo app. MODE=fds: the flooder's LoadReport
# frames each carry an undeclared SCM_RIGHTS descriptor (the primary drops its channel at the first and replaces it).
# MODE=connect: no worker floods; a local process started here (flood-worker.py connect) opens and closes connections to
# the primary's abstract channel socket (its name from the flooder's /proc/PID/environ) as fast as it can for 10 s,
# each refused by the primary. Per run, 3 runs (1 with --quick):
#   calm RSS   the primary's VmRSS just before the flood, 5 s after both workers are ready;
#   peak RSS   the highest VmRSS sampled (every 0.1 s) from the flood's start to 5 s after its end;
#   calm/peak fds  the same for the primary's open descriptors (ls /proc/PID/fd);
#   TTIN ms    from `kill -TTIN <primary>`, 5 s into the flood, until /api/status (Cluster:AdminUrl) shows the desired
#              worker count risen (polled every ~20 ms, so it includes a curl round trip; given up after 60 s);
#              TTIN=0 sends none ("off"), so no cold worker joins mid-flood and /hello measures the flood alone;
#   /hello     GET /hello every 0.1 s during the flood (curl's time_total: through the primary's dispatcher to the demo
#              worker, the flooder refusing the connections it is offered), answered / asked, median and max ms;
#   refusals   the primary's "Refused a channel connection" log lines (rate-limited to about 1 a minute);
#   hung       workers the primary killed for want of a heartbeat (a queue that holds heartbeats back does that).
# The demo workers warm up on /hello before they report ready (Cluster:WarmupPath): a replacement or TTIN worker's
# first request, cold, took 0.6-1.8 s at load 80-150 and was each run's slowest /hello (fds mode's 109.8 ms on a quiet
# machine), while the healthy worker answered as before; with it, a new worker joins dispatch compiled.
# A primary whose RSS passes CAP_MIB (default 2048) is SIGKILLed, so a runaway old build cannot hurt the machine; its
# flooder dies with it (parent-death signal). Results in bench/results/flood-<commit>-<mode>/.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=
if [ "${1:-}" = --quick ]; then quick=--quick; shift; fi
root=$(cd "${1:-.}" && pwd)
mode=${MODE:-load}
probe_ttin=${TTIN:-1}
cap_mib=${CAP_MIB:-2048}
runs=$([ -n "$quick" ] && echo 1 || echo 3)
flood_seconds=10
ttin_at=5
after=5
ttin_wait=60
# Fixed ports, so that a run's URLs read the same; PORT and ADMIN_PORT move them when another flood.sh runs beside it.
port=${PORT:-38331}
admin_port=${ADMIN_PORT:-38332}
workers=2
max_workers=4

source bench/lib.sh
commit=$(git -C "$root" rev-parse --short HEAD)
out=bench/results/flood-$commit-$mode$([ "$probe_ttin" != 0 ] || echo -nottin)
mkdir -p "$out"

# Private copies, so a build in ROOT during the run does not swap the binaries under it.
echo "building dotnet-cluster and the demo in $root ($commit)" >&2
dotnet build "$root/src/ProcessCluster.Cli" -c Release -nologo -v quiet >/dev/null
dotnet build "$root/samples/SeedDemo" -c Release -nologo -v quiet >/dev/null
rm -rf "$out/cli" "$out/app"
cp -r "$root/src/ProcessCluster.Cli/bin/Release/net10.0" "$out/cli"
cp -r "$root/samples/SeedDemo/bin/Release/net10.0" "$out/app"

monitor_pid=
hello_pid=
connector_pid=
cleanup() {
  [ -z "$monitor_pid" ] || kill "$monitor_pid" 2>/dev/null || true
  [ -z "$connector_pid" ] || kill "$connector_pid" 2>/dev/null || true
  [ -z "$hello_pid" ] || kill "$hello_pid" 2>/dev/null || true
  stop_server
}
trap cleanup EXIT

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
status() { curl -s -m 2 "http://127.0.0.1:$admin_port/api/status" || true; }
desired() { status | grep -o '"desiredWorkers":[0-9]*' | cut -d: -f2; }
ready_workers() { status | grep -o '"state":"Ready"' | wc -l; }

fd_count() { ls /proc/"$1"/fd 2>/dev/null | wc -l; }

# The primary's VmRSS and open descriptors every 0.1 s as "ms MiB fds" lines; past the cap it kills the primary and says so.
monitor() {
  local rss
  while rss=$(rss_mib "$server_pid") && [ -n "$rss" ]; do
    echo "$(now_ms) $rss $(fd_count "$server_pid")"
    if awk -v r="$rss" -v c="$cap_mib" 'BEGIN { exit !(r > c) }'; then
      echo "capped at $(now_ms)"
      kill -KILL "$server_pid"
      return
    fi
    sleep 0.1
  done
}

one_run() {
  local run=$1 log=$out/server-$run.log
  server_kind=dotnet
  env FLOOD_APP="$PWD/$out/app/SeedDemo.dll" FLOOD_MODE="$mode" FLOOD_SECONDS="$flood_seconds" \
    Logging__LogLevel__Default=Warning Logging__LogLevel__ProcessCluster=Information \
    Logging__Console__FormatterOptions__TimestampFormat="HH:mm:ss.fff " Logging__Console__FormatterOptions__UseUtcTimestamp=true \
    dotnet "$out/cli/dotnet-cluster.dll" run --urls "http://127.0.0.1:$port" --Cluster:MinWorkers=$workers \
    --Cluster:MaxWorkers=$max_workers --Cluster:Scheduling=RoundRobin --Cluster:AdminUrl="http://127.0.0.1:$admin_port" \
    --Cluster:WarmupPath=/hello \
    -- bash "$PWD/bench/flood-worker.sh" >"$log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 300); do [ "$(ready_workers)" -ge "$workers" ] && break; sleep 0.1; done
  [ "$(ready_workers)" -ge "$workers" ] || { echo "the cluster did not become ready (see $log)" >&2; return 1; }
  local flooder
  flooder=$(for pid in $(worker_pids); do
    if grep -qa flood-worker.py /proc/"$pid"/cmdline 2>/dev/null; then echo "$pid"; fi
  done)
  [ -n "$flooder" ] || { echo "no flooder among the workers (see $log)" >&2; return 1; }

  local samples=$out/rss-$run.txt hello=$out/hello-$run.txt
  monitor >"$samples" &
  monitor_pid=$!
  # Warm the demo up first: its first requests (JIT) take 100-250 ms on this machine, flood or not.
  for _ in $(seq 1 20); do curl -s -o /dev/null -m 2 "http://127.0.0.1:$port/hello" || true; done
  sleep 5
  local calm calm_fds start channel connect=$out/connect-$run.txt
  calm=$(rss_mib "$server_pid")
  calm_fds=$(fd_count "$server_pid")
  start=$(now_ms)
  if [ "$mode" = connect ]; then
    channel=$(tr '\0' '\n' <"/proc/$flooder/environ" | sed -n 's/^PROCESSCLUSTER_CHANNEL=//p')
    python3 bench/flood-worker.py connect "$channel" "$flood_seconds" >"$connect" 2>&1 &
    connector_pid=$!
  else
    kill -USR1 "$flooder"
  fi
  # /hello during the flood: one line per request, "code seconds start-ms hello from PID" (000 on a failure), so a
  # slow answer can be set beside the log's times (UTC) and the worker that gave it.
  (for _ in $(seq 1 $((flood_seconds * 10))); do
    sent=$(now_ms)
    answer=$(curl -s -m 2 -w '\n%{http_code} %{time_total}' "http://127.0.0.1:$port/hello" || true)
    echo "${answer##*$'\n'} $sent ${answer%%$'\n'*}"
    sleep 0.1
  done) >"$hello" &
  hello_pid=$!

  local ttin=off
  if [ "$probe_ttin" != 0 ]; then
    sleep "$ttin_at"
    local before sent
    ttin="not applied in ${ttin_wait} s"
    before=$(desired)
    before=${before:-$workers}
    sent=$(now_ms)
    kill -TTIN "$server_pid" 2>/dev/null || ttin="primary gone"
    while [[ ! $ttin =~ ^[0-9]+$ ]] && [ "$ttin" != "primary gone" ] && [ $(($(now_ms) - sent)) -lt $((ttin_wait * 1000)) ] && kill -0 "$server_pid" 2>/dev/null; do
      if [ "$(desired)" -gt "$before" ] 2>/dev/null; then ttin=$(($(now_ms) - sent)); else sleep 0.02; fi
    done
  fi
  kill -0 "$server_pid" 2>/dev/null || [[ $ttin =~ ^[0-9]+$ ]] || ttin="primary gone"

  # Until 5 s after the flood ends (the TTIN wait may already have taken longer).
  local end=$((start + (flood_seconds + after) * 1000))
  while [ "$(now_ms)" -lt "$end" ] && kill -0 "$server_pid" 2>/dev/null; do sleep 0.2; done
  wait "$hello_pid" || true
  hello_pid=
  if [ -n "$connector_pid" ]; then wait "$connector_pid" || true; connector_pid=; fi
  kill "$monitor_pid" 2>/dev/null || true
  wait "$monitor_pid" 2>/dev/null || true
  monitor_pid=

  local peak peak_fds capped flood hung latency refusals
  peak=$(awk -v s="$start" 'NF == 3 && $1 >= s && $2 > p { p = $2 } END { printf "%.1f", p }' "$samples")
  peak_fds=$(awk -v s="$start" 'NF == 3 && $1 >= s && $3 > p { p = $3 } END { print p + 0 }' "$samples")
  # median and max ms of the answered requests
  latency=$(awk '$1 == 200 { print $2 * 1000 }' "$hello" | sort -n | awk '{ a[++n] = $1 } END {
    if (n) printf "%.1f\t%.1f", (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2), a[n]; else printf "-\t-" }')
  refusals=$(grep -c 'Refused a channel connection' "$log" || true)
  capped=$(awk -v s="$start" -v c="$cap_mib" '$1 == "capped" { printf " (SIGKILLed past %s MiB, %.1f s into the flood)", c, ($3 - s) / 1000 }' "$samples")
  hung=$(grep -c 'is hung' "$log" || true)
  if [ "$mode" = connect ]; then flood=$(cat "$connect"); else
    flood=$(grep -o 'sent [0-9]* [a-z]* frames in .*' "$log" | head -1 || echo "flooder gave no count"); fi
  local alive=yes
  kill -0 "$server_pid" 2>/dev/null || alive=no
  stop_server
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$calm" "$peak" "$(awk -v a="$peak" -v b="$calm" 'BEGIN { printf "%.1f", a - b }')" \
    "$ttin" "$(grep -c '^200 ' "$hello")/$(wc -l <"$hello")" "$calm_fds" "$peak_fds" "$latency" "$alive" $((peak_fds - calm_fds)) >>"$out/runs.tsv"
  echo "run $run ($commit, $mode): primary alive $alive, calm RSS $calm MiB, peak $peak MiB$capped, delta $(cut -f4 <(tail -1 "$out/runs.tsv")) MiB," \
    "fds $calm_fds calm, $peak_fds peak, TTIN $ttin$([[ $ttin =~ ^[0-9]+$ ]] && echo " ms"), /hello $(cut -f6 <(tail -1 "$out/runs.tsv")) answered," \
    "median $(cut -f9 <(tail -1 "$out/runs.tsv")) ms, max $(cut -f10 <(tail -1 "$out/runs.tsv")) ms;" \
    "$hung workers killed as hung, $refusals refusal log lines; flooder $flood"
}

: >"$out/runs.tsv"
for run in $(seq 1 "$runs"); do one_run "$run"; done

# summary COLUMN UNIT: the median and spread (min-max) of a column of runs.tsv over the runs where it is a number,
# and how many runs had each other outcome (TTIN not applied, primary gone).
summary() { cut -f"$1" "$out/runs.tsv" | sort -n | awk -v unit="$2" '/^[0-9.]+$/ { a[++n] = $1; next } { other[$0]++ } END {
  if (n) printf "%s %s (%s-%s, %d runs)", (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2), unit, a[1], a[n], n
  for (o in other) { printf "%s%s in %d runs", (n || shown ? "; " : ""), o, other[o]; shown = 1 } }'; }
echo "$commit $mode, $runs runs: calm RSS $(summary 2 MiB), peak $(summary 3 MiB), delta $(summary 4 MiB), fds calm $(summary 7 '')," \
  "peak $(summary 8 ''), above calm $(summary 12 ''), /hello median $(summary 9 ms), max $(summary 10 ms), TTIN $(summary 5 ms); primary alive: $(cut -f11 "$out/runs.tsv" | tr '\n' ' ')" \
  "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out/summary.txt"
