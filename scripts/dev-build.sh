#!/usr/bin/env bash
# Incremental native build for development, safe to run from several shells at once: one build
# at a time (flock), configure first so that new .cc files are picked up, then make.
set -euo pipefail
cd "$(dirname "$0")/.."
exec flock /tmp/convkit-build.lock bash -c 'npx node-gyp configure >/dev/null && npx node-gyp build -j 2 2>&1 | grep -Ev "^gyp info" || true; test -f build/Release/convkit.node'
