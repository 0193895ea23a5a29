#!/usr/bin/env bash
# `pnpm dev [--port P] [wrangler dev flags]`: the edge API on wrangler dev, with D1 and R2 on disk (.wrangler/state).
set -euo pipefail
cd "$(dirname "$0")"
# Offline: no telemetry, no error reports, no request to Cloudflare for request.cf data.
export WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false WRANGLER_HIDE_BANNER=true CLOUDFLARE_CF_FETCH_ENABLED=false
# Migrations go to the same local state as the server: pass --persist-to on to them.
persist=()
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --persist-to) persist=(--persist-to "${args[i + 1]}") ;;
    --persist-to=*) persist=("${args[i]}") ;;
  esac
done
# CI=true: apply without the confirmation prompt wrangler shows in a terminal.
CI=true wrangler d1 migrations apply DB --local "${persist[@]}"
# wrangler 4.86 runs the [build] command once more as its file watcher gets ready, then reloads the Worker
# (cloudflare/workers-sdk#7934, fixed after the last release that runs on Node 20). On a loaded machine that reload can
# race the first start for the port ("Address already in use") and wrangler exits: start it once more. A stop (a
# signal), a clean exit, or an exit after start-up is passed on as it is.
for attempt in 1 2; do
  started=$SECONDS
  status=0
  wrangler dev "$@" || status=$?
  if ((status == 0 || status > 128 || SECONDS - started > 120 || attempt == 2)); then exit "$status"; fi
  echo "dev.sh: wrangler dev exited with status $status while starting; starting it once more" >&2
  sleep 2
done
