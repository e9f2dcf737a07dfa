#!/usr/bin/env bash
# TLS side by side with plain Kestrel: the seed demo over https (one RSA-2048 certificate, made here, given to every
# server as Kestrel:Certificates:Default) as ProcessCluster RoundRobin, Shared and one plain Kestrel process
# (Cluster:Enabled=false), interleaved in one run so the machine's noise hits all alike.
#
#   bash bench/tls.sh            3 runs of 10 s per case (about 5 minutes)
#   bash bench/tls.sh --quick    1 run of 3 s per case
#   RUNS=5 bash bench/tls.sh     more runs, for a noisy machine
#
# Per server, against /hello on 127.0.0.1:
#   full     new TLS connections per second, each a full handshake: h2load bursts of 64 clients making one HTTP/2
#            request each (h2load never resumes a session), back to back for the duration
#   resumed  new connections per second from clients that resume their TLS session, as browsers do:
#            wrk -t1 -c32 -H "Connection: close" (wrk offers its last session on each reconnect)
#   h2       HTTP/2 requests per second on long-lived connections: h2load -c 16 -m 10 -D duration
# Prints a markdown table of medians (min-max) and ratios to plain Kestrel; raw output goes to bench/results/tls/.
# Every server is started here and stopped by pid; every load run ends by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-3}
duration=10
if [ "${1:-}" = "--quick" ]; then runs=1; duration=3; fi

source bench/lib.sh
tls_setup tls 38211
trap stop_server EXIT

# full_handshakes FILE: bursts of 64 one-request connections until the duration is over; prints connections/s.
full_handshakes() {
  local file=$1 start end done=0 n
  : >"$file"
  start=$(date +%s.%N)
  end=$(awk -v s="$start" -v d="$duration" 'BEGIN { printf "%.3f", s + d }')
  while awk -v now="$(date +%s.%N)" -v e="$end" 'BEGIN { exit !(now < e) }'; do
    bursts "$file" 1
  done
  n=$(awk '/^requests:/ { s += $8 } END { print s+0 }' "$file")
  awk -v n="$n" -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.0f", n / (e - s) }'
}

# Failed requests in h2load's output (every burst summed).
h2_failed() { awk '/^requests:/ { s += $10 } END { print s+0 }' "$1"; }

modes=(RoundRobin Shared plain)
scenarios=(full resumed h2)
: >"$out/runs.tsv"
for run in $(seq 1 "$runs"); do
  for mode in "${modes[@]}"; do
    start_server "$mode" "$out/server-$mode.log" "${tls[@]}"
    tls_warm_up 20
    h2load -c16 -m10 -D 2 "$url" >/dev/null
    for scenario in "${scenarios[@]}"; do
      file="$out/$scenario-$mode-$run.txt"
      case $scenario in
        full) rate=$(full_handshakes "$file"); failed=$(h2_failed "$file") ;;
        resumed) wrk -t1 -c32 -d"${duration}s" -H "Connection: close" "$url" >"$file"; rate=$(rps "$file"); failed=$(errors "$file") ;;
        h2) h2load -c16 -m10 -D "$duration" "$url" >"$file"
            rate=$(awk '/^finished in/ { gsub(/,/, ""); printf "%.0f", $4 }' "$file"); failed=$(h2_failed "$file") ;;
      esac
      printf '%s\t%s\t%s\t%s\t%s\n' "$mode" "$scenario" "$run" "$rate" "$failed" >>"$out/runs.tsv"
    done
    stop_server
  done
done

# ratio MODE SCENARIO: "median (min-max)" of the rate over plain's, run by run.
ratio() {
  awk -F'\t' -v m="$1" -v s="$2" '$2==s && $1=="plain" { p[$3]=$4 } $2==s && $1==m { r[$3]=$4 }
    END { for (k in r) printf "%.2f\n", r[k] / p[k] }' "$out/runs.tsv" | sort -n >"$out/ratio.tmp"
  echo "$(median <"$out/ratio.tmp") ($(head -1 "$out/ratio.tmp")-$(tail -1 "$out/ratio.tmp"))"
  rm -f "$out/ratio.tmp"
}

{
  echo "| server | full handshakes /s | vs plain | resumed sessions, connections /s | vs plain | HTTP/2 req/s | vs plain | failed |"
  echo "|---|---|---|---|---|---|---|---|"
  for mode in "${modes[@]}"; do
    failed=$(awk -F'\t' -v m="$mode" '$1==m { s+=$5 } END { print s+0 }' "$out/runs.tsv")
    name=$([ "$mode" = plain ] && echo "plain Kestrel, 1 process" || echo "ProcessCluster $mode, $workers workers")
    echo "| $name | $(spread "$mode" full 4) | $(ratio "$mode" full) | $(spread "$mode" resumed 4) | $(ratio "$mode" resumed) | $(spread "$mode" h2 4) | $(ratio "$mode" h2) | $failed |"
  done
  echo
  echo "Median (min-max) of $runs runs of ${duration} s each, interleaved; ratios to plain run by run. https://127.0.0.1 /hello, RSA-2048 certificate;"
  echo "full: bursts of \`h2load -t1 -c64 -n64 -m1\`; resumed: \`wrk -t1 -c32 -H 'Connection: close'\`; h2: \`h2load -c16 -m10 -D $duration\`."
  echo "$(nproc) cores; $(dotnet --version) SDK; $(h2load --version | head -1); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2); $(openssl version | cut -d' ' -f1-2)."
} | tee "$out/summary.md"
