#!/usr/bin/env bash
# What a worker that stops reading its channel costs the other one (issue 11, bug 3): a 2-worker RoundRobin demo
# cluster under `wrk -t1 -c32 -H 'Connection: close' /hello` (a new connection per request, so every request goes
# through the primary's dispatcher); one worker is SIGSTOPped for 5 s (like a long GC pause), then SIGCONTed.
#
#   bash bench/slow-worker.sh
#
# Prints the other worker's rate in the stop window as a ratio to its rate in a calm window just before (goal: >= 0.9).
# A worker's rate is the growth of its `dispatched` count in /api/status (Cluster:AdminUrl) over the window: with a
# connection per request, the connections the primary handed to it are its requests, counted the moment they go.
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/lib.sh
bench_setup slow-worker "$@"
port=38321
admin_port=38322
workers=2
window=5
victim=
wrk_pid=
cleanup() {
  [ -z "$victim" ] || kill -CONT "$victim" 2>/dev/null || true
  [ -z "$wrk_pid" ] || kill "$wrk_pid" 2>/dev/null || true
  stop_server
}
trap cleanup EXIT

# "seconds pid:dispatched pid:dispatched ...", at one moment.
snapshot() {
  local status
  status=$(curl -s -m 2 "http://127.0.0.1:$admin_port/api/status")
  echo "$(date +%s.%N) $(jq -r '[.workers[] | "\(.pid):\(.dispatched)"] | join(" ")' <<<"$status")"
}

# rate PID FROM TO: requests per second of one worker between two snapshots.
rate() {
  awk -v pid="$1" -v a="$2" -v b="$3" 'BEGIN {
    n = split(a, x, " "); for (i = 2; i <= n; i++) { split(x[i], kv, ":"); if (kv[1] == pid) from = kv[2] }
    n = split(b, y, " "); for (i = 2; i <= n; i++) { split(y[i], kv, ":"); if (kv[1] == pid) to = kv[2] }
    printf "%.0f", (to - from) / (y[1] - x[1]) }'
}

start_server RoundRobin "$out/server.log" Cluster__AdminUrl="http://127.0.0.1:$admin_port"
read -r victim other < <(worker_pids | head -2 | paste -sd' ')
wrk -t1 -c32 -d$((3 * window + 4))s -H 'Connection: close' "http://127.0.0.1:$port/hello" >"$out/wrk.txt" &
wrk_pid=$!
sleep 2
calm_start=$(snapshot); sleep "$window"; calm_end=$(snapshot)
kill -STOP "$victim"
stop_start=$(snapshot); sleep "$window"; stop_end=$(snapshot)
kill -CONT "$victim"
paused=$victim victim=
wait "$wrk_pid" || true
wrk_pid=

printf '%s\n' "paused $paused other $other" "$calm_start" "$calm_end" "$stop_start" "$stop_end" >"$out/snapshots.txt"
calm=$(rate "$other" "$calm_start" "$calm_end")
stopped=$(rate "$other" "$stop_start" "$stop_end")
{
  echo "| the other worker's req/s, calm | with its peer SIGSTOPped ${window} s | ratio | wrk req/s (whole run) | wrk errors |"
  echo "|---|---|---|---|---|"
  echo "| $calm | $stopped | $(awk -v a="$stopped" -v b="$calm" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }') | $(rps "$out/wrk.txt") | $(errors "$out/wrk.txt") |"
  echo
  echo "wrk -t1 -c32 -H 'Connection: close' /hello on 127.0.0.1, 2 RoundRobin workers, ${window} s windows; rates from /api/status"
  echo "(dispatched); $(nproc) cores; $(git rev-parse --short HEAD); $(dotnet --version) SDK."
} | tee "$out/summary.md"
