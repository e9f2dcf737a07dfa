#!/usr/bin/env bash
# Deploys under load (issue 14): `wrk -t1 -c16 -d12s --latency` on the test app's /release (it answers the release it
# read at start), one deploy at t = 3 s, on a fresh 2-worker RoundRobin cluster started the way people deploy:
# releases/v1, releases/v2 and releases/bad (copies of the test app's build, each with its release.txt), current ->
# releases/v1, and the primary started as `dotnet ROOT/current/ProcessCluster.TestApp.dll` from current/.
#   swap     ln -sfn releases/v2 current, then SIGHUP
#   inplace  current/ProcessCluster.TestApp.dll and current/release.txt overwritten in place (as a publish over the
#            running directory), then SIGHUP
#   broken   ln -sfn releases/bad current (a release that throws at start), then SIGHUP: the reload aborts
#   upgrade  SIGUSR2 under `wrk -c32`: the primary re-executes itself in place (same pid, the workers kept)
#   pm2      for comparison: bench/node (Express) in PM2 cluster mode (-i 2) on /hello, `pm2 reload ref` at t = 3 s
# Reported per run: wrk's requests and errors (socket errors + non-2xx), the deploy's wall time (SIGHUP or SIGUSR2 to
# the primary's log line that ends it; for PM2 the `pm2 reload` command's own), wrk's worst latency, and what 20
# answers on new connections say afterwards (for upgrade also whether the primary's and the workers' pids stayed).
#   bash bench/deploy.sh            3 runs per scenario
#   bash bench/deploy.sh --quick    1 run each
# Every process is stopped by its pid; wrk ends by itself; all on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/lib.sh
runs=3
if [ "${1:-}" = "--quick" ]; then runs=1; fi
scenarios=${SCENARIOS:-swap inplace broken upgrade pm2}
ensure_wrk
[[ " $scenarios " != *" pm2 "* ]] || ensure_node_app
dotnet build tests/ProcessCluster.TestApp -c Release -nologo -v quiet >/dev/null
build=tests/ProcessCluster.TestApp/bin/Release/net10.0
out=$PWD/bench/results/deploy
mkdir -p "$out"
port=38311
workers=2
root=
trap 'stop_server; [ -z "$root" ] || rm -rf "$root"' EXIT

# release NAME CONTENT: releases/NAME, a copy of the build whose release file says CONTENT.
release() {
  mkdir -p "$root/releases/$1"
  cp -r "$build"/. "$root/releases/$1/"
  echo "$2" >"$root/releases/$1/release.txt"
}

deploy() { # scenario
  case $1 in
    swap) ln -sfn releases/v2 "$root/current" ;;
    inplace) # the app's dll rewritten in place (truncated, new bytes: a trailer the loader ignores), as a publish over it does
      local dll=$root/current/ProcessCluster.TestApp.dll
      { cat "$dll"; printf '\0build v1.1\0'; } >"$root/new.dll" && cat "$root/new.dll" >"$dll"
      echo v1.1 >"$root/current/release.txt" ;;
    broken) ln -sfn releases/bad "$root/current" ;;
  esac
}

run_one() { # scenario run
  local scenario=$1 run=$2 log=$out/$1-$2.log result=$out/$1-$2.wrk
  root=$(mktemp -d)
  release v1 v1
  release v2 v2
  release bad broken
  ln -sfn releases/v1 "$root/current"
  (cd "$root/current" && PWD=$root/current SEED_RELEASE_FILE=release.txt Cluster__Workers=$workers \
    Cluster__Scheduling=RoundRobin ASPNETCORE_URLS=http://127.0.0.1:$port Logging__LogLevel__Default=Warning \
    Logging__LogLevel__ProcessCluster=Information exec dotnet "$root/current/ProcessCluster.TestApp.dll" >"$log" 2>&1) &
  server_pid=$!
  server_kind=dotnet
  wait_ready RoundRobin

  local connections=16 signal=HUP ends="Rolling reload (finished|aborted)"
  if [ "$scenario" = upgrade ]; then connections=32 signal=USR2 ends="Upgraded in place|In-place upgrade not done"; fi
  local before
  before=$(worker_pids | sort | paste -sd,)
  wrk -t1 -c"$connections" -d12s --latency "http://127.0.0.1:$port/release" >"$result" &
  local wrk_pid=$!
  sleep 3
  deploy "$scenario"
  local start end
  start=$(date +%s%N)
  kill -"$signal" "$server_pid"
  for _ in $(seq 1 1200); do
    grep -qE "$ends" "$log" && break
    sleep 0.05
  done
  end=$(date +%s%N)
  wait "$wrk_pid"
  local answers
  answers=$(for _ in $(seq 1 20); do curl -s -m 5 -H "Connection: close" "http://127.0.0.1:$port/release" | awk '{ print $2 }'; echo; done | grep . | sort | uniq -c | awk '{ printf "%s%s×%s", sep, $1, $2; sep=" " }')
  local outcome
  outcome=$(grep -oE "$ends" "$log" | head -1 | awk '{ print $NF }')
  if [ "$scenario" = upgrade ]; then
    outcome="$([ "$outcome" = place ] && echo upgraded || echo not done), primary $(kill -0 "$server_pid" 2>/dev/null && echo kept || echo gone), workers $([ "$(worker_pids | sort | paste -sd,)" = "$before" ] && echo kept || echo changed)"
  fi
  local max
  max=$(awk '/^    Latency/ { v=$4; if (v ~ /us$/) { sub(/us/,"",v); v/=1000 } else if (v ~ /ms$/) { sub(/ms/,"",v) } else if (v ~ /s$/) { sub(/s/,"",v); v*=1000 } printf "%.1f", v }' "$result")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scenario" "$run" "$(requests "$result")" "$(errors "$result")" \
    "$(( (end - start) / 1000000 ))" "$max" "$outcome" "$answers" | tee -a "$out/runs.tsv"
  stop_server
  rm -rf "$root"
  root=
}

# PM2's reload of the Node reference app under the same wrk (-c16, 12 s, the reload at t = 3 s).
run_pm2() { # run
  local run=$1 log=$out/pm2-$1.log result=$out/pm2-$1.wrk
  start_server pm2 "$log"
  wrk -t1 -c16 -d12s --latency "http://127.0.0.1:$port/hello" >"$result" &
  local wrk_pid=$!
  sleep 3
  local start end outcome=reloaded
  start=$(date +%s%N)
  pm2_cmd reload ref >>"$log" 2>&1 || outcome=failed
  end=$(date +%s%N)
  wait "$wrk_pid"
  local max
  max=$(awk '/^    Latency/ { v=$4; if (v ~ /us$/) { sub(/us/,"",v); v/=1000 } else if (v ~ /ms$/) { sub(/ms/,"",v) } else if (v ~ /s$/) { sub(/s/,"",v); v*=1000 } printf "%.1f", v }' "$result")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' pm2 "$run" "$(requests "$result")" "$(errors "$result")" \
    "$(( (end - start) / 1000000 ))" "$max" "$outcome" "n/a (no release route)" | tee -a "$out/runs.tsv"
  stop_server
}

: >"$out/runs.tsv"
for run in $(seq 1 "$runs"); do
  for scenario in $scenarios; do
    if [ "$scenario" = pm2 ]; then run_pm2 "$run"; else run_one "$scenario" "$run"; fi
  done
done

col() { awk -F'\t' -v s="$1" -v c="$2" '$1==s { print $c }' "$out/runs.tsv"; }
{
  echo "| deploy | requests (each run) | errors (each run) | deploy wall time ms: median (each run) | worst latency ms: median (each run) | reload | answers afterwards (last run) |"
  echo "|---|---|---|---|---|---|---|"
  for scenario in $scenarios; do
    echo "| $scenario | $(col "$scenario" 3 | paste -sd' ') | $(col "$scenario" 4 | paste -sd' ') | $(col "$scenario" 5 | median) ($(col "$scenario" 5 | paste -sd' ')) | $(col "$scenario" 6 | median) ($(col "$scenario" 6 | paste -sd' ')) | $(col "$scenario" 7 | sort -u | paste -sd' ') | $(col "$scenario" 8 | tail -1) |"
  done
} | tee "$out/summary.md"
