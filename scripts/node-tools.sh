#!/usr/bin/env bash
# Installs the third-party JavaScript parsers that some tests use to check our
# output (ical.js for calendar feeds) into .tools/node. Without node or the
# npm registry those tests skip with a message; nothing else needs this.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
command -v npm >/dev/null || { echo "node-tools: npm not found; tests that need ical.js will skip" >&2; exit 0; }
[ -d "$root/.tools/node/node_modules/ical.js" ] && exit 0
timeout 120 npm install --silent --no-audit --no-fund --prefix "$root/.tools/node" ical.js@2 >/dev/null 2>&1 \
	|| echo "node-tools: could not install ical.js; tests that need it will skip" >&2
