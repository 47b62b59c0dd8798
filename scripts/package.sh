#!/usr/bin/env bash
# Builds the Debian package build/pneumo_<version>_amd64.deb (cmake/packaging.cmake says what is
# in it) from its own build folder, build-pkg/, where the compiled-in model directory is the
# packaged one, /usr/share/pneumo/models/default. Only main.cc sees that setting, so with ccache
# (used when installed) a package after a normal build recompiles one file and links.
#
#   scripts/package.sh            # then: sudo apt-get install ./build/pneumo_*.deb
#
# Settings: PNEUMO_PKG_BUILD_DIR (build-pkg). Prints the package's path as its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
pkg=${PNEUMO_PKG_BUILD_DIR:-build-pkg}
start=$SECONDS

launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # The same settings as scripts/setup.sh's build, so the two share cache entries: paths under
  # the base folder are hashed relative to the build folder, the same for build/ and build-pkg/.
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$repo}
  export CCACHE_SLOPPINESS=${CCACHE_SLOPPINESS:-time_macros,include_file_mtime,include_file_ctime}
fi
for tool in cmake cpack dpkg-shlibdeps dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "package.sh: $tool is missing (apt-get install cmake dpkg-dev)" >&2; exit 1; }
done
generator=()
[ -f "$pkg/CMakeCache.txt" ] || { command -v ninja >/dev/null && generator=(-G Ninja); }
cmake -S . -B "$pkg" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" \
  -DPNEUMO_BUILD_TESTS=OFF -DPNEUMO_BUILD_BENCH=OFF \
  -DPNEUMO_DEFAULT_MODEL_DIR=/usr/share/pneumo/models/default >/dev/null
nice -n 10 cmake --build "$pkg" --target pneumo -j"$(nproc)"
built=$SECONDS
(cd "$pkg" && cpack -G DEB >/dev/null)
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$pkg/CMakeCache.txt")
deb=pneumo_${version}_amd64.deb
[ -f "$pkg/$deb" ] || { echo "package.sh: cpack did not make $pkg/$deb" >&2; exit 1; }
mkdir -p build
cp "$pkg/$deb" "build/$deb"
echo "package.sh: build $((built - start)) s, cpack $((SECONDS - built)) s; $(du -h "build/$deb" | cut -f1)"
echo "package.sh: Depends: $(dpkg-deb -f "build/$deb" Depends)"
echo "$repo/build/$deb"
