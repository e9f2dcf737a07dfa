#!/usr/bin/env bash
# The two figures of issue 15 that compare.sh measures once per start, several times per start and side by side:
# the primary's RSS when idle (and what it maps), and respawn (SIGKILL a serving worker → a new pid answers).
#
#   bash bench/lean.sh                          3 runs of RoundRobin and node, 5 respawns per start
#   SYSTEMS="RoundRobin RoundRobin+DOTNET_TieredPGO=0 node" RUNS=5 RESPAWNS=5 PORT=38474 bash bench/lean.sh
#                                               systems as in compare.sh (SYSTEM+VAR=value runs it with that environment)
#   SYSTEMS="RoundRobin r2r composite aot node" RUNS=3 RESPAWNS=5 bash bench/lean.sh
#                                               issue 15's respawn: JIT, ReadyToRun, composite ReadyToRun and native
#                                               AOT demos beside Node's cluster (the AOT and composite publishes take
#                                               minutes)
#   SYSTEMS="RoundRobin RoundRobin+Cluster__LeanPrimary=true handover node" RUNS=3 RESPAWNS=3 bash bench/lean.sh
#                                               the in-app primary beside its lean hand-over (Cluster:LeanPrimary), the
#                                               hand-over to the native dotnet-cluster (handover) and Node's
# Per start: cold start (launch → every worker answers), 3 s idle, the primary's VmRSS/RssAnon/RssFile/RssShmem and the
# number of .dll/.so files it maps, then RESPAWNS respawns one after the other (each waits until both workers answer),
# each with the CPU time (utime+stime) its replacement had spent when it first answered, which a loaded machine
# stretches far less than the wall time.
# Writes bench/results/lean/{runs.tsv,summary.md} and each primary's /proc/PID/maps file list.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_setup lean "$@"
rm -f "$out"/*
ensure_node_app
port=${PORT:-38473} # PORT: another port, when another benchmark holds this one
workers=$(nproc)
respawns=${RESPAWNS:-5}
trap stop_server EXIT
read -r -a systems <<<"${SYSTEMS:-RoundRobin node}"
prepare_systems "${systems[@]}"
status_kib() { awk -v k="$2:" '$1 == k { printf "%.1f", $2/1024 }' /proc/"$1"/status; }

measure_system() {
  local mode=${system%%+*} since ms replacement k
  # Another server on the port would answer for this one.
  ! ss -Htln "sport = :$port" | grep -q . || { echo "port $port is taken: PORT=another" >&2; exit 1; }
  since=$(date +%s%3N)
  launch_system "$system" "$out/server-$tag.log"
  record cold_start_ms "$(node bench/node/tools.js ready "$port" "$workers" "$since" 60000)"
  wait_ready "$mode"
  sleep 3
  kill -0 "$server_pid" || { echo "$system exited: $out/server-$tag.log" >&2; exit 1; }
  for k in VmRSS RssAnon RssFile RssShmem; do record "$k" "$(status_kib "$server_pid" "$k")"; done
  awk '$6 ~ /\.(dll|so[.0-9]*)$/ { print $6 }' /proc/"$server_pid"/maps | sort -u >"$out/maps-$tag.txt"
  record mapped_files "$(wc -l <"$out/maps-$tag.txt")"
  for _ in $(seq 1 "$respawns"); do
    read -r ms _ replacement < <(node bench/node/tools.js respawn "$port" "$server_pid" 10000 || echo "-")
    record respawn_ms "$ms"
    # The CPU the replacement spent until its first answer: what the machine's load does not stretch.
    [ -z "${replacement:-}" ] || record respawn_cpu_ms "$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15) * 1000 / hz }' /proc/"$replacement"/stat)"
    wait_ready "$mode"
    sleep 0.5
  done
  stop_server
}
each_system_run measure_system

values() { awk -F'\t' -v s="$1" -v m="$2" '$1 == s && $3 == m && $4 != "-" { print $4 }' "$out/runs.tsv"; }
spread() {
  local v
  v=$(values "$1" "$2")
  [ -n "$v" ] || { echo -; return; }
  echo "$(echo "$v" | median) ($(echo "$v" | sort -n | head -1)–$(echo "$v" | sort -n | tail -1))"
}
{
  echo "| system | cold start ms | respawn ms (n) | replacement's CPU until its first answer, ms | primary VmRSS idle MiB | RssAnon | RssFile | RssShmem | files mapped |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for system in "${systems[@]}"; do
    echo "| $system | $(spread "$system" cold_start_ms) | $(spread "$system" respawn_ms) ($(values "$system" respawn_ms | wc -l)) | $(spread "$system" respawn_cpu_ms) | $(spread "$system" VmRSS) | $(spread "$system" RssAnon) | $(spread "$system" RssFile) | $(spread "$system" RssShmem) | $(spread "$system" mapped_files) |"
  done
  echo
  echo "$runs runs, $respawns respawns per start, $workers workers; $(date -u +%Y-%m-%dT%H:%MZ), $(git describe --always --dirty), load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/summary.md"
cat "$out/summary.md"
