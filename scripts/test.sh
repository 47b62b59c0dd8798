#!/usr/bin/env bash
# Sets up (see setup.sh), then runs the whole test suite: unit, integration and end-to-end.
# Tests that read real X-rays use ../shared/data/chest_xray and say so when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Formatting is part of the test: an unformatted C++ file fails the run before any test does.
scripts/lint.sh --format
# clang-tidy (scripts/lint.sh --tidy, .clang-tidy) is not part of the test yet: the DICOM and
# accounts code merged on 2026-12-02 has findings still to fix (issue 7). Run it by hand.
if [ ! -d ../shared/data/chest_xray/train ]; then
  echo "test: ../shared/data/chest_xray/train not found: the real-image tests will report SKIPPED"
fi
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
