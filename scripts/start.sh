#!/usr/bin/env bash
# Sets up (see setup.sh), then runs pneumo's main job on its embedded defaults: trains the
# compact network on ../shared/data/chest_xray (by-patient validation split, seed 42) and writes
# the model with its card to models/trained. The shipped model stays in models/default.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec build/pneumo train --data "${PNEUMO_DATA:-../shared/data/chest_xray}" --out models/trained "$@"
