#!/usr/bin/env bash
# Side by side with Node's cluster and PM2: the seed's app as ProcessCluster RoundRobin, Shared and ReusePort
# (2 workers), the same workers under the standalone primary (`lean`: dotnet-cluster run, native AOT), the demo published as ReadyToRun
# (`r2r`), as self-contained trimmed composite ReadyToRun (`composite`) and as native AOT (`aot`), all RoundRobin, as one plain Kestrel process
# (Cluster:Enabled=false), as 2 plain processes sharing the port with SO_REUSEPORT (`plain-reuseport`: not in the default
# set; what 2 .NET processes cost by themselves, with the runtime's defaults), and the same routes in Express (bench/node) under Node's cluster
# module and under PM2 cluster mode; interleaved in one run, so the machine's noise hits all alike.
#
#   bash bench/compare.sh            3 runs (about 30 minutes)
#   bash bench/compare.sh --quick    1 short run (under 2 minutes) into bench/results/compare-quick: a smoke test
#   RUNS=5 bash bench/compare.sh     more runs (or fewer) than 3
#   PORT=38461 SYSTEMS="RoundRobin Shared ReusePort lean node plain" SCENARIOS=load bash bench/compare.sh
#                                    the hand-off figures only (the scheduling modes beside Node and plain Kestrel), on
#                                    another port than the default 38401 (another benchmark on the machine may hold it)
#   PORT=38461 SYSTEMS="RoundRobin ReusePort plain-reuseport plain" SCENARIOS=load bash bench/compare.sh
#                                    the modes beside plain Kestrel as 1 and as 2 processes: what ProcessCluster costs
#                                    apart from running a second process
#   SYSTEMS="RoundRobin RoundRobin+DOTNET_gcServer=0 plain" SCENARIOS=load bash bench/compare.sh --quick
#                                    a subset; SYSTEM+VAR=value+... runs a system with extra environment (all its
#                                    processes), to measure a runtime setting
#   SYSTEMS="RoundRobin RoundRobin+BENCH_APP=/tmp/old/SeedDemo.dll plain" ...
#                                    another build of the demo beside this one (a copy of an earlier
#                                    bench/results/app): a code change A/B in one run
# A new system: a case in launch_server (bench/lib.sh) and in label below.
#
# Per system and run, each phase on a fresh start:
#   load    cold start (start → every worker answers /hello), RSS idle, 1000 sequential new connections (which pid
#           answered), a warm-up of every route and kind of connection timed below, the CPU route / (wrk -t1 -c4),
#           /hello keep-alive (-c32) and a new connection per request (-c32, Connection: close), each with the CPU
#           the primary and the workers spent per request (utime+stime from /proc/PID/stat before and after: far
#           less noisy than throughput on a shared machine), RSS after that load, then one SIGKILL: respawn = kill →
#           a new worker answers
#   kill    wrk -t1 -c32 /hello for 20 s with a worker SIGKILLed at t = 1, 3, ..., 19 s; pid-tally.lua counts the
#           answers per pid in 100 ms bins, so the suite sees when each replacement started to get its share
#   reload  the same wrk run with a rolling reload at t = 5 s: SIGHUP to our primary, `pm2 reload` for PM2 (Node's
#           cluster module has none)
# The plain Kestrel process has no workers: it runs the load phase only. Loopback only; every wrk run ends by itself;
# every server is stopped by its pid (PM2 with `pm2 kill` on its private PM2_HOME, then by pid).
# Writes bench/results/compare/summary.md (and runs.tsv, every wrk output and server log beside it).
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/lib.sh
# A quick run writes beside the full one (bench/results/compare-quick), so a smoke test leaves the figures alone.
bench_setup "compare$([ "${1:-}" = --quick ] && echo -quick)" "$@"
rm -f "$out"/*
ensure_node_app
port=${PORT:-38401} # PORT: another port, when another benchmark holds this one
workers=$(nproc)
trap stop_server EXIT

spare=RoundRobin+Cluster__WarmSpares=1+Cluster__WarmupPath=/hello
if [ "$runs" = 1 ]; then
  # A smoke run: every kind of system once (the spare variant only runs RoundRobin's code with other settings).
  load_s=1 warm_s=1 idle_s=0.5 rest_s=0.2 chaos_s=3 reload_at=1 connections=100 spare=
else
  load_s=10 warm_s=5 idle_s=3 rest_s=1 chaos_s=20 reload_at=5 connections=1000
fi
read -r -a systems <<<"${SYSTEMS:-RoundRobin $spare Shared ReusePort lean r2r aot node pm2 plain}"
read -r -a phases <<<"${SCENARIOS:-load kill reload}"
# Built before any clock starts, so a publish does not count as a cold start.
prepare_systems "${systems[@]}"
url=http://127.0.0.1:$port

want_pids() { [ "${system%%+*}" = plain ] && echo 1 || echo "$workers"; }

# Every route and kind of connection the timed runs use, so the JIT's tiers and the pools have settled for each.
warm_up() {
  wrk -t1 -c32 -d"${warm_s}s" "$url/hello" >/dev/null
  wrk -t1 -c32 -d"${warm_s}s" -H "Connection: close" "$url/hello" >/dev/null
  wrk -t1 -c4 -d"${warm_s}s" "$url/" >/dev/null
}

# CPU time (utime + stime, clock ticks) of the primary, then of its workers (summed), as two words. plain has no
# primary: its one process counts as the workers.
ticks() { awk '{ print $14 + $15 }' "$@" 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }
cpu_ticks() {
  local stats=()
  for pid in $(worker_pids); do stats+=("/proc/$pid/stat"); done
  if [ "${system%%+*}" = plain ]; then echo "0 $(ticks "/proc/$server_pid/stat")"
  else echo "$(ticks "/proc/$server_pid/stat") $( [ ${#stats[@]} -gt 0 ] && ticks "${stats[@]}" || echo 0)"; fi
}

memory() { # when
  local total primary workers_rss=()
  if [ "${system%%+*}" = plain ]; then
    workers_rss=("$(rss_mib "$server_pid")")
  else
    if [ "${system%%+*}" != plain-reuseport ]; then # its parent is a shell, not a primary
      primary=$(rss_mib "$server_pid")
      record "rss_primary_$1" "$primary"
    fi
    for pid in $(worker_pids); do workers_rss+=("$(rss_mib "$pid")"); done
  fi
  for rss in "${workers_rss[@]}"; do record "rss_worker_$1" "$rss"; done
  total=$(printf '%s\n' "${primary:-0}" "${workers_rss[@]}" | awk '{ s += $1 } END { printf "%.1f", s }')
  record "rss_total_$1" "$total"
}

distribution() {
  local file=$out/distribution-$tag.txt
  for _ in $(seq 1 "$connections"); do echo "url = \"$url/hello\""; done >"$out/urls.cfg"
  curl -s -m 120 -H "Connection: close" -w '\n' -K "$out/urls.cfg" >"$file" || true
  record distribution "$(awk '{ print $NF }' "$file" | sort | uniq -c | sort -rn | awk '{ printf "%s%s", (NR > 1 ? "/" : ""), $1 }')"
  record busiest "$(awk '{ print $NF }' "$file" | sort | uniq -c | sort -rn | awk '{ n += $1; if (NR == 1) top = $1 } END { printf "%.1f", 100 * top / n }')"
}

throughput() { # name path wrk-args...
  local name=$1 path=$2 file=$out/wrk-$1-$tag.txt
  shift 2
  local primary_before workers_before primary_after workers_after tick_us
  tick_us=$((1000000 / $(getconf CLK_TCK)))
  read -r primary_before workers_before < <(cpu_ticks)
  wrk -t1 -d"${load_s}s" --latency "$@" "$url$path" >"$file"
  read -r primary_after workers_after < <(cpu_ticks)
  record "${name}_rps" "$(rps "$file")"
  # µs of CPU per request (per connection for close); a worker that died meanwhile would make it low, none does here.
  record "${name}_cpu_primary_us" "$(awk -v t=$((primary_after - primary_before)) -v u="$tick_us" -v n="$(requests "$file")" 'BEGIN { if (n > 0) printf "%.1f", t * u / n; else print "-" }')"
  record "${name}_cpu_workers_us" "$(awk -v t=$((workers_after - workers_before)) -v u="$tick_us" -v n="$(requests "$file")" 'BEGIN { if (n > 0) printf "%.1f", t * u / n; else print "-" }')"
  record "${name}_p50" "$(percentile_ms "$file" 50)"
  record "${name}_p99" "$(percentile_ms "$file" 99)"
  record "${name}_errors" "$(errors "$file")"
}

phase_load() {
  local since ms
  since=$(date +%s%3N)
  launch_system "$system" "$out/server-$tag-load.log"
  ms=$(node bench/node/tools.js ready "$port" "$(want_pids)" "$since" 60000)
  record cold_start_ms "$ms"
  wait_ready "${system%%+*}"
  sleep "$idle_s"
  memory idle
  [ "${system%%+*}" = plain ] || distribution
  warm_up
  sleep "$rest_s" # a busy worker skips its turn in Node's round robin: start the CPU run with both idle (the anchors)
  throughput cpu / -c4
  throughput keepalive /hello -c32
  throughput close /hello -c32 -H "Connection: close"
  sleep "$rest_s"
  memory load
  case ${system%%+*} in
    plain*) ;; # nothing restarts a plain process
    *) read -r ms _ < <(node bench/node/tools.js respawn "$port" "$server_pid" 10000 || echo "-")
       record respawn_ms "$ms" ;;
  esac
}

kill_workers() { # kills-file
  for t in $(seq 1 2 $((chaos_s - 1))); do
    sleep $([ "$t" = 1 ] && echo 1 || echo 2)
    local victim
    # A serving worker: a warm spare (ProcessCluster's WarmSpares) answers nothing until one of them dies.
    victim=$(for _ in 1 2 3 4 5 6; do curl -s -m 1 -H "Connection: close" "$url/hello"; echo; done | grep -oE '[0-9]+$' | sort -u | shuf -n1)
    [ -n "$victim" ] || continue
    kill -KILL "$victim" 2>/dev/null && echo "$(date +%s%3N) $victim" >>"$1"
  done
}

reload_workers() {
  sleep "$reload_at"
  if [ "$server_kind" = pm2 ]; then pm2_cmd reload ref >"$out/pm2-reload-$tag.log" 2>&1 || true
  else kill -HUP "$server_pid"; fi
}

phase_chaos() { # kill|reload
  local scenario=$1 file=$out/wrk-$1-$tag.txt kills=$out/kills-$tag.txt disturber script=()
  case ${system%%+*} in plain*) return 0 ;; esac # nothing restarts a plain process
  [ "$scenario" = kill ] || [ "$system" != node ] || return 0 # Node's cluster module has no reload
  launch_system "$system" "$out/server-$tag-$scenario.log"
  wait_ready "${system%%+*}"
  wrk -t1 -c32 -d"${warm_s}s" "$url/hello" >/dev/null
  if [ "$scenario" = kill ]; then
    script=(-s bench/pid-tally.lua)
    : >"$kills"
    kill_workers "$kills" &
  else
    reload_workers &
  fi
  disturber=$!
  wrk -t1 -c32 -d"${chaos_s}s" --latency "${script[@]}" "$url/hello" >"$file" || true
  wait "$disturber"
  record "${scenario}_requests" "$(requests "$file")"
  record "${scenario}_errors" "$(errors "$file")"
  if [ "$scenario" = kill ]; then
    local count answered reached never share
    read -r count answered reached never share < <(node bench/node/tools.js share "$workers" "$kills" "$file")
    record kills "$count"
    record kill_errors_per_kill "$(awk -v e="$(errors "$file")" -v k="$count" 'BEGIN { if (k > 0) printf "%.1f", e/k; else print "-" }')"
    record replacement_answered_ms "$answered"
    record replacement_half_share_ms "$reached"
    record replacement_never "$never"
    record replacement_share_1_2s "$share"
  fi
}

run_phases() {
  for phase in "${phases[@]}"; do
    case $phase in
      load) phase_load ;;
      kill | reload) phase_chaos "$phase" ;;
    esac
    stop_server
  done
}
each_system_run run_phases

# ---- summary ----
metric() { awk -F'\t' -v s="$1" -v m="$2" '$1 == s && $3 == m && $4 != "-" && $4 != "" { print $4 }' "$out/runs.tsv" | median; }
# The median with the runs' spread beside it: "median (min–max)", or the one value of a single run.
spread() {
  local values
  values=$(awk -F'\t' -v s="$1" -v m="$2" '$1 == s && $3 == m && $4 != "-" && $4 != "" { print $4 }' "$out/runs.tsv")
  [ -n "$values" ] || { echo -; return; }
  printf '%s' "$(echo "$values" | median)"
  [ "$(echo "$values" | wc -l)" -lt 2 ] || printf ' (%s–%s)' "$(echo "$values" | sort -n | head -1)" "$(echo "$values" | sort -n | tail -1)"
  echo
}
all() { awk -F'\t' -v s="$1" -v m="$2" '$1 == s && $3 == m { print $4 }' "$out/runs.tsv" | paste -sd' ' -; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0 || a == "") print "-"; else printf "%.2f", a / b }'; }
has() { for s in "${systems[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }
label() {
  local mode=${1%%+*} extra=
  [ "$mode" = "$1" ] || extra=" ($(echo "${1#*+}" | tr + ' '))"
  case $mode in
    RoundRobin | Shared | ReusePort) echo "ProcessCluster $mode, $workers workers$extra" ;;
    lean) echo "ProcessCluster RoundRobin, $workers workers, under \`dotnet-cluster run\` (native AOT)$extra" ;;
    handover) echo "ProcessCluster RoundRobin, $workers workers, the in-app primary handed over to the native dotnet-cluster$extra" ;;
    aot) echo "ProcessCluster RoundRobin, $workers workers, the demo published as native AOT$extra" ;;
    r2r) echo "ProcessCluster RoundRobin, $workers workers, the demo published ReadyToRun$extra" ;;
    composite) echo "ProcessCluster RoundRobin, $workers workers, the demo published self-contained trimmed composite ReadyToRun$extra" ;;
    node) echo "Node cluster, $workers workers$extra" ;;
    pm2) echo "PM2 cluster mode, -i $workers$extra" ;;
    plain) echo "plain Kestrel, 1 process$extra" ;;
    plain-reuseport) echo "plain Kestrel, $workers processes sharing the port (SO_REUSEPORT), no ProcessCluster$extra" ;;
  esac
}
reference() { # base-system metric-system metric: ratio of medians, or - when the base system did not run
  if has "$1"; then ratio "$(metric "$2" "$3")" "$(metric "$1" "$3")"; else echo -; fi
}
cpu_total() { # system close|keepalive: median primary + median workers
  awk -v a="$(metric "$1" "$2_cpu_primary_us")" -v b="$(metric "$1" "$2_cpu_workers_us")" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%.1f", a + b }'
}
version() { awk -F'"' '/"version"/ { print $4; exit }' "bench/node/node_modules/$1/package.json"; }

{
  echo "### Throughput (median of $runs runs, min–max in brackets; ratios of medians)"
  echo
  echo "| system | CPU \`/\` req/s | p50 / p99 ms | vs Node | vs plain | \`/hello\` keep-alive req/s | p50 / p99 ms | vs Node | vs plain | new connection per request req/s | p50 / p99 ms | vs Node | vs plain | errors |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  for system in "${systems[@]}"; do
    row="| $(label "$system")"
    for name in cpu keepalive close; do
      row+=" | $(spread "$system" "${name}_rps") | $(metric "$system" "${name}_p50") / $(metric "$system" "${name}_p99")"
      row+=" | $(reference node "$system" "${name}_rps") | $(reference plain "$system" "${name}_rps")"
    done
    errs=$(awk -F'\t' -v s="$system" '$1 == s && $3 ~ /^(cpu|keepalive|close)_errors$/ { n += $4 } END { print n + 0 }' "$out/runs.tsv")
    echo "$row | $errs |"
  done
  if has plain-reuseport; then
    echo
    echo "Against $workers plain processes (what running $workers .NET processes costs by itself, without ProcessCluster), ratios of medians:"
    echo
    echo "| system | \`/hello\` keep-alive req/s | new connection per request req/s | CPU µs per new connection |"
    echo "|---|---|---|---|"
    for system in "${systems[@]}"; do
      echo "| $(label "$system") | $(reference plain-reuseport "$system" keepalive_rps) | $(reference plain-reuseport "$system" close_rps) | $(ratio "$(cpu_total "$system" close)" "$(cpu_total plain-reuseport close)") |"
    done
  fi
  echo
  echo "### CPU per request: µs of utime+stime (median of $runs runs, min–max in brackets)"
  echo
  echo "| system | new connection per request: primary | workers | total | vs plain | \`/hello\` keep-alive: primary | workers | total | vs plain |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for system in "${systems[@]}"; do
    row="| $(label "$system")"
    for name in close keepalive; do
      row+=" | $(spread "$system" "${name}_cpu_primary_us") | $(spread "$system" "${name}_cpu_workers_us") | $(cpu_total "$system" "$name")"
      row+=" | $(has plain && ratio "$(cpu_total "$system" "$name")" "$(cpu_total plain "$name")" || echo -)"
    done
    echo "$row |"
  done
  echo
  echo "### Distribution, crashes, reload, start-up (median of $runs runs)"
  echo
  echo "| system | $connections new connections: per worker (each run) | busiest share % | cold start ms | respawn ms | SIGKILL every 2 s: requests | errors | kills | errors per kill | replacement answers after ms | reaches half its fair share after ms | kills where it did not before the next | replacement's share 1–2 s after the kill % | reload under load: requests | errors |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  for system in "${systems[@]}"; do
    [ "${system%%+*}" = plain ] && d=- || d=$(all "$system" distribution | sed 's/ /, /g')
    echo "| $(label "$system") | $d | $(metric "$system" busiest) | $(metric "$system" cold_start_ms) | $(metric "$system" respawn_ms) | $(metric "$system" kill_requests) | $(metric "$system" kill_errors) | $(metric "$system" kills) | $(metric "$system" kill_errors_per_kill) | $(metric "$system" replacement_answered_ms) | $(metric "$system" replacement_half_share_ms) | $(all "$system" replacement_never | sed 's/ /, /g') | $(metric "$system" replacement_share_1_2s) | $(metric "$system" reload_requests) | $(metric "$system" reload_errors) |"
  done
  echo
  echo "### Memory: VmRSS in MiB (median of $runs runs; each worker: median over all workers of all runs)"
  echo
  echo "| system | primary idle | each worker idle | total idle | primary after load | each worker after load | total after load | worker after load vs plain |"
  echo "|---|---|---|---|---|---|---|---|"
  for system in "${systems[@]}"; do
    echo "| $(label "$system") | $(metric "$system" rss_primary_idle) | $(metric "$system" rss_worker_idle) | $(metric "$system" rss_total_idle) | $(metric "$system" rss_primary_load) | $(metric "$system" rss_worker_load) | $(metric "$system" rss_total_load) | $(reference plain "$system" rss_worker_load) |"
  done
  echo
  echo "Load: wrk -t1 on 127.0.0.1, ${load_s} s per figure; CPU route -c4 after ${rest_s} s idle, \`/hello\` -c32 keep-alive and with"
  echo "\`Connection: close\`. Errors: socket errors + non-2xx. SIGKILL run: wrk -c32 ${chaos_s} s with pid-tally.lua (which slows"
  echo "wrk alike for all); fair share = 1/$workers of the answers in a 100 ms bin. Reload at t = ${reload_at} s: SIGHUP to our"
  echo "primary, \`pm2 reload\`; Node's cluster module has no reload. The primary of PM2 is its God daemon. Respawn has no"
  echo "restart delay: ProcessCluster replaces a worker that was ready and served at once (\`RestartDelay\` is for early"
  echo "deaths). The machine is shared and has $(nproc) cores, wrk takes one: only"
  echo "the ratios of one run compare, not absolute figures across machines."
  echo
  echo "Machine: $(nproc) cores ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.1f GiB", $2/1048576 }' /proc/meminfo),"
  echo "Linux $(uname -r). Versions: .NET SDK $(dotnet --version) (runtime $(dotnet --list-runtimes | awk '/NETCore.App/ { v=$2 } END { print v }')),"
  echo "node $(node -v), express $(version express), pm2 $(version pm2), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)."
  echo "Run $(date -u +%Y-%m-%dT%H:%MZ), $(git describe --always --dirty) (load average at the end: $(cut -d" " -f1-3 /proc/loadavg))."
} >"$out/summary.md"
cat "$out/summary.md"
