#!/usr/bin/env bash
# Builds the libFuzzer harnesses of fuzz/ (build-fuzz/, PNEUMO_FUZZ=ON, clang++-19 with ASan and
# UBSan), writes their seed corpus, runs each for SECONDS and reports per harness: executions,
# executions per second, coverage (edges) and features, and findings (crash-, leak-, timeout-,
# oom- files under build-fuzz/findings/<harness>/). Exits 1 on any finding.
#   scripts/fuzz.sh                    every harness for 60 s
#   scripts/fuzz.sh 300 dicom json_body  those two for 5 minutes each
#   FUZZ_JOBS=2 scripts/fuzz.sh 30     two harnesses at a time (each is one process)
# The corpus each run grows is kept in build-fuzz/corpus/<harness>/ for the next run; nothing
# under build-fuzz/ is committed. To replay a finding: build-fuzz/fuzz/<harness>_fuzzer FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: SECONDS must be a positive integer" >&2; exit 2; }
build=build-fuzz
rss_mb=${FUZZ_RSS_MB:-2048}  # per process; an input that needs more is an oom- finding
timeout_s=${FUZZ_TIMEOUT_S:-10}  # per input; slower is a timeout- finding
jobs=${FUZZ_JOBS:-1}

command -v clang++-19 >/dev/null || { echo "fuzz: clang++-19 not found (scripts/setup.sh installs it)" >&2; exit 1; }
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
start=$(date +%s)
cmake -S . -B "$build" -G Ninja -DPNEUMO_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-19 \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" >/dev/null
nice -n 19 cmake --build "$build" -j"$(nproc)" >/dev/null
echo "fuzz: built $build in $(( $(date +%s) - start )) s"

mapfile -t all <"$build/fuzzers.txt"
harnesses=("$@")
((${#harnesses[@]})) || harnesses=("${all[@]}")
for h in "${harnesses[@]}"; do
  [ -x "$build/fuzz/${h}_fuzzer" ] || { echo "fuzz: no harness '$h' (have: ${all[*]})" >&2; exit 2; }
done

rm -rf "$build/seeds" && "$build/fuzz/make_seeds" "$build/seeds" >/dev/null
mkdir -p "$build/logs"
# The model card and config harnesses write their input to a file under $TMPDIR: keep it here.
export TMPDIR=$PWD/$build/tmp
rm -rf "$TMPDIR" && mkdir -p "$TMPDIR"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
symbolizer=$(command -v llvm-symbolizer-19 || command -v llvm-symbolizer || true)
[ -n "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH="$symbolizer"

run_one() {
  local h=$1 malloc_mb=$rss_mb
  # DCMTK allocates each value at the length its header declares (up to 4 GiB) before reading it.
  # pneumo refuses impossible lengths first (image/dicom_lengths.h), but not every encoding DCMTK
  # recovers from; what is left is one untouched (virtual) allocation, so these two harnesses allow
  # single allocations up to 4 GiB and -rss_limit_mb still catches memory really used.
  case $h in dicom|image_decode) malloc_mb=4200 ;; esac
  mkdir -p "$build/corpus/$h" "$build/findings/$h"
  # The seeds are read but not written to; new inputs go to the corpus folder (the first).
  nice -n 19 "$build/fuzz/${h}_fuzzer" -max_total_time="$seconds" -rss_limit_mb="$rss_mb" \
    -malloc_limit_mb="$malloc_mb" -timeout="$timeout_s" -print_final_stats=1 -close_fd_mask=1 \
    -artifact_prefix="$build/findings/$h/" "$build/corpus/$h" "$build/seeds/$h" \
    >"$build/logs/$h.log" 2>&1 || true
}
running=0
for h in "${harnesses[@]}"; do
  run_one "$h" &
  running=$((running + 1))
  if ((running >= jobs)); then wait -n || true; running=$((running - 1)); fi
done
wait

# The last value of "NAME: N" in a log ("" when the harness never printed it).
stat_of() { { grep -aoE "$1" "$2" || true; } | awk '{print $2}' | tail -1; }
status=0
printf '%-16s %12s %9s %7s %8s %9s\n' harness executions exec/s cov ft findings
for h in "${harnesses[@]}"; do
  log=$build/logs/$h.log
  execs=$(stat_of 'stat::number_of_executed_units:[[:space:]]+[0-9]+' "$log")
  rate=$(stat_of 'stat::average_exec_per_sec:[[:space:]]+[0-9]+' "$log")
  cov=$(stat_of 'cov: [0-9]+' "$log")
  ft=$(stat_of 'ft: [0-9]+' "$log")
  findings=$(find "$build/findings/$h" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  printf '%-16s %12s %9s %7s %8s %9s\n' "$h" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$findings"
  if ((findings > 0)) || [ -z "$execs" ]; then
    status=1
    grep -a -m1 -E 'ERROR: |FUZZ_CHECK failed|runtime error' "$log" | sed "s|^|fuzz: $h: |" >&2 || true
    find "$build/findings/$h" -type f | sed "s|^|fuzz: $h: finding |" >&2
  fi
done
((status == 0)) && echo "fuzz: no findings (${seconds} s a harness)" || echo "fuzz: findings above; logs in $build/logs/" >&2
exit "$status"
