# Shared by the benchmarks: wrk, the demo build, starting and stopping one demo server by pid, reading wrk's output.
# Sourced, not run. The caller sets: out (results directory), port, workers.

ensure_wrk() {
  if ! command -v wrk >/dev/null; then
    echo "installing wrk (Debian package)" >&2
    if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null
    else sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null; fi
  fi
}

build_demo() {
  dotnet build samples/SeedDemo -c Release -nologo -v quiet >/dev/null
  app=samples/SeedDemo/bin/Release/net10.0/SeedDemo.dll
}

# bench_setup NAME [--quick]: $runs (3, or 1 with --quick), wrk, the demo build, and bench/results/NAME as $out.
bench_setup() {
  runs=3
  if [ "${2:-}" = "--quick" ]; then runs=1; fi
  ensure_wrk
  build_demo
  out=bench/results/$1
  mkdir -p "$out"
}

server_pid=

stop_server() {
  if [ -n "$server_pid" ]; then
    local children
    children=$(cat /proc/"$server_pid"/task/*/children 2>/dev/null || true)
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" $children 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
  fi
}

# start_server MODE LOG [VAR=value ...]: MODE is RoundRobin, Shared or plain (Cluster:Enabled=false); workers=auto
# leaves the count to the autoscaler (ready once one worker answers).
start_server() {
  local mode=$1 log=$2 env=()
  shift 2
  case $mode in
    plain) env=(Cluster__Enabled=false) ;;
    *) env=(Cluster__Scheduling="$mode"); [ "$workers" = auto ] || env+=(Cluster__Workers="$workers") ;;
  esac
  env "${env[@]}" "$@" ${BENCH_ENV:-} PORT=$port Logging__LogLevel__Default=Warning Logging__LogLevel__ProcessCluster=Information \
    dotnet "$app" >"$log" 2>&1 &
  server_pid=$!
  # Ready when every worker answers: distinct pids on new connections (one pid for plain).
  local want=$([ "$mode" = plain ] || [ "$workers" = auto ] && echo 1 || echo "$workers")
  for _ in $(seq 1 300); do
    local seen
    seen=$(for _ in $(seq 1 20); do curl -s -m 1 -H "Connection: close" "http://127.0.0.1:$port/hello"; echo; done | sort -u | grep -c hello || true)
    [ "$seen" -ge "$want" ] && return 0
    sleep 0.1
  done
  echo "server $mode did not become ready" >&2; return 1
}

# The primary's live children (its workers).
worker_pids() { cat /proc/"$server_pid"/task/*/children 2>/dev/null | tr ' ' '\n' | grep . || true; }

# wrk's p99 in ms, whatever unit it printed.
p99_ms() { awk '/^ +99%/ { v=$2; if (v ~ /us$/) { sub(/us/,"",v); v/=1000 } else if (v ~ /ms$/) { sub(/ms/,"",v) } else if (v ~ /s$/) { sub(/s/,"",v); v*=1000 } printf "%.2f", v }' "$1"; }
rps() { awk '/^Requests\/sec/ { printf "%.0f", $2 }' "$1"; }
requests() { awk '/requests in/ { print $1 }' "$1"; }
# Socket errors (connect + read + write + timeout) plus non-2xx answers.
errors() { awk '/Socket errors/ { gsub(/,/,""); s=$4+$6+$8+$10 } /Non-2xx/ { n+=$5 } END { print s+n }' "$1"; }
# Requests lost on a connection that was open: read errors and timeouts plus non-2xx answers.
lost() { awk '/Socket errors/ { gsub(/,/,""); s=$6+$10 } /Non-2xx/ { n+=$5 } END { print s+n }' "$1"; }
# Connections nobody took: wrk's connect and write errors (a refused non-blocking connect fails on the first write).
refused() { awk '/Socket errors/ { gsub(/,/,""); s=$4+$8 } END { print s+0 }' "$1"; }

median() { sort -n | awk '{ a[NR]=$1 } END { if (NR==0) print "-"; else if (NR%2) print a[(NR+1)/2]; else printf "%.2f", (a[NR/2]+a[NR/2+1])/2 }'; }
