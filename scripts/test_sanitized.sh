#!/usr/bin/env bash
# The whole test suite again, built with AddressSanitizer and UndefinedBehaviorSanitizer
# (PNEUMO_SANITIZE=ON) in build-asan/. Run it after scripts/test.sh, which installs what the tests
# need; .ci/run runs both. Only pneumo's code is instrumented (LibTorch, OpenCV... are Debian's);
# tests/sanitizers/lsan.supp silences what is reported inside those libraries, nothing else.
#   scripts/test_sanitized.sh            configure, build, run every test
#   scripts/test_sanitized.sh -R Batcher extra arguments go to ctest
#   SANITIZE_TESTS="core_test store_test" scripts/test_sanitized.sh   only those test binaries
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-asan
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# -O1 and line tables only: what the sanitizers need for reasonably fast code and symbolised
# stacks, and quicker to compile than -O2 -g.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPNEUMO_SANITIZE=ON \
      "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" \
      -DPNEUMO_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null

# ASan and LSan reports go to files under $logs as well as failing the process that made them: a
# server that a test kills, or whose exit status or stderr it ignores, still leaves its report
# there, and the run fails on any. UBSan ignores log_path when it runs inside ASan: its reports go
# to stderr and, with -fno-sanitize-recover and halt_on_error, end the process, failing the test
# that drove it. gtest_discover_tests runs the test binaries during the build, so all of this is
# set before building.
logs=$PWD/$build/sanitizer-logs
rm -rf "$logs" && mkdir -p "$logs"
export ASAN_OPTIONS="log_path=$logs/asan:detect_leaks=1:check_initialization_order=1:strict_init_order=1:abort_on_error=0"
export LSAN_OPTIONS="suppressions=$PWD/tests/sanitizers/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

start=$(date +%s)
status=0
if [ -n "${SANITIZE_TESTS:-}" ]; then
  # Only these test binaries (names of test targets), built and run directly.
  read -ra targets <<<"$SANITIZE_TESTS"
  cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"
  echo "test_sanitized: built ${targets[*]} in $(( $(date +%s) - start )) s"
  start=$(date +%s)
  for target in "${targets[@]}"; do
    binary=$(find "$build/tests" -type f -name "$target" -perm -u+x | head -1)
    [ -n "$binary" ] || { echo "test_sanitized: no binary for $target" >&2; status=1; continue; }
    "$binary" --gtest_brief=1 "$@" || status=1
  done
  echo "test_sanitized: the tests took $(( $(date +%s) - start )) s"
else
  cmake --build "$build" -j"$(nproc)"
  echo "test_sanitized: built $build in $(( $(date +%s) - start )) s"
  scripts/fetch_ood_negatives.sh "$build/ood-negatives"
  start=$(date +%s)
  # Tests labelled uninstrumented run none of this tree's code (configuration checks, the package
  # built in its own tree): the same run as in build/, so they are not repeated here.
  ctest --test-dir "$build" --output-on-failure -j"$(nproc)" -LE uninstrumented "$@" || status=$?
  echo "test_sanitized: ctest took $(( $(date +%s) - start )) s"
fi
if compgen -G "$logs/*" >/dev/null; then
  for f in "$logs"/*; do echo "== $f"; cat "$f"; done
  echo "test_sanitized: the sanitizers reported the problems above" >&2
  status=1
fi
exit "$status"
