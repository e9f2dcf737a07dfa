#!/usr/bin/env bash
# Where a new TLS connection's CPU goes: the seed demo over https (one RSA-2048 certificate, made here, given to every
# server as Kestrel:Certificates:Default) as ProcessCluster RoundRobin, Shared and one plain Kestrel process
# (Cluster:Enabled=false), interleaved. For each server, the CPU time (utime + stime from /proc/PID/stat) of the
# primary and of the workers over a fixed number of connections, divided by the connections served:
#
#   full     full handshakes: $BURSTS bursts of `h2load -t1 -c64 -n64 -m1` (h2load never resumes a session)
#   resumed  clients that offer their last session: `wrk -t1 -c32 -d5s -H "Connection: close"`
#   again    the full handshakes once more, on servers warmed by both (is the difference warm-up, paid per process?)
#
# and, after them, what the processes spend with no traffic ($IDLE s, default 5; heartbeats, load reports, timers).
#
#   bash bench/tls-cpu.sh            3 runs (about 4 minutes on a quiet machine)
#   RUNS=1 BURSTS=20 bash bench/tls-cpu.sh
#
# Prints a markdown table of medians (min-max) in microseconds of CPU per connection; raw figures go to
# bench/results/tls-cpu/. Every server is started here and stopped by pid; every load run ends by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-3}
bursts=${BURSTS:-50}
idle=${IDLE:-5}

source bench/lib.sh
tls_setup tls-cpu 38213
trap stop_server EXIT

# ticks PID: the process's CPU time so far (user + system) in clock ticks.
ticks() { awk '{ print $14 + $15 }' /proc/"$1"/stat; }
# cpu_now: "primary_ticks workers_ticks" (for plain, the one process and 0).
cpu_now() {
  local w=0 pid
  for pid in $(worker_pids); do w=$((w + $(ticks "$pid"))); done
  echo "$(ticks "$server_pid") $w"
}

modes=(RoundRobin Shared plain)
scenarios=(full resumed again)
hz=$(getconf CLK_TCK)
: >"$out/runs.tsv"
for run in $(seq 1 "$runs"); do
  for mode in "${modes[@]}"; do
    start_server "$mode" "$out/server-$mode.log" "${tls[@]}"
    # Less than bench/tls.sh's, so that the first full handshakes show what is left of the warm-up.
    tls_warm_up 10
    for scenario in "${scenarios[@]}" idle; do
      file="$out/$scenario-$mode-$run.txt"
      read -r p0 w0 < <(cpu_now)
      case $scenario in
        full|again) : >"$file"; bursts "$file" "$bursts"; connections=$(awk '/^requests:/ { s += $8 } END { print s+0 }' "$file") ;;
        resumed) wrk -t1 -c32 -d5s -H "Connection: close" "$url" >"$file"; connections=$(requests "$file") ;;
        idle) sleep "$idle"; connections=0 ;;
      esac
      read -r p1 w1 < <(cpu_now)
      # Per connection: microseconds of CPU in the primary, the workers, both. Idle: milliseconds of CPU per second.
      awk -v m="$mode" -v s="$scenario" -v r="$run" -v n="$connections" -v hz="$hz" -v p=$((p1 - p0)) -v w=$((w1 - w0)) -v t="$idle" \
        'BEGIN { f = n > 0 ? 1e6 / hz / n : 1e3 / hz / t; printf "%s\t%s\t%s\t%d\t%.0f\t%.0f\t%.0f\n", m, s, r, n, p * f, w * f, (p + w) * f }' >>"$out/runs.tsv"
    done
    stop_server
  done
done

{
  echo "| server | scenario | primary | workers | total |"
  echo "|---|---|---|---|---|"
  for scenario in "${scenarios[@]}" idle; do
    for mode in "${modes[@]}"; do
      name=$([ "$mode" = plain ] && echo "plain Kestrel, 1 process" || echo "ProcessCluster $mode, $workers workers")
      echo "| $name | $scenario | $(spread "$mode" "$scenario" 5) | $(spread "$mode" "$scenario" 6) | $(spread "$mode" "$scenario" 7) |"
    done
  done
  echo
  echo "µs of CPU per connection (idle: ms of CPU per second), median (min-max) of $runs runs; CPU time is utime + stime"
  echo "from /proc/PID/stat ($hz ticks/s). full and again: $bursts bursts of \`h2load -t1 -c64 -n64 -m1\`;"
  echo "resumed: \`wrk -t1 -c32 -d5s -H 'Connection: close'\`; idle: ${idle} s without traffic, after them."
  echo "$(nproc) cores; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); $(git describe --always --dirty)."
} | tee "$out/summary.md"
