#!/usr/bin/env bash
# System packages and npm peers the test suite talks to: a real Mosquitto broker, headless
# Chromium for the dashboard tests, node-opcua as a foreign OPC UA peer. Idempotent: installs
# only what is missing. Without root it says what is missing, and those tests skip.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)  # bench/api.py load generator
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need_apt+=(postgresql)  # store tests

if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup-system: installing ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "setup-system: not root; missing ${need_apt[*]} (tests that need them will skip)"
  fi
fi

if [ -f tools/node/package.json ] && [ ! -d tools/node/node_modules ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "setup-system: npm ci in tools/node (node-opcua interop peer)"
    if [ -f tools/node/package-lock.json ]; then
      npm ci --prefix tools/node --no-audit --no-fund --loglevel=error
    else
      npm install --prefix tools/node --no-audit --no-fund --loglevel=error
    fi
  fi
fi
echo "setup-system: ok"
