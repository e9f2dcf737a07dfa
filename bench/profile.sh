#!/usr/bin/env bash
# Where the CPU of a new connection per request goes: one system of compare.sh under wrk -c32 with
# "Connection: close", sampled by perf (call graphs, JIT'd frames named through DOTNET_PerfMapEnabled=1) in the
# primary and every worker. Prints the top symbols per process role and writes the full reports beside them.
#
#   bash bench/profile.sh                    RoundRobin, 10 s
#   SYSTEM=plain SECONDS_=5 bash bench/profile.sh
#   SYSTEM=RoundRobin+DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0 bash bench/profile.sh
#
# Needs perf (Debian's linux-perf; installed here if missing) and perf_event_paranoid <= 2 for a process of one's own.
# Loopback only; the server is stopped by its pid and wrk ends by itself. Writes bench/results/profile/.
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/lib.sh
system=${SYSTEM:-RoundRobin}
seconds=${SECONDS_:-10}
top=${TOP:-25}
if ! command -v perf >/dev/null; then
  echo "installing perf (Debian package linux-perf)" >&2
  if [ "$(id -u)" -eq 0 ]; then apt-get install -y -qq linux-perf >/dev/null; else sudo apt-get install -y -qq linux-perf >/dev/null; fi
fi
bench_setup profile
port=38411
workers=$(nproc)
trap stop_server EXIT
url=http://127.0.0.1:$port

mode=${system%%+*}
extra=()
[ "$mode" = "$system" ] || IFS=+ read -r -a extra <<<"${system#*+}"
launch_server "$mode" "$out/server.log" DOTNET_PerfMapEnabled=1 "${extra[@]}"
wait_ready "$mode"
# Warm, so that what is sampled is the steady state, not the JIT's tiers.
wrk -t1 -c32 -d10s -H "Connection: close" "$url/hello" >/dev/null

pids=$server_pid
[ "$mode" = plain ] || pids+=" $(worker_pids | paste -sd' ' -)"
perf record -q -g -F 999 -o "$out/perf.data" -p "$(echo "$pids" | tr ' ' ',')" -- sleep "$seconds" 2>"$out/perf-record.log" &
recorder=$!
wrk -t1 -c32 -d"${seconds}s" -H "Connection: close" "$url/hello" >"$out/wrk.txt"
wait "$recorder" || true

report() { # title pid...
  local title=$1
  shift
  echo "### $title ($system): top $top symbols, self time"
  # Percentages of these processes' samples; head ends the pipe early, which is no failure.
  perf report -q -i "$out/perf.data" --no-children --percentage relative --pid "$(echo "$@" | tr ' ' ',')" --sort sym --stdio 2>/dev/null \
    | grep -E '^ +[0-9.]+%' | head -n "$top" || true
  echo
}
{
  echo "wrk: $(awk '/^Requests\/sec/ { print $2 " req/s" }' "$out/wrk.txt"), $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  if [ "$mode" = plain ]; then report "plain Kestrel" "$server_pid"
  else
    report primary "$server_pid"
    # shellcheck disable=SC2046
    report workers $(echo "$pids" | cut -d' ' -f2-)
  fi
} | tee "$out/top-$(echo "$system" | tr -c 'A-Za-z0-9_=.\n-' _).md"
