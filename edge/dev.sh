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
exec wrangler dev "$@"
