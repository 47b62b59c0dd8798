#!/usr/bin/env bash
# Fetches pictures that are not chest X-rays from Debian's archive, for the OOD negative-set test:
# the sample images of scikit-image (photographs, text pages, microscopy, a CT phantom, a retina,
# textures). Only the package's data folder is kept; nothing is installed.
#   scripts/fetch_ood_negatives.sh build/ood-negatives
set -euo pipefail
out=${1:?usage: fetch_ood_negatives.sh DIR}
[ -n "$(ls -A "$out" 2>/dev/null)" ] && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download -qq python3-skimage >/dev/null 2>&1) || {
  echo "fetch_ood_negatives: apt-get download python3-skimage failed (no Debian archive?)" >&2
  exit 1
}
dpkg-deb -x "$work"/python3-skimage_*.deb "$work/x"
mkdir -p "$out"
find "$work/x" -path '*/skimage/data/*' \( -name '*.png' -o -name '*.jpg' \) -exec cp {} "$out/" \;
echo "fetch_ood_negatives: $(ls "$out" | wc -l) pictures in $out"
