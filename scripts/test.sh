#!/usr/bin/env bash
# Sets up (see setup.sh), then runs the whole test suite: unit, integration and end-to-end.
# Tests that read real X-rays use ../shared/data/chest_xray and say so when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Formatting and clang-tidy are part of the test: an unformatted file or a finding fails the run
# before any test does (scripts/lint.sh: the format check, then clang-tidy on the translation
# units that do not include torch).
scripts/lint.sh
if [ ! -d ../shared/data/chest_xray/train ]; then
  echo "test: ../shared/data/chest_xray/train not found: the real-image tests will report SKIPPED"
fi
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
