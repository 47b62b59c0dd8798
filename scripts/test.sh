#!/usr/bin/env bash
# Sets up (see setup.sh), then runs the whole test suite: unit, integration and end-to-end.
# Tests that read real X-rays use ../shared/data/chest_xray and say so when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Formatting is part of the test: an unformatted C++ file fails the run before any test does.
scripts/lint.sh --format
# So is clang-tidy (.clang-tidy) on the 49 translation units that do not include torch (410 s on
# the shared 2-core dev machine at load ~4; see scripts/lint.sh).
scripts/lint.sh --tidy
if [ ! -d ../shared/data/chest_xray/train ]; then
  echo "test: ../shared/data/chest_xray/train not found: the real-image tests will report SKIPPED"
fi
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
