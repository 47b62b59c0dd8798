#!/usr/bin/env bash
# Sets up (see setup.sh), then runs pneumo's main job on its embedded defaults: the server with
# the shipped model (models/default), history in SQLite under ./pneumo-data, the web UI and API
# on http://127.0.0.1:8080/. Extra arguments go to `pneumo serve` (e.g. --listen 0.0.0.0:8080).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec build/pneumo serve "$@"
