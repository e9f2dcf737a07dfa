#!/usr/bin/env bash
# The worker command of bench/flood.sh: worker 1 is the flooder, any other (the second, the one a TTIN adds) is the
# demo app, so the cluster keeps serving while worker 1 floods. FLOOD_APP is the demo's dll, set by flood.sh on the
# primary and inherited by its workers.
set -euo pipefail
if [ "$PROCESSCLUSTER_WORKER_ID" = 1 ]; then
  exec python3 "$(dirname "$0")/flood-worker.py"
fi
exec dotnet "$FLOOD_APP"
