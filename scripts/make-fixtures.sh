#!/usr/bin/env bash
# Regenerates every PyTorch fixture in test/fixtures with Debian's python3-torch
# (apt-get install -y python3-torch). Each family has its own script in scripts/fixtures/.
set -euo pipefail
cd "$(dirname "$0")/.."
for f in scripts/fixtures/*.py; do
  echo "== $f"
  /usr/bin/python3 "$f"
done
