#!/usr/bin/env bash
# Runs the C++ engine benchmark and its Python PyTorch twin side by side, alternating C++ then
# Python for a few rounds so that slow drift (thermal, other load) hits both alike, and prints a
# Markdown table of per-engine medians and C++/Python ratios. Builds nothing.
#
#   bench/run_engine_bench.sh                       # build/, pneumonet, 192 px, 2 threads, 3 rounds
#   bench/run_engine_bench.sh build-release --arch resnet50 --input-size 224 --rounds 5
#   bench/run_engine_bench.sh --arch tiny --input-size 64 -- --train-steps 1 --repeats 2   # smoke
#
# Arguments after "--" go to both benchmarks unchanged (--train-batch, --train-steps, --repeats).
# Raw JSON lines (one per run) go to bench/results/engine-<UTC date and time>.jsonl, or under
# --results-dir; the file appears only when every run succeeded.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly repo_root
readonly python=/usr/bin/python3  # Debian's, with python3-torch; the python3 on PATH may lack torch

usage() {
  sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
  echo "options: [BUILD_DIR] [--arch A] [--input-size N] [--threads N] [--rounds N] [--results-dir DIR] [-- BENCH_ARGS...]"
}

die() {
  echo "run_engine_bench: $*" >&2
  exit 1
}

build_dir="$repo_root/build"
arch=pneumonet
input_size=192
threads=2
rounds=3
results_dir="$repo_root/bench/results"
extra=()
while (($#)); do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --arch) arch="${2:?--arch needs a value}"; shift 2 ;;
    --input-size) input_size="${2:?--input-size needs a value}"; shift 2 ;;
    --threads) threads="${2:?--threads needs a value}"; shift 2 ;;
    --rounds) rounds="${2:?--rounds needs a value}"; shift 2 ;;
    --results-dir) results_dir="${2:?--results-dir needs a value}"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -*) usage >&2; die "unknown option '$1'" ;;
    *) build_dir="$1"; shift ;;
  esac
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer, got '$rounds'"

readonly cpp_bench="$build_dir/bench/engine_bench"
readonly py_bench="$repo_root/bench/python_reference.py"
[[ -x "$cpp_bench" ]] ||
  die "no C++ benchmark at $cpp_bench; build it first: ninja -C $build_dir engine_bench"
[[ -x "$python" ]] || die "$python not found; install Debian's python3-torch"
"$python" -c 'import torch' 2>/dev/null ||
  die "$python cannot import torch; install Debian's python3-torch (apt-get install python3-torch)"

common=(--arch "$arch" --input-size "$input_size" --threads "$threads" "${extra[@]}")

# Other load on the CPU (a training run, a build) skews both engines, and OpenMP threads that wait
# on busy cores skew them by orders of magnitude. Say so; the numbers are still printed.
read -r load1 _ </proc/loadavg
if awk -v load="$load1" 'BEGIN { exit !(load > 0.5) }'; then
  echo "warning: 1-minute load average is $load1: the machine is not idle, numbers will be noisy" >&2
fi

mkdir -p "$results_dir"
results="$results_dir/engine-$(date -u +%Y-%m-%dT%H%M%SZ).jsonl"
partial="$results.tmp"
trap 'rm -f "$partial"' EXIT

run_one() {  # run_one LABEL COMMAND...: appends the command's JSON line to $partial
  local label="$1" line
  shift
  echo "round $round/$rounds: $label" >&2
  if ! line="$("$@")"; then
    die "$label failed: $*"
  fi
  line="$(tail -n 1 <<<"$line")"
  [[ "$line" == "{"* ]] || die "$label printed no JSON line: $line"
  echo "$line" >>"$partial"
}

for ((round = 1; round <= rounds; ++round)); do
  run_one "C++ (LibTorch)" "$cpp_bench" "${common[@]}"
  run_one "Python (PyTorch)" "$python" "$py_bench" "${common[@]}"
done
mv "$partial" "$results"

"$python" - "$results" <<'EOF'
import json, platform, statistics, sys

rows = [json.loads(line) for line in open(sys.argv[1])]
by_engine = {"cpp-libtorch": [], "python-pytorch": []}
for row in rows:
    by_engine[row["engine"]].append(row)
cpp, py = by_engine["cpp-libtorch"], by_engine["python-pytorch"]
if cpp[0]["parameters"] != py[0]["parameters"]:
    sys.exit(f"parameter counts differ: C++ {cpp[0]['parameters']}, Python {py[0]['parameters']}: "
             "bench/python_reference.py no longer matches src/model/networks.cc")

def median(runs, metric):
    return statistics.median(r["inference"][metric] if metric.startswith("batch") else r[metric] for r in runs)

try:
    cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
except (OSError, StopIteration):
    cpu = platform.processor() or "unknown CPU"
first = cpp[0]
print(f"{first['arch']} ({first['parameters']:,} parameters), {first['input_size']} px, "
      f"threads={first['threads']}, median of {len(cpp)} runs per engine; {cpu}\n")
print("| metric | C++ (LibTorch) | Python (PyTorch) | C++ advantage |")
print("|---|---:|---:|---:|")
for metric, label, unit, higher_is_better in [
        ("train_images_per_second", "training (batch 32)", "images/s", True),
        ("batch_1_ms", "inference latency, batch 1", "ms", False),
        ("batch_16_ms", "inference latency, batch 16", "ms", False)]:
    c, p = median(cpp, metric), median(py, metric)
    ratio = c / p if higher_is_better else p / c
    shown = (lambda v: f"{v:,.1f}") if higher_is_better else (lambda v: f"{v:.3f}" if v < 10 else f"{v:,.1f}")
    print(f"| {label} | {shown(c)} {unit} | {shown(p)} {unit} | {ratio:.2f}x |")
print("\nC++ advantage: images/s C++/Python, latency Python/C++; above 1.00x means C++ is faster.")
EOF
echo "raw results: $results" >&2
