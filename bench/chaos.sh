#!/usr/bin/env bash
# What the cluster loses when things go wrong under load, next to the Node cluster / PM2 anchors
# (shared/research/anchor-benchmarks-node-pm2.md, sections (d) and (g)).
#
#   bash bench/chaos.sh            3 runs per scenario and mode (about 10 minutes)
#   bash bench/chaos.sh --quick    1 run each
#   SCENARIOS="kill reload" MODES=RoundRobin bash bench/chaos.sh --quick   a subset
#
# Every scenario runs `wrk -t1 -c32 -d20s --latency /hello` (keep-alive) against a fresh 2-worker demo cluster:
#   baseline  nothing happens
#   kill      SIGKILL a random worker at t = 1, 3, ..., 19 s (the anchors' "SIGKILL every 2 s")
#   reload    SIGHUP to the primary at t = 5 s: a rolling reload
#   recycle   Cluster:MaxRequests=40000: workers are recycled by request count during the run
#   sigterm   SIGTERM to the primary at t = 5 s (wrk runs 8 s): refused connections after the stop are expected,
#             and reported apart; resets and timeouts are lost requests
# For kill, the connections the victim held at the moment of the kill are counted (ss): with keep-alive, each one
# carries a request in flight or about to be, so that is what a kill can lose at most.
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/lib.sh
bench_setup chaos "$@"
port=38301
workers=2
trap stop_server EXIT

# Connections to the server's port held by one process (established).
held_by() { ss -tnpH state established "( sport = :$port )" 2>/dev/null | grep -c "pid=$1," || true; }

disturb() { # scenario file
  local scenario=$1 file=$2 kills=0 held=0
  case $scenario in
    kill)
      for t in $(seq 1 2 19); do
        sleep $([ "$t" = 1 ] && echo 1 || echo 2)
        local victim
        victim=$(worker_pids | shuf -n1)
        [ -n "$victim" ] || continue
        held=$((held + $(held_by "$victim")))
        kill -KILL "$victim" 2>/dev/null && kills=$((kills + 1))
      done ;;
    reload) sleep 5; kill -HUP "$server_pid" ;;
    sigterm) sleep 5; kill -TERM "$server_pid" ;;
  esac
  echo "$kills $held" >"$file.events"
}

read -r -a scenarios <<<"${SCENARIOS:-baseline kill reload recycle sigterm}"
read -r -a modes <<<"${MODES:-RoundRobin Shared}"
: >"$out/runs.tsv"
for run in $(seq 1 "$runs"); do
  for mode in "${modes[@]}"; do
    for scenario in "${scenarios[@]}"; do
      log="$out/server-$mode-$scenario-$run.log"
      extra=()
      [ "$scenario" = recycle ] && extra=(Cluster__MaxRequests=40000 Cluster__RecycleMinLifetime=00:00:02)
      start_server "$mode" "$log" "${extra[@]}"
      wrk -t1 -c32 -d2s "http://127.0.0.1:$port/hello" >/dev/null
      file="$out/wrk-$mode-$scenario-$run.txt"
      duration=$([ "$scenario" = sigterm ] && echo 8 || echo 20)
      disturb "$scenario" "$file" &
      disturber=$!
      wrk -t1 -c32 -d"${duration}s" --latency "http://127.0.0.1:$port/hello" >"$file" || true
      wait "$disturber"
      read -r kills held <"$file.events"
      replaced=$(grep -c "exited cleanly (reload)\|exited cleanly (recycled" "$log" || true)
      exit_code=-
      if [ "$scenario" = sigterm ]; then
        wait "$server_pid" && exit_code=0 || exit_code=$?
        server_pid=
      fi
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$scenario" "$run" "$(requests "$file")" "$(rps "$file")" \
        "$(lost "$file")" "$(refused "$file")" "$kills" "$held" "$replaced/$exit_code" >>"$out/runs.tsv"
      stop_server
    done
  done
done

{
  echo "| mode | scenario | requests | req/s | lost | refused | kills | lost per kill | connections the victim held, per kill | workers replaced / exit code |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for mode in "${modes[@]}"; do
    for scenario in "${scenarios[@]}"; do
      err=$(value "$mode" "$scenario" 6); kills=$(value "$mode" "$scenario" 8); held=$(value "$mode" "$scenario" 9)
      refused=$(value "$mode" "$scenario" 7)
      per_kill=$(awk -v e="$err" -v k="$kills" 'BEGIN { if (k > 0) printf "%.1f", e/k; else print "-" }')
      held_per_kill=$(awk -v h="$held" -v k="$kills" 'BEGIN { if (k > 0) printf "%.1f", h/k; else print "-" }')
      outcome=$(awk -F'\t' -v m="$mode" -v s="$scenario" '$1==m && $2==s { print $10 }' "$out/runs.tsv" | paste -sd, -)
      echo "| $mode | $scenario | $(value "$mode" "$scenario" 4) | $(value "$mode" "$scenario" 5) | $err | $refused | $kills | $per_kill | $held_per_kill | $outcome |"
    done
  done
  echo
  echo "wrk -t1 -c32 -d20s --latency /hello (sigterm: -d8s) on 127.0.0.1, 2 workers, median of $runs runs. Lost = wrk's read errors +"
  echo "timeouts + non-2xx (requests on an open connection that got no good answer); refused = connect + write errors (after a"
  echo "stop nobody listens: the expected outcome, counted once per wrk reconnect attempt);"
  echo "$(nproc) cores; $(dotnet --version) SDK; $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)."
} | tee "$out/summary.md"
