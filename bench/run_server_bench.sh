#!/usr/bin/env bash
# Load-tests pneumo serve and the Flask/gunicorn reference (bench/reference_server) with
# full-size X-ray JPEGs at 1, 8 and 32 concurrent clients, one server at a time, and prints a
# table of throughput, p50/p99 latency, ratios, the share of the model's raw batched forward
# throughput, and resident memory. Appends every measurement as a JSON line to
# bench/results/server_bench.jsonl.
#
#   bench/run_server_bench.sh                          # build/pneumo, 20 s per level, 5 s warm-up
#   bench/run_server_bench.sh --duration 30 --clients "1 8 32 64" -- --max-batch 32
#   bench/run_server_bench.sh --duration 3 --warmup 1 --clients "1 8"          # smoke test
#
# Arguments after "--" go to pneumo serve. Installs missing Debian packages (python3-flask,
# gunicorn, python3-pil, python3-numpy, python3-torch), builds load_client in --bench-build-dir
# (default build-bench; never in build/), needs BUILD_DIR/pneumo and BUILD_DIR/bench/engine_bench.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly repo_root
readonly python=/usr/bin/python3  # Debian's, with python3-torch; the python3 on PATH may lack it

usage() {
  sed -n '2,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
  cat <<'EOF'
options: [--build-dir DIR] [--bench-build-dir DIR] [--clients "1 8 32"] [--duration S] [--warmup S]
         [--images N] [--size PX] [--data DIR] [--port P] [--ref-port P] [--only pneumo|reference]
         [--results FILE] [--max-wait-idle S] [--ref-model DIR] [-- SERVE_ARGS...]
EOF
}

die() {
  echo "run_server_bench: $*" >&2
  exit 1
}

build_dir="$repo_root/build"
bench_build_dir="$repo_root/build-bench"
clients_list="1 8 32"
duration=20
warmup=5
image_count=16
ref_model=""
image_size=2000
data_dir="$repo_root/../shared/data/chest_xray/train"
port=18080
ref_port=18081
only=""
max_wait_idle=900
results="$repo_root/bench/results/server_bench.jsonl"
serve_extra=()
while (($#)); do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --build-dir) build_dir="${2:?}"; shift 2 ;;
    --bench-build-dir) bench_build_dir="${2:?}"; shift 2 ;;
    --clients) clients_list="${2:?}"; shift 2 ;;
    --duration) duration="${2:?}"; shift 2 ;;
    --warmup) warmup="${2:?}"; shift 2 ;;
    --images) image_count="${2:?}"; shift 2 ;;
    --size) image_size="${2:?}"; shift 2 ;;
    --data) data_dir="${2:?}"; shift 2 ;;
    --port) port="${2:?}"; shift 2 ;;
    --ref-port) ref_port="${2:?}"; shift 2 ;;
    --only) only="${2:?}"; shift 2 ;;
    --results) results="${2:?}"; shift 2 ;;
    --max-wait-idle) max_wait_idle="${2:?}"; shift 2 ;;
    --ref-model) ref_model="${2:?}"; shift 2 ;;
    --) shift; serve_extra=("$@"); break ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done
[[ -z "$only" || "$only" == pneumo || "$only" == reference ]] || die "--only takes pneumo or reference"
build_dir="$(cd "$build_dir" && pwd)" || die "no build directory $build_dir"
readonly pneumo="$build_dir/pneumo" engine_bench="$build_dir/bench/engine_bench"
readonly load_client="$bench_build_dir/bench/load_client"
bench_token=""  # pneumo's runs set it (accounts on)
# The reference serves one network the way the original system did (Flask cannot load an
# ensemble): --ref-model names it, by default the shipped model when that is a single network.
readonly model_dir="${ref_model:-$repo_root/models/default}"
cores="$(nproc)"
readonly cores

# --- packages and binaries -------------------------------------------------------------------
missing=()
for package in python3-flask gunicorn python3-pil python3-numpy python3-torch; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if ((${#missing[@]})); then
  echo "installing ${missing[*]}" >&2
  sudo_cmd=()
  ((EUID == 0)) || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[[ -x "$pneumo" ]] || die "no $pneumo; build it first (scripts/setup.sh)"
"$pneumo" serve --help >/dev/null 2>&1 || die "$pneumo has no working 'serve' subcommand"
[[ -x "$engine_bench" ]] || die "no $engine_bench; build it first: ninja -C $build_dir engine_bench"
if [[ ! -f "$bench_build_dir/build.ninja" ]]; then
  cmake -S "$repo_root" -B "$bench_build_dir" -G Ninja -DPNEUMO_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$bench_build_dir" --target load_client -j1 >/dev/null || die "load_client did not build"
[[ -d "$data_dir" ]] || die "no X-rays at $data_dir (--data)"

if pgrep -f 'cc1plus|ninja' >/dev/null; then
  echo "warning: a compiler or ninja is running: the numbers will be skewed" >&2
fi
read -r load1 _ </proc/loadavg
if awk -v load="$load1" 'BEGIN { exit !(load > 0.5) }'; then
  echo "warning: 1-minute load average is $load1: the machine is not idle, numbers will be noisy" >&2
fi

# --- scratch space and cleanup ---------------------------------------------------------------
tmp="$(mktemp -d /tmp/pneumo-server-bench.XXXXXX)"
server_pid=""
sampler_pid=""
watcher_pid=""
cleanup() {
  set +e  # a server that already died must not stop the clean-up
  [[ -n "$sampler_pid" ]] && kill "$sampler_pid" 2>/dev/null
  [[ -n "$watcher_pid" ]] && kill "$watcher_pid" 2>/dev/null
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

"$load_client" --make-images "$image_count" --size "$image_size" --out "$tmp/images" \
  --from "$data_dir" >"$tmp/images.json" || die "could not make the test images"
readonly probe_image="$tmp/images/xray-000.jpeg"

# --- helpers -----------------------------------------------------------------------------------
pids_of() {  # pids_of PID: the process and its children (gunicorn's workers)
  echo "$1"
  pgrep -P "$1" || true
}

sum_status_kb() {  # sum_status_kb FIELD PID: /proc/*/status FIELD in kB, summed over PID and children
  local field="$1" total=0 value pid
  for pid in $(pids_of "$2"); do
    value="$(awk -v f="$field:" '$1 == f { print $2 }' "/proc/$pid/status" 2>/dev/null || true)"
    total=$((total + ${value:-0}))
  done
  echo "$total"
}

cpu_ticks() {  # cpu_ticks PID: user + system clock ticks of PID and its children
  local total=0 ticks pid
  for pid in $(pids_of "$1"); do
    # Fields 14 and 15 after the ")" that closes the command name.
    ticks="$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 }' || true)"
    total=$((total + ${ticks:-0}))
  done
  echo "$total"
}

sample_rss() {  # sample_rss PID OUT: highest summed VmRSS (kB) of PID and its children, every 0.5 s
  local peak=0 now
  while kill -0 "$1" 2>/dev/null; do
    now="$(sum_status_kb VmRSS "$1")"
    ((now > peak)) && peak=$now && echo "$peak" >"$2"
    sleep 0.5
  done
}

cpu_busy_percent() {  # cpu_busy_percent: share of all cores busy over the next 2 seconds
  local a b
  read -r -a a < <(head -n 1 /proc/stat)
  sleep 2
  read -r -a b < <(head -n 1 /proc/stat)
  local total=0 idle i
  for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
  idle=$((b[4] - a[4] + b[5] - a[5]))
  echo $((total > 0 ? 100 * (total - idle) / total : 0))
}

# wait_quiet: waits (up to --max-wait-idle seconds) until no compiler runs and the machine uses
# under 25% of its cores (the idle servers and this script's samplers take about 15% of 2 cores):
# on a shared machine a build that starts mid-run would otherwise halve one server's numbers and
# not the other's.
wait_quiet() {
  local waited=0 busy
  while :; do
    busy="$(cpu_busy_percent)"
    if ((busy < 25)) && ! pgrep -f 'cc1plus|ninja' >/dev/null; then
      return 0
    fi
    if ((waited >= max_wait_idle)); then
      echo "   warning: the machine stayed busy ($busy% of the cores) for ${waited}s; measuring anyway" >&2
      return 0
    fi
    ((waited == 0)) && echo "   waiting for the machine to go quiet ($busy% busy)..." >&2
    sleep 8
    waited=$((waited + 10))
  done
}

watch_compilers() {  # watch_compilers FLAG_FILE: touches the file while a compiler runs
  while :; do
    pgrep -f 'cc1plus|ninja' >/dev/null && touch "$1"
    sleep 1
  done
}

wait_ready() {  # wait_ready URL PID
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}

# run_server NAME URL HEALTH_URL COMMAND...: starts the server, measures every client level,
# stops it; appends JSON lines to $tmp/runs.jsonl.
run_server() {
  local name="$1" url="$2" health="$3"
  shift 3
  echo "== $name: $*" >&2
  "$@" >"$tmp/$name.log" 2>&1 &
  server_pid=$!
  wait_ready "$health" "$server_pid" || { tail -n 20 "$tmp/$name.log" >&2; die "$name did not start"; }
  sleep 1  # let gunicorn's workers finish importing torch
  curl -fsS -F "file=@$probe_image" "$url" >"$tmp/$name.probe.json" || die "$name: the probe upload failed"
  local rss_idle_kb
  rss_idle_kb="$(sum_status_kb VmRSS "$server_pid")"
  echo 0 >"$tmp/$name.peak"
  sample_rss "$server_pid" "$tmp/$name.peak" &
  sampler_pid=$!
  local clients line ticks_before ticks_after disturbed
  for clients in $clients_list; do
    wait_quiet
    echo "   $clients clients: ${warmup}s warm-up + ${duration}s" >&2
    rm -f "$tmp/disturbed"
    watch_compilers "$tmp/disturbed" &
    watcher_pid=$!
    ticks_before="$(cpu_ticks "$server_pid")"
    line="$("$load_client" --url "$url" --clients "$clients" --duration "$duration" \
      --warmup "$warmup" --images "$tmp/images" ${bench_token:+--token "$bench_token"})" || die "$name at $clients clients: no successful request"
    ticks_after="$(cpu_ticks "$server_pid")"
    kill "$watcher_pid" 2>/dev/null || true
    wait "$watcher_pid" 2>/dev/null || true
    watcher_pid=""
    disturbed=false
    if [[ -e "$tmp/disturbed" ]]; then
      disturbed=true
      echo "   warning: a compiler ran during this measurement; it is marked disturbed" >&2
    fi
    "$python" - "$name" "$line" "$((ticks_after - ticks_before))" "$(getconf CLK_TCK)" "$disturbed" \
      <<'EOF' >>"$tmp/runs.jsonl"
import json, sys
name, line, ticks, hz = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
# server_cpu_s covers warm-up, window and drain: the server's user + system CPU seconds.
line.update(kind="load", server=name, server_cpu_s=ticks / hz, disturbed=sys.argv[5] == "true")
print(json.dumps(line, sort_keys=True))
EOF
  done
  local hwm_kb rss_end_kb
  hwm_kb="$(sum_status_kb VmHWM "$server_pid")"
  rss_end_kb="$(sum_status_kb VmRSS "$server_pid")"
  kill "$sampler_pid" 2>/dev/null || true
  wait "$sampler_pid" 2>/dev/null || true
  sampler_pid=""
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  "$python" - "$name" "$rss_idle_kb" "$(cat "$tmp/$name.peak")" "$hwm_kb" "$rss_end_kb" \
    "$tmp/$name.probe.json" "$*" <<'EOF' >>"$tmp/runs.jsonl"
import json, sys
name, idle, peak, hwm, end, probe, command = sys.argv[1:8]
probability = json.load(open(probe)).get("probability")
print(json.dumps({"kind": "memory", "server": name, "command": command,
                  "rss_idle_mb": int(idle) / 1024, "rss_peak_mb": int(peak) / 1024,
                  "vm_hwm_mb": int(hwm) / 1024, "rss_end_mb": int(end) / 1024,
                  "probe_probability": probability}, sort_keys=True))
EOF
}

# raw_forward: the model's batched forward throughput on all cores (no decoding, no HTTP), the
# ceiling a server on this machine cannot pass. Batch 16 is pneumo serve's default --max-batch.
raw_forward() {
  local input_size line
  wait_quiet
  input_size="$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["input"]["size"])' \
    "$model_dir/card.json")"
  line="$("$engine_bench" --arch "$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["architecture"])' "$model_dir/card.json")" \
    --input-size "$input_size" --threads "$cores" --train-steps 1 --repeats 30 | tail -n 1)"
  "$python" - "$line" <<'EOF' >>"$tmp/runs.jsonl"
import json, sys
line = json.loads(sys.argv[1])
ms = line["inference"]["batch_16_ms"]
print(json.dumps({"kind": "raw_forward", "batch": 16, "batch_ms": ms, "images_per_second": 16e3 / ms,
                  "threads": line["threads"], "input_size": line["input_size"], "arch": line["arch"]},
                 sort_keys=True))
EOF
}

# --- the runs ----------------------------------------------------------------------------------
echo "== raw forward throughput (engine_bench, batch 16, $cores threads)" >&2
raw_forward
if [[ "$only" != reference ]]; then
  # pneumo as shipped, accounts on: the load comes from an admin's API token (a token check per
  # request is part of what is measured).
  "$pneumo" user add bench --role admin --store "sqlite:$tmp/results.db" >/dev/null
  bench_token="$("$pneumo" token create bench --store "sqlite:$tmp/results.db" | tail -n 1)"
  run_server pneumo "http://127.0.0.1:$port/api/v1/predictions" "http://127.0.0.1:$port/healthz" \
    "$pneumo" serve --listen "127.0.0.1:$port" --store "sqlite:$tmp/results.db" "${serve_extra[@]}"
fi
bench_token=""  # the reference has no accounts
if [[ "$only" != pneumo ]]; then
  run_server reference "http://127.0.0.1:$ref_port/predict" "http://127.0.0.1:$ref_port/health" \
    env PNEUMO_REF_BIND="127.0.0.1:$ref_port" PNEUMO_MODEL="$model_dir" \
    "$python" -m gunicorn --chdir "$repo_root/bench/reference_server" \
    -c "$repo_root/bench/reference_server/gunicorn.conf.py" app:app
fi
echo "== raw forward throughput again" >&2
raw_forward

# --- report ------------------------------------------------------------------------------------
mkdir -p "$(dirname "$results")"
git_rev="$(git -C "$repo_root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
git -C "$repo_root" diff --quiet HEAD -- src apps 2>/dev/null || git_rev+="+uncommitted"
"$python" - "$tmp/runs.jsonl" "$results" "$tmp/images.json" "$cores" "$git_rev" \
  "$(date -u -r "$pneumo" +%Y-%m-%dT%H:%M:%SZ)" <<'EOF'
import datetime, json, platform, sys

runs_path, results_path, images_path, cores = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
git_rev, pneumo_built = sys.argv[5], sys.argv[6]
rows = [json.loads(line) for line in open(runs_path)]
images = json.load(open(images_path))
try:
    cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
except (OSError, StopIteration):
    cpu = platform.processor() or "unknown CPU"
stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
run_id = stamp
machine = {"cpu": cpu, "cores": cores, "gpu": None}
source = {"git": git_rev, "pneumo_built": pneumo_built}  # what was measured
images_made = {k: v for k, v in images.items() if k != "out"}  # the temp dir is gone by then
with open(results_path, "a") as out:
    for row in rows:
        out.write(json.dumps(dict(row, run=run_id, machine=machine, source=source,
                                  images_made=images_made),
                             sort_keys=True) + "\n")

raw = max(r["images_per_second"] for r in rows if r["kind"] == "raw_forward")
raws = [r["images_per_second"] for r in rows if r["kind"] == "raw_forward"]
load = {(r["server"], r["clients"]): r for r in rows if r["kind"] == "load"}
memory = {r["server"]: r for r in rows if r["kind"] == "memory"}
levels = sorted({c for _, c in load})

print(f"\n{images['made']} JPEGs {images['size']}x{images['size']} (mean {images['image_bytes_mean'] / 1024:.0f} KiB); "
      f"{cpu}, {cores} cores, no GPU; raw batched forward (batch 16, {cores} threads): "
      f"{raw:.0f} images/s (runs: {', '.join(f'{v:.0f}' for v in raws)})\n")
print("| clients | pneumo req/s | reference req/s | throughput ratio | pneumo p50 / p99 ms "
      "| reference p50 / p99 ms | p50 ratio (ref/pneumo) | pneumo % of raw forward | errors (pneumo, ref) |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
def fmt(r, key):
    return f"{r['latency_ms'][key]:.0f}" if r else "-"
for c in levels:
    p, f = load.get(("pneumo", c)), load.get(("reference", c))
    tput = lambda r: f"{r['throughput_rps']:.1f}" if r else "-"
    ratio = f"{p['throughput_rps'] / f['throughput_rps']:.2f}x" if p and f else "-"
    p50 = f"{f['latency_ms']['p50'] / p['latency_ms']['p50']:.2f}x" if p and f else "-"
    share = f"{100 * p['throughput_rps'] / raw:.0f}%" if p else "-"
    errs = lambda r: str(sum(r["errors"].values())) if r else "-"
    mark = " (disturbed)" if any(r and r.get("disturbed") for r in (p, f)) else ""
    print(f"| {c}{mark} | {tput(p)} | {tput(f)} | {ratio} | {fmt(p, 'p50')} / {fmt(p, 'p99')} "
          f"| {fmt(f, 'p50')} / {fmt(f, 'p99')} | {p50} | {share} | {errs(p)}, {errs(f)} |")
print("\n| server | RSS idle MB | RSS peak MB (sampled) | VmHWM MB | CPU ms per request at the top level | probe P(pneumonia) |")
print("|---|---:|---:|---:|---:|---:|")
for name in ("pneumo", "reference"):
    m = memory.get(name)
    if not m:
        continue
    top = load.get((name, levels[-1]))
    cpu_ms = f"{1e3 * top['server_cpu_s'] / max(1, top['ok'] * (top['warmup_s'] + top['duration_s']) / top['duration_s']):.1f}" if top else "-"
    print(f"| {name} | {m['rss_idle_mb']:.0f} | {m['rss_peak_mb']:.0f} | {m['vm_hwm_mb']:.0f} | {cpu_ms} | "
          f"{m['probe_probability']:.4f} |")
print("\nreference = Flask + gunicorn sync workers (one per core, one model each, 1 torch thread); "
      "its RSS sums the master and all workers.")

p32, f32 = load.get(("pneumo", 32)), load.get(("reference", 32))
if p32 and f32 and "pneumo" in memory:
    checks = [
        ("throughput >= 3x reference at 32 clients", p32["throughput_rps"] / f32["throughput_rps"], 3.0, True),
        ("p50 <= half the reference's at 32 clients (ref/pneumo)", f32["latency_ms"]["p50"] / p32["latency_ms"]["p50"], 2.0, True),
        ("throughput >= 90% of raw batched forward at 32 clients", p32["throughput_rps"] / raw, 0.90, True),
        ("resident memory < 400 MB (VmHWM)", memory["pneumo"]["vm_hwm_mb"], 400.0, False),
    ]
    print("\n| target | measured | met |")
    print("|---|---:|---|")
    for label, value, bound, at_least in checks:
        met = value >= bound if at_least else value < bound
        shown = f"{value:.2f}" if bound < 10 else f"{value:.0f}"
        print(f"| {label} | {shown} | {'yes' if met else 'NO'} |")
for (name, c), r in sorted(load.items()):
    if r.get("ok_per_client", {}).get("min", 1) == 0:
        print(f"\n{name} at {c} clients: some connections completed no request in the window "
              f"(starved; the longest late request took {r['late']['max_ms']:.0f} ms)")
if any(r.get("disturbed") for r in load.values()):
    print("\n(disturbed): a compiler ran during that measurement; rerun on a quiet machine.")
print(f"\nraw lines appended to {results_path} (run {run_id})")
EOF
