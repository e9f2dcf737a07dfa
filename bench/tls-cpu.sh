#!/usr/bin/env bash
# Where a new TLS connection's CPU goes: the seed demo over https (one RSA-2048 certificate, made here, given to every
# server as Kestrel:Certificates:Default) as ProcessCluster RoundRobin, Shared and one plain Kestrel process
# (Cluster:Enabled=false), interleaved. For each server, the CPU time (utime + stime from /proc/PID/stat) of the
# primary and of the workers over a fixed number of connections, divided by the connections served:
#
#   full     full handshakes: $BURSTS bursts of `h2load -t1 -c64 -n64 -m1` (h2load never resumes a session)
#   resumed  clients that offer their last session: `wrk -t1 -c32 -d5s -H "Connection: close"`
#
# and, before both, what the processes spend idle ($IDLE s, default 5), which the last figure takes off pro rata.
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
ensure_wrk
command -v h2load >/dev/null || bash .ci/setup
build_demo
out=bench/results/tls-cpu
mkdir -p "$out"
port=38213
workers=$(nproc)
scheme=https
url="https://127.0.0.1:$port/hello"
trap stop_server EXIT

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$out/key.pem" -out "$out/cert.pem" 2>/dev/null
tls=(Kestrel__Certificates__Default__Path="$PWD/$out/cert.pem" Kestrel__Certificates__Default__KeyPath="$PWD/$out/key.pem")

# ticks PID: the process's CPU time so far (user + system) in clock ticks.
ticks() { awk '{ print $14 + $15 }' /proc/"$1"/stat; }
# cpu_now: "primary_ticks workers_ticks" (for plain, the one process and 0).
cpu_now() {
  local w=0 pid
  for pid in $(worker_pids); do w=$((w + $(ticks "$pid"))); done
  echo "$(ticks "$server_pid") $w"
}

modes=(RoundRobin Shared plain)
scenarios=(full resumed)
hz=$(getconf CLK_TCK)
: >"$out/runs.tsv"
for run in $(seq 1 "$runs"); do
  for mode in "${modes[@]}"; do
    start_server "$mode" "$out/server-$mode.log" "${tls[@]}"
    # Untimed warm-up: every worker's JIT reaches its optimised handshake code before anything is measured.
    wrk -t1 -c32 -d2s -H "Connection: close" "$url" >/dev/null
    for _ in $(seq 1 10); do h2load -t1 -c64 -n64 -m1 "$url" >/dev/null; done
    # What the processes spend with no traffic (heartbeats, load reports, timers), to take off below.
    read -r p0 w0 < <(cpu_now); t0=$(date +%s.%N)
    sleep "$idle"
    read -r p1 w1 < <(cpu_now); t1=$(date +%s.%N)
    idle_rate=$(awk -v t="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" -v c=$((p1 + w1 - p0 - w0)) 'BEGIN { print c / t }')
    for scenario in "${scenarios[@]}"; do
      file="$out/$scenario-$mode-$run.txt"
      read -r p0 w0 < <(cpu_now); t0=$(date +%s.%N)
      case $scenario in
        full) : >"$file"
              for _ in $(seq 1 "$bursts"); do h2load -t1 -c64 -n64 -m1 "$url" >>"$file"; done
              connections=$(awk '/^requests:/ { s += $8 } END { print s+0 }' "$file") ;;
        resumed) wrk -t1 -c32 -d5s -H "Connection: close" "$url" >"$file"; connections=$(requests "$file") ;;
      esac
      read -r p1 w1 < <(cpu_now); t1=$(date +%s.%N)
      # Microseconds of CPU per connection: primary, workers, both, and both less the idle rate over the same time.
      awk -v m="$mode" -v s="$scenario" -v r="$run" -v n="$connections" -v hz="$hz" -v p=$((p1 - p0)) -v w=$((w1 - w0)) \
        -v idle="$idle_rate" -v t0="$t0" -v t1="$t1" \
        'BEGIN { f = 1e6 / hz / n; printf "%s\t%s\t%s\t%d\t%.0f\t%.0f\t%.0f\t%.0f\t%.1f\n", m, s, r, n, p * f, w * f, (p + w) * f, (p + w - idle * (t1 - t0)) * f, idle * 1000 / hz }' >>"$out/runs.tsv"
    done
    stop_server
  done
done

# spread MODE SCENARIO COLUMN: "median (min-max)" of that column over the runs.
spread() {
  local values
  values=$(awk -F'\t' -v m="$1" -v s="$2" -v c="$3" '$1==m && $2==s { print $c }' "$out/runs.tsv" | sort -n)
  echo "$(echo "$values" | median) ($(echo "$values" | head -1)-$(echo "$values" | tail -1))"
}

{
  echo "| server | scenario | primary µs/conn | workers µs/conn | total µs/conn | total less idle µs/conn | idle CPU ms/s |"
  echo "|---|---|---|---|---|---|---|"
  for scenario in "${scenarios[@]}"; do
    for mode in "${modes[@]}"; do
      name=$([ "$mode" = plain ] && echo "plain Kestrel, 1 process" || echo "ProcessCluster $mode, $workers workers")
      echo "| $name | $scenario | $(spread "$mode" "$scenario" 5) | $(spread "$mode" "$scenario" 6) | $(spread "$mode" "$scenario" 7) | $(spread "$mode" "$scenario" 8) | $(spread "$mode" "$scenario" 9) |"
    done
  done
  echo
  echo "Median (min-max) of $runs runs; CPU time (utime + stime, /proc/PID/stat, $hz ticks/s) over connections served;"
  echo "idle: all the server's processes over ${idle} s with no traffic, after the warm-up."
  echo "full: $bursts bursts of \`h2load -t1 -c64 -n64 -m1\`; resumed: \`wrk -t1 -c32 -d5s -H 'Connection: close'\`."
  echo "$(nproc) cores; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); $(git describe --always --dirty)."
} | tee "$out/summary.md"
