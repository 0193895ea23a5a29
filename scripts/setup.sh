#!/usr/bin/env bash
# One-time machine setup, safe to run again: the software Vulkan driver, Chromium, pnpm, the dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Mesa >= 25 from bookworm-backports gives Dawn a full Vulkan adapter (lavapipe) on a machine without a GPU.
if ! dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | grep -qE '^(2[5-9]|[3-9][0-9])'; then
  src=/etc/apt/sources.list.d/debian.sources
  if [ -f "$src" ] && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list.d/ /etc/apt/sources.list; then
    mirror=$(awk '/^URIs:/ && $2 ~ /debian\/?$/ {print $2; exit}' "$src")
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "${mirror:-http://deb.debian.org/debian}" | as_root tee /etc/apt/sources.list.d/backports.sources >/dev/null
  elif [ ! -f "$src" ] && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    mirror=$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
    echo "deb ${mirror:-http://deb.debian.org/debian} bookworm-backports main" | as_root tee /etc/apt/sources.list.d/backports.list >/dev/null
  fi
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 libegl1 libgles2 >/dev/null
fi
# better-sqlite3 compiles from source against Node's own headers.
if ! command -v g++ >/dev/null || ! command -v make >/dev/null; then
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential python3 >/dev/null
fi

# Debian's Chromium drives the page's end-to-end test (playwright-core downloads no browser of its own).
if ! command -v chromium >/dev/null; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# Debian's PyTorch: a test loads our weights file into a PyTorch model of the same layers (docs/design.md's promise).
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-torch >/dev/null
fi

if [ "$(pnpm --version 2>/dev/null)" != "12.4.2" ]; then
  as_root npm install -g --silent pnpm@12.4.2
fi

export npm_config_nodedir=${npm_config_nodedir:-/usr}
pnpm install
echo "setup: done (mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers), pnpm $(pnpm --version))"
