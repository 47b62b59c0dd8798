#!/usr/bin/env bash
# Installs everything pneumo needs from Debian's archive, then configures and builds it.
# Idempotent: a second run only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config ccache   # ccache: scripts/package.sh's second build reuses this one's objects
  dpkg-dev systemd file                 # scripts/package.sh (cpack's dpkg-shlibdeps), package.install (systemd-analyze verify)
  libtorch-dev libopenblas0-openmp       # LibTorch 1.13 (CPU, oneDNN) and a fast BLAS for it
  libopencv-dev libdcmtk-dev             # JPEG/PNG decoding and resizing; DICOM
  nlohmann-json3-dev libspdlog-dev libcli11-dev libcpp-httplib-dev libssl-dev
  libgtest-dev prometheus              # tests: GoogleTest; a real Prometheus scrapes the trainer
  libsqlite3-dev libhiredis-dev redis-server   # result store: SQLite (default) or Redis
  libsodium-dev                         # accounts: Argon2id password hashes, random tokens
  chromium fonts-dejavu-core            # browser test: headless Chromium driven by playwright-core
  dcmtk orthanc orthanc-dicomweb        # tests/dicom: a real PACS (Orthanc + DICOMweb) and DCMTK's tools
  clang-format clang-tidy-19            # scripts/lint.sh: the format check and clang-tidy (19: C++23)
  clang-19 libclang-rt-19-dev           # scripts/fuzz.sh: libFuzzer + ASan/UBSan runtimes (clang 14 lacks C++23's <expected>)
  nginx prometheus-alertmanager prometheus-node-exporter prometheus-redis-exporter prometheus-nginx-exporter prometheus-blackbox-exporter openssl  # deploy/local/stack.sh and tests/deploy
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node may come from elsewhere (e.g. NodeSource, which bundles npm): only ask Debian when absent.
command -v npm >/dev/null || missing+=(nodejs npm)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# playwright-core (no browser download: it drives Debian's chromium), pinned by package-lock.json.
if [ -f tests/web/package-lock.json ] && [ ! -d tests/web/node_modules/playwright-core ]; then
  npm ci --prefix tests/web --no-audit --no-fund --loglevel=error
fi
# The cloud checks' HCL and YAML parsers (@cdktf/hcl2json, yaml), pinned by package-lock.json.
if [ -f tests/cloud/package-lock.json ] &&
   { [ ! -d tests/cloud/node_modules/@cdktf/hcl2json ] || [ ! -d tests/cloud/node_modules/yaml ]; }; then
  npm ci --prefix tests/cloud --no-audit --no-fund --loglevel=error
fi
# kubectl renders deploy/k8s in the cloud.k8s test; it is not a Debian package.
command -v kubectl >/dev/null || echo "setup: kubectl is not on PATH; the cloud.k8s test will fail until it is"

# Pictures that are no chest X-rays, for the OOD test (from Debian's archive; nothing installed).
scripts/fetch_ood_negatives.sh build/ood-negatives

# Through ccache, with the settings scripts/package.sh uses, so the package's build is cheap.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
export CCACHE_SLOPPINESS=${CCACHE_SLOPPINESS:-time_macros,include_file_mtime,include_file_ctime}
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
cmake --build build -j"$(nproc)"
echo "setup: built build/pneumo"
