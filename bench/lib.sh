# Shared by the benchmarks: wrk, the demo build, the Node reference app, starting and stopping one server by pid,
# reading wrk's output.
# Sourced, not run. The caller sets: out (results directory), port, workers; scheme=https serves TLS (the caller
# passes the certificate as Kestrel__Certificates__Default__* settings).

ensure_wrk() {
  if ! command -v wrk >/dev/null; then
    echo "installing wrk (Debian package)" >&2
    if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null
    else sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null; fi
  fi
}

# Builds the demo and runs it from a private copy (bench/results/app), so that a build or a test run in the same
# checkout during a benchmark does not swap the binary under it.
build_demo() {
  dotnet build samples/SeedDemo -c Release -nologo -v quiet >/dev/null
  rm -rf bench/results/app && mkdir -p bench/results && cp -r samples/SeedDemo/bin/Release/net10.0 bench/results/app
  app=bench/results/app/SeedDemo.dll
}

# bench_setup NAME [--quick]: $runs (3, or 1 with --quick), wrk, the demo build, and bench/results/NAME as $out.
bench_setup() {
  runs=${RUNS:-3}
  if [ "${2:-}" = "--quick" ]; then runs=1; fi
  ensure_wrk
  build_demo
  out=bench/results/$1
  mkdir -p "$out"
}

# tls_setup NAME PORT: what the https benchmarks share: wrk and h2load, the demo build, bench/results/NAME as $out,
# $url on 127.0.0.1:PORT over https, and an RSA-2048 certificate made here, given to every server through $tls
# (Kestrel:Certificates:Default as PEM files).
tls_setup() {
  ensure_wrk
  command -v h2load >/dev/null || bash .ci/setup
  build_demo
  out=bench/results/$1
  mkdir -p "$out"
  port=$2
  workers=$(nproc)
  scheme=https
  url="https://127.0.0.1:$port/hello"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$out/key.pem" -out "$out/cert.pem" 2>/dev/null
  tls=(Kestrel__Certificates__Default__Path="$PWD/$out/cert.pem" Kestrel__Certificates__Default__KeyPath="$PWD/$out/key.pem")
}

# bursts FILE COUNT: COUNT bursts of 64 new TLS connections of one request each (full handshakes: h2load never resumes
# a session), h2load's output appended to FILE; a burst whose connection goes quiet for 10 s ends.
bursts() {
  for _ in $(seq 1 "$2"); do h2load -t1 -c64 -n64 -m1 --connection-inactivity-timeout=10 "$url" >>"$1"; done
}

# tls_warm_up BURSTS: untimed warm-up of a server just started, so every worker's JIT reaches its optimised code before
# anything is measured: resumed handshakes (wrk, 2 s), then BURSTS bursts of full ones. Each worker compiles its own,
# so a cold cluster pays this once per worker (bench/tls-cpu.sh).
tls_warm_up() {
  wrk -t1 -c32 -d2s -H "Connection: close" "$url" >/dev/null
  bursts /dev/null "$1"
}

# dotnet-cluster published with native AOT (the standalone primary, `lean` below), once per benchmark run, on first use.
lean_built=
build_lean_primary() {
  [ -z "$lean_built" ] || return 0
  echo "publishing dotnet-cluster with native AOT (bench/results/cli)" >&2
  dotnet publish src/ProcessCluster.Cli -c Release -r linux-x64 -p:PublishAot=true -nologo -v quiet \
    --artifacts-path bench/results/cli-build -o bench/results/cli >/dev/null
  lean_built=1
}

# The demo published as native AOT (bench/results/aot/SeedDemo), ReadyToRun (bench/results/r2r/SeedDemo.dll) or
# self-contained, trimmed, composite ReadyToRun (bench/results/composite/SeedDemo: the framework and the app compiled
# ahead as one version bubble, so the framework's generics over its own types need no JIT, and trimmed to what the app
# uses; still the JIT runtime), the `aot`, `r2r` and `composite` systems below, once per benchmark run, on first use.
# The AOT and composite publishes take minutes.
published_demos=
publish_demo() { # aot|r2r|composite
  case " $published_demos " in *" $1 "*) return 0 ;; esac
  echo "publishing the demo as $1 (bench/results/$1)" >&2
  local flags
  case $1 in
    aot) flags=(-p:PublishAot=true) ;;
    r2r) flags=(-p:PublishReadyToRun=true --self-contained false) ;;
    composite) flags=(-p:PublishReadyToRun=true -p:PublishReadyToRunComposite=true -p:PublishTrimmed=true --self-contained true) ;;
  esac
  dotnet publish samples/SeedDemo -c Release -r linux-x64 "${flags[@]}" -nologo -v quiet \
    --artifacts-path "bench/results/$1-build" -o "bench/results/$1" >/dev/null
  published_demos+=" $1"
}

# prepare_systems SYSTEM...: publishes what these systems run (lean, handover, aot, r2r, composite) before any clock starts.
prepare_systems() {
  local system
  for system in "$@"; do
    case ${system%%+*} in lean | handover) build_lean_primary ;; aot | r2r | composite) publish_demo "${system%%+*}" ;; esac
  done
}

# record METRIC VALUE: a line of $out/runs.tsv for the caller's $system and $run.
record() { printf '%s\t%s\t%s\t%s\n' "$system" "$run" "$1" "$2" >>"$out/runs.tsv"; }

# each_system_run FUNCTION: $runs runs of every system in $systems, each run starting one system later (so no system
# always follows the same one), with $system, $run and $tag set for FUNCTION; $out/runs.tsv starts empty.
each_system_run() {
  local i
  : >"$out/runs.tsv"
  for run in $(seq 1 "$runs"); do
    for i in $(seq 0 $((${#systems[@]} - 1))); do
      system=${systems[$(((i + run - 1) % ${#systems[@]}))]}
      tag=$(echo "$system" | tr -c 'A-Za-z0-9_=.\n-' _)-$run
      echo "run $run: $system" >&2
      "$1"
    done
  done
}

server_pid=
server_kind=
pm2_home=
pm2=bench/node/node_modules/.bin/pm2

# The Node reference app (bench/node: Express, under Node's cluster module or PM2), installed from its lock file.
ensure_node_app() {
  command -v node >/dev/null || { echo "node is needed for the Node and PM2 rows" >&2; return 1; }
  if [ ! -x "$pm2" ] || ! cmp -s bench/node/package-lock.json bench/node/node_modules/.package-lock.json 2>/dev/null; then
    echo "installing bench/node (npm ci)" >&2
    (cd bench/node && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
}

# pm2 with the benchmark's private PM2_HOME; bounded, it talks to a daemon.
pm2_cmd() { PM2_HOME="$pm2_home" timeout 60 "$pm2" "$@"; }

stop_server() {
  if [ -n "$server_pid" ]; then
    local children
    children=$(cat /proc/"$server_pid"/task/*/children 2>/dev/null || true)
    if [ "$server_kind" = pm2 ]; then
      pm2_cmd kill >/dev/null 2>&1 || true
    else
      kill -TERM "$server_pid" 2>/dev/null || true
    fi
    for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" $children 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
  fi
  if [ -n "$pm2_home" ]; then rm -rf "$pm2_home"; pm2_home=; fi
}

# launch_server MODE LOG [VAR=value ...]: starts a server in the background on 127.0.0.1:$port and sets server_pid
# (the primary: for PM2 its daemon), without waiting. MODE is RoundRobin, Shared, ReusePort or plain (the demo; plain is
# Cluster:Enabled=false), plain-reuseport ($workers plain processes sharing the port), lean (the demo's workers, RoundRobin, under `dotnet-cluster run` published with native
# AOT), aot, r2r and composite (the demo, RoundRobin, published as native AOT, ReadyToRun or self-contained trimmed
# composite ReadyToRun), node (bench/node under Node's
# cluster module, one worker per CPU) or pm2 (bench/node in PM2
# cluster mode, -i $workers). workers=auto leaves the demo's count to the autoscaler.
launch_server() {
  local mode=$1 log=$2 env=()
  shift 2
  case $mode in
    node)
      server_kind=node
      env "$@" PORT=$port node bench/node/cluster.js >"$log" 2>&1 &
      server_pid=$! ;;
    pm2)
      server_kind=pm2
      pm2_home=$(mktemp -d)
      env "$@" PORT=$port PM2_HOME="$pm2_home" timeout 60 "$pm2" start bench/node/app.js -i "$workers" --name ref >"$log" 2>&1
      server_pid=$(cat "$pm2_home/pm2.pid") ;;
    *)
      server_kind=dotnet
      local command=(dotnet "$app") arg
      # APP_COMMAND runs another build of the demo as the primary (e.g. a native AOT SeedDemo executable); BENCH_APP=path/SeedDemo.dll
      # among a system's settings does the same for one system: an A/B of a code change in one run.
      [ -z "${APP_COMMAND:-}" ] || read -ra command <<<"$APP_COMMAND"
      for arg in "$@"; do [ "${arg%%=*}" != BENCH_APP ] || command=(dotnet "${arg#*=}"); done
      case $mode in
        plain) env=(Cluster__Enabled=false) ;;
        # $workers plain copies on one port (the demo's ReusePort setting), children of a shell that stops them on
        # SIGTERM: what $workers .NET processes cost by themselves, beside the modes that run $workers workers.
        plain-reuseport)
          env=(Cluster__Enabled=false ReusePort=true)
          command=(bash -c 'for _ in $(seq 1 "$0"); do "$@" & done; trap "kill -TERM \$(jobs -p); wait" TERM; wait' "$workers" "${command[@]}") ;;
        lean) build_lean_primary; command=(bench/results/cli/dotnet-cluster run -- dotnet "$app"); env=(Cluster__Scheduling=RoundRobin) ;;
        # The app's own (in-app) primary handing over in place to the native dotnet-cluster (Cluster:LeanPrimaryProgram).
        handover) build_lean_primary; env=(Cluster__Scheduling=RoundRobin Cluster__LeanPrimary=true Cluster__LeanPrimaryProgram="$PWD/bench/results/cli/dotnet-cluster") ;;
        aot) publish_demo aot; command=(bench/results/aot/SeedDemo); env=(Cluster__Scheduling=RoundRobin) ;;
        r2r) publish_demo r2r; command=(dotnet bench/results/r2r/SeedDemo.dll); env=(Cluster__Scheduling=RoundRobin) ;;
        composite) publish_demo composite; command=(bench/results/composite/SeedDemo); env=(Cluster__Scheduling=RoundRobin) ;;
        *) env=(Cluster__Scheduling="$mode") ;;
      esac
      case $mode in plain*) ;; *) [ "$workers" = auto ] || env+=(Cluster__Workers="$workers") ;; esac
      env "${env[@]}" "$@" ${BENCH_ENV:-} PORT=$port ASPNETCORE_URLS="${scheme:-http}://127.0.0.1:$port" \
        Logging__LogLevel__Default=Warning Logging__LogLevel__ProcessCluster=Information "${command[@]}" >"$log" 2>&1 &
      server_pid=$! ;;
  esac
}

# launch_system SYSTEM LOG: launch_server for a system as the benchmarks name it, MODE optionally followed by
# +VAR=value environment (RoundRobin+DOTNET_gcServer=0).
launch_system() {
  local spec=$1 log=$2 mode extra=()
  mode=${spec%%+*}
  [ "$mode" = "$spec" ] || IFS=+ read -r -a extra <<<"${spec#*+}"
  launch_server "$mode" "$log" "${extra[@]}"
}

# wait_ready MODE: until every worker answers (distinct pids on new connections; one for plain or workers=auto).
wait_ready() {
  local want=$([ "$1" = plain ] || [ "$workers" = auto ] && echo 1 || echo "$workers")
  for _ in $(seq 1 300); do
    local seen
    seen=$(for _ in $(seq 1 20); do curl -sk -m 1 -H "Connection: close" "${scheme:-http}://127.0.0.1:$port/hello"; echo; done | sort -u | grep -c hello || true)
    [ "$seen" -ge "$want" ] && return 0
    sleep 0.1
  done
  echo "server $1 did not become ready" >&2; return 1
}

# start_server MODE LOG [VAR=value ...]: launch_server, then wait_ready.
start_server() {
  launch_server "$@" && wait_ready "$1"
}

# The primary's live children (its workers).
worker_pids() { cat /proc/"$server_pid"/task/*/children 2>/dev/null | tr ' ' '\n' | grep . || true; }

# A percentile of wrk --latency (50, 75, 90 or 99) in ms, whatever unit it printed.
percentile_ms() { awk -v p="$2%" '$1 == p { v=$2; if (v ~ /us$/) { sub(/us/,"",v); v/=1000 } else if (v ~ /ms$/) { sub(/ms/,"",v) } else if (v ~ /s$/) { sub(/s/,"",v); v*=1000 } printf "%.2f", v }' "$1"; }
p99_ms() { percentile_ms "$1" 99; }
rps() { awk '/^Requests\/sec/ { printf "%.0f", $2 }' "$1"; }
requests() { awk '/requests in/ { print $1 }' "$1"; }
# Socket errors (connect + read + write + timeout) plus non-2xx answers.
errors() { awk '/Socket errors/ { gsub(/,/,""); s=$4+$6+$8+$10 } /Non-2xx/ { n+=$5 } END { print s+n }' "$1"; }
# Requests lost on a connection that was open: read errors and timeouts plus non-2xx answers.
lost() { awk '/Socket errors/ { gsub(/,/,""); s=$6+$10 } /Non-2xx/ { n+=$5 } END { print s+n }' "$1"; }
# Connections nobody took: wrk's connect and write errors (a refused non-blocking connect fails on the first write).
refused() { awk '/Socket errors/ { gsub(/,/,""); s=$4+$8 } END { print s+0 }' "$1"; }

median() { sort -n | awk '{ a[NR]=$1 } END { if (NR==0) print "-"; else if (NR%2) print a[(NR+1)/2]; else printf "%.2f", (a[NR/2]+a[NR/2+1])/2 }'; }
# value MODE SCENARIO COLUMN: the median of one column of $out/runs.tsv over the runs of that mode and scenario.
value() { awk -F'\t' -v m="$1" -v s="$2" -v c="$3" '$1==m && $2==s { print $c }' "$out/runs.tsv" | median; }
# spread MODE SCENARIO COLUMN: "median (min-max)" of that column over the runs.
spread() {
  local values
  values=$(awk -F'\t' -v m="$1" -v s="$2" -v c="$3" '$1==m && $2==s { print $c }' "$out/runs.tsv" | sort -n)
  echo "$(echo "$values" | median) ($(echo "$values" | head -1)-$(echo "$values" | tail -1))"
}

# Resident memory of a process in MiB (VmRSS), or nothing once it is gone.
rss_mib() { awk '/^VmRSS:/ { printf "%.1f", $2/1024 }' /proc/"$1"/status 2>/dev/null || true; }
