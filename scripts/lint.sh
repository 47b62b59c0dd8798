#!/usr/bin/env bash
# The checks that keep the tree tidy:
#   scripts/lint.sh --format    every C++ file matches .clang-format (what the test command runs)
#   scripts/lint.sh --fix       reformat every C++ file in place
#   scripts/lint.sh --tidy      clang-tidy (.clang-tidy) on the translation units that do not
#                               include torch (torch headers make it minutes a file), from
#                               build/compile_commands.json
#   scripts/lint.sh             --format, then --tidy
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}
files() { git ls-files -- 'src/*.h' 'src/*.cc' 'apps/*.h' 'apps/*.cc' 'tests/*.h' 'tests/*.cc' 'bench/*.cc' 'fuzz/*.cc'; }
case "$mode" in
  --fix) files | xargs clang-format -i; exit 0 ;;
  --format|all)
    if ! out=$(files | xargs clang-format --dry-run -Werror 2>&1); then
      echo "$out" | grep -E '^[^ ].*: (error|warning):' | cut -d: -f1 | sort -u | sed 's/^/not formatted: /'
      echo "lint: run scripts/lint.sh --fix (clang-format, .clang-format)" >&2
      exit 1
    fi
    echo "lint: every C++ file is formatted"
    [ "$mode" = all ] || exit 0 ;;
esac
if [ "$mode" = --tidy ] || [ "$mode" = all ]; then
  [ -f build/compile_commands.json ] || { echo "lint: configure build/ first (scripts/setup.sh)" >&2; exit 1; }
  # clang-tidy 19: clang 14 (Debian's default) lacks the C++23 that libstdc++'s <expected> needs.
  if ! command -v run-clang-tidy-19 >/dev/null || ! command -v clang-tidy-19 >/dev/null; then
    echo "lint: clang-tidy-19 not found (scripts/setup.sh installs it)" >&2; exit 1
  fi
  # Translation units whose includes reach torch are left out; the rest are checked, in parallel.
  mapfile -t units < <(git ls-files -- 'src/*.cc' 'apps/*.cc' | while read -r f; do
    grep -qE '#include [<"](torch/|model/networks.h)' "$f" || echo "$PWD/$f"; done)
  # run-clang-tidy takes regular expressions: each unit's path, anchored, dots escaped.
  mapfile -t patterns < <(printf '%s\n' "${units[@]}" | sed 's/[.]/\\./g; s/^/^/; s/$/$/')
  start=$(date +%s)
  if ! out=$(run-clang-tidy-19 -clang-tidy-binary "$(command -v clang-tidy-19)" -quiet -p build \
                -j"${TIDY_JOBS:-$(nproc)}" "${patterns[@]}" 2>&1); then
    echo "$out" | grep -vE '^(Running clang-tidy|\[[0-9]+/[0-9]+\]|[0-9]+ warnings? (and [0-9]+ errors? )?generated|Suppressed [0-9]+ warnings|Use -header-filter|$)' >&2
    echo "lint: clang-tidy (.clang-tidy) found the problems above" >&2
    exit 1
  fi
  echo "lint: clang-tidy passes on ${#units[@]} translation units ($(( $(date +%s) - start )) s)"
fi
