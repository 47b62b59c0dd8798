#!/usr/bin/env bash
# package.install: the Debian package, built by scripts/package.sh, checked three ways.
#   1. its control data: name, version, Depends from dpkg-shlibdeps (LibTorch, OpenCV, DCMTK...),
#      the conffiles, the postinst that makes the pneumo user
#   2. extracted with dpkg-deb -x into a temporary root (no root needed): the files, the
#      compiled-in model directory, systemd-analyze verify on both units, and the extracted
#      binary serving with the extracted config (/healthz, a real upload)
#   3. only as root with PNEUMO_TEST_INSTALL=1 (.ci/run sets it): apt-get install of the .deb,
#      the pneumo user and /var/lib/pneumo, `/usr/bin/pneumo serve --config
#      /etc/pneumo/pneumo.conf` run as the pneumo user (/healthz, an upload stored in
#      /var/lib/pneumo), then apt-get purge. Otherwise it says, as its last line, why it did not
#      install.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
data=${PNEUMO_SHARED_DATA_DIR:-$repo/../shared/data/chest_xray}
failures=0
ok() { echo "ok    $*"; }
fail() { echo "FAIL  $*"; failures=$((failures + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }

tmp=$(mktemp -d)
server_pid=
cleanup() {
  [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# --- 1. build and control data ---------------------------------------------------------------
t0=$SECONDS
if ! out=$("$repo/scripts/package.sh" 2>&1); then
  echo "$out"
  fail "scripts/package.sh failed"
  exit 1
fi
echo "$out" | grep '^package.sh:' || true
deb=$(echo "$out" | tail -n 1)
ok "scripts/package.sh made $(basename "$deb") in $((SECONDS - t0)) s"
version=$(dpkg-deb -f "$deb" Version)
check "file name is build/pneumo_<version>_amd64.deb" \
  test "$deb" = "$repo/build/pneumo_${version}_amd64.deb"
check "Package: pneumo, Architecture: amd64" \
  test "$(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Architecture)" = "pneumo amd64"
depends=$(dpkg-deb -f "$deb" Depends)
for dep in adduser libtorch libopencv-imgcodecs libdcmtk libsqlite3 libhiredis libc6 libstdc++6; do
  check "Depends names $dep (dpkg-shlibdeps)" grep -q "$dep" <<<"$depends"
done
# What a clean Debian 12 needs: every package named in Depends is in the bookworm archive (not only
# installed here), so apt on a fresh machine resolves it (and, in turn, its own dependencies).
not_in_archive=()
in_archive() {  # the package, or one that Provides it (libspdlog1.10-fmt9), has a bookworm source
  local policy
  # shellcheck disable=SC2046  # the providers are words
  policy=$(apt-cache policy "$1" $(apt-cache showpkg "$1" 2>/dev/null |
    sed -n '/^Reverse Provides:/,$p' | tail -n +2 | cut -d' ' -f1) 2>/dev/null)
  grep -Eq '^ +[0-9]+ .* bookworm[-/a-z]* ' <<<"$policy"
}
for dep in $(tr ',' '\n' <<<"$depends" | sed 's/(.*//; s/|.*//' | tr -d ' '); do
  in_archive "$dep" || not_in_archive+=("$dep")
done
check "every package in Depends comes from Debian 12's archive${not_in_archive:+ (not: ${not_in_archive[*]})}" \
  test ${#not_in_archive[@]} -eq 0
dpkg-deb -e "$deb" "$tmp/control"
check "conffiles: /etc/pneumo/pneumo.conf" grep -qx /etc/pneumo/pneumo.conf "$tmp/control/conffiles"
check "postinst makes the pneumo system user" grep -q 'adduser --system' "$tmp/control/postinst"

# --- 2. extracted ----------------------------------------------------------------------------
root=$tmp/root
dpkg-deb -x "$deb" "$root"
for f in usr/bin/pneumo usr/share/pneumo/models/default/card.json etc/pneumo/pneumo.conf \
         etc/default/pneumo-train lib/systemd/system/pneumo.service \
         lib/systemd/system/pneumo-train.service usr/share/doc/pneumo/README.md; do
  check "the package holds /$f" test -s "$root/$f"
done
check "/usr/bin/pneumo is stripped" bash -c "! file -b '$root/usr/bin/pneumo' | grep -q 'not stripped'"
pneumo=$root/usr/bin/pneumo
# A clean environment: no PNEUMO_* of the caller's, no /etc/pneumo/pneumo.conf of this machine.
run_clean() { env -i PATH=/usr/bin:/bin HOME="$tmp" "$@"; }
: >"$tmp/empty.conf"
defaults=$(run_clean "$pneumo" serve --config "$tmp/empty.conf" --print-config)
check "the packaged binary's default model is /usr/share/pneumo/models/default" \
  grep -q '^model = "/usr/share/pneumo/models/default"' <<<"$defaults"
merged=$(run_clean "$pneumo" serve --config "$root/etc/pneumo/pneumo.conf" --print-config)
check "the packaged config is read (data_dir from it)" \
  grep -q "^data_dir = \"/var/lib/pneumo\"  # $root/etc/pneumo/pneumo.conf:" <<<"$merged"
# Every key pneumo serve knows is documented in the packaged config, set or commented out.
missing=()
for key in $(sed -n 's/^\([a-z_0-9]*\) = .*/\1/p' <<<"$defaults"); do
  grep -Eq "^#?$key = " "$root/etc/pneumo/pneumo.conf" || missing+=("$key")
done
check "every key of pneumo serve is in pneumo.conf${missing:+ (missing: ${missing[*]})}" test ${#missing[@]} -eq 0

# systemd-analyze verify on the extracted units. verify checks that ExecStart's program exists, and
# --root= would look for every systemd unit in the extracted tree too, so the copies checked here
# name the extracted binary; the installed units are verified as they are in step 3.
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$tmp/units"
  for unit in pneumo.service pneumo-train.service; do
    sed "s|/usr/bin/pneumo|$root/usr/bin/pneumo|g" "$root/lib/systemd/system/$unit" >"$tmp/units/$unit"
    if v=$(systemd-analyze verify "$tmp/units/$unit" 2>&1) && [ -z "$v" ]; then
      ok "systemd-analyze verify $unit"
    else
      echo "$v"
      fail "systemd-analyze verify $unit"
    fi
    score=$(systemd-analyze security --offline=true "$tmp/units/$unit" 2>&1 | sed -n 's/.*Overall exposure level for [^:]*: //p')
    echo "      systemd-analyze security --offline=true $unit: ${score:-no score}"
  done
else
  fail "systemd-analyze is missing (apt-get install systemd): the units are not verified"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
image=$(find "$data/train/NORMAL" -name '*.jpeg' 2>/dev/null | sort | head -n 1 || true)
if [ -z "$image" ]; then
  echo "NOTE: $data/train is absent: uploading a synthetic grayscale PNG instead of a real X-ray"
  image=$tmp/synthetic.png
  python3 - "$image" <<'PY'
import struct, sys, zlib
w = h = 256
rows = b"".join(b"\0" + bytes(min(255, (x * y) // 200 + 40) for x in range(w)) for y in range(h))
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) + \
      chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
PY
fi

# Waits for /healthz, then uploads the image: "HEALTH STATUS VERSION".
serve_and_upload() {
  local port=$1 log=$2 i code
  for ((i = 0; i < 240; i++)); do
    if curl -sf -m 2 -o /dev/null "http://127.0.0.1:$port/healthz"; then break; fi
    if ! kill -0 "$server_pid" 2>/dev/null; then tail -n 20 "$log"; echo "dead"; return; fi
    sleep 0.25
  done
  code=$(curl -s -m 30 -o "$tmp/upload.json" -w '%{http_code}' -F "file=@$image" \
    -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/predictions" || true)
  echo "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz") $code" \
    "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["model"]["version"])' "$tmp/upload.json" 2>/dev/null || echo none)"
}
stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

# The extracted binary with the extracted config; the environment moves what an install would
# own (/var/lib/pneumo) into the temporary root, as PNEUMO_* override the file.
port=$(free_port)
mkdir -p "$tmp/state"
# Accounts are on, as shipped: an admin and its API token in the store the server will use.
run_clean "$pneumo" user add pkg-admin --role admin --data-dir "$tmp/state" >/dev/null
token=$(run_clean "$pneumo" token create pkg-admin --data-dir "$tmp/state" | tail -n 1)
run_clean PNEUMO_LISTEN="127.0.0.1:$port" PNEUMO_DATA_DIR="$tmp/state" \
  PNEUMO_MODEL="$root/usr/share/pneumo/models/default" \
  "$pneumo" serve --config "$root/etc/pneumo/pneumo.conf" >"$tmp/extracted.log" 2>&1 &
server_pid=$!
card_version=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$root/usr/share/pneumo/models/default/card.json")
read -r health status served <<<"$(serve_and_upload "$port" "$tmp/extracted.log")"
check "extracted pneumo serve answers /healthz 200 ($health)" test "$health" = 200
check "and an upload 201 ($status) from model $card_version ($served)" \
  test "$status $served" = "201 $card_version"
check "and stores it in the data_dir from PNEUMO_DATA_DIR" test -s "$tmp/state/results.db"
stop_server

# --- 3. installed with apt -------------------------------------------------------------------
why_not=
if [ "${PNEUMO_TEST_INSTALL:-}" != 1 ]; then
  why_not="PNEUMO_TEST_INSTALL is not 1 (.ci/run sets it; it installs and purges the package on this machine)"
elif [ "$(id -u)" -ne 0 ]; then
  why_not="not root (uid $(id -u)): apt-get install needs root"
  fail "PNEUMO_TEST_INSTALL=1 asks for an install, but $why_not"
elif dpkg-query -W -f='${Status}' pneumo 2>/dev/null | grep -q 'install ok installed'; then
  why_not="a pneumo package is already installed here; the test does not replace it"
  fail "PNEUMO_TEST_INSTALL=1 asks for an install, but $why_not"
fi
if [ -z "$why_not" ]; then
  had_user=0; getent passwd pneumo >/dev/null && had_user=1
  had_state=0; [ -e /var/lib/pneumo ] && had_state=1
  t1=$SECONDS
  if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >"$tmp/apt.log" 2>&1; then
    ok "apt-get install $(basename "$deb") ($((SECONDS - t1)) s)"
  else
    tail -n 30 "$tmp/apt.log"
    fail "apt-get install $(basename "$deb")"
  fi
  check "the pneumo system user exists (uid < 1000)" \
    bash -c '[ "$(id -u pneumo)" -lt 1000 ] && [ "$(getent passwd pneumo | cut -d: -f7)" = /usr/sbin/nologin ]'
  check "/var/lib/pneumo is pneumo's, 0750" test "$(stat -c '%U:%G %a' /var/lib/pneumo)" = "pneumo:pneumo 750"
  check "/etc/pneumo/pneumo.conf is root:pneumo 0640" \
    test "$(stat -c '%U:%G %a' /etc/pneumo/pneumo.conf)" = "root:pneumo 640"
  check "models/current links to the shipped model" \
    test "$(readlink /var/lib/pneumo/models/current)" = /usr/share/pneumo/models/default
  for unit in pneumo.service pneumo-train.service; do
    check "systemd-analyze verify $unit (installed)" \
      bash -c "out=\$(systemd-analyze verify /lib/systemd/system/$unit 2>&1); [ -z \"\$out\" ] || { echo \"\$out\"; false; }"
  done
  port=$(free_port)
  # The first admin, made as the pneumo user so that the store stays pneumo's.
  runuser -u pneumo -- /usr/bin/pneumo user add pkg-admin --role admin --data-dir /var/lib/pneumo >/dev/null
  token=$(runuser -u pneumo -- /usr/bin/pneumo token create pkg-admin --data-dir /var/lib/pneumo | tail -n 1)
  # As the unit runs it: the pneumo user, the installed config; only the port from the
  # environment (the file's 8080 may be taken on a CI machine).
  (cd /var/lib/pneumo && exec runuser -u pneumo -- env -i PATH=/usr/bin:/bin \
     PNEUMO_LISTEN="127.0.0.1:$port" /usr/bin/pneumo serve --config /etc/pneumo/pneumo.conf) \
    >"$tmp/installed.log" 2>&1 &
  server_pid=$!
  read -r health status served <<<"$(serve_and_upload "$port" "$tmp/installed.log")"
  check "installed /usr/bin/pneumo serve, as pneumo, answers /healthz 200 ($health)" test "$health" = 200
  check "and an upload 201 ($status) from model $card_version ($served)" \
    test "$status $served" = "201 $card_version"
  check "and stores it in /var/lib/pneumo/results.db, owned by pneumo" \
    test "$(stat -c %U /var/lib/pneumo/results.db 2>/dev/null)" = pneumo
  stop_server
  if DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq pneumo >>"$tmp/apt.log" 2>&1; then
    ok "apt-get purge pneumo"
  else
    tail -n 30 "$tmp/apt.log"
    fail "apt-get purge pneumo"
  fi
  check "purge removes /usr/bin/pneumo and /etc/pneumo" test ! -e /usr/bin/pneumo -a ! -e /etc/pneumo
  # What the package keeps on purge (history, user) goes only when this test made it.
  [ "$had_state" = 1 ] || rm -rf /var/lib/pneumo
  [ "$had_user" = 1 ] || deluser --quiet --system pneumo >/dev/null 2>&1 || true
fi

echo
if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
if [ -n "$why_not" ]; then
  echo "all checks passed; NOT installed with apt: $why_not"
else
  echo "all checks passed, including apt-get install, serve as the pneumo user and purge"
fi
