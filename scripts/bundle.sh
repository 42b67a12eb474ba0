#!/usr/bin/env bash
# Gathers what the container image runs into one folder: OUT/bin/tandem and OUT/lib holding
# LibTorch's libraries, the CUDA libraries its wheel ships (LibTorch loads some of them only
# when needed, so whole folders are copied, not just what ldd lists), and every other library
# tandem links that a base system lacks (yaml-cpp, spdlog, fmt, turbojpeg, spng). With
# LD_LIBRARY_PATH=OUT/lib, tandem then needs only glibc, libstdc++ and, for GPUs, the driver.
#
# Usage: scripts/bundle.sh BUILD_DIR OUT   (after `make build`; the Dockerfile runs it)
set -euo pipefail
build=$1 out=$2
root=$(cd "$(dirname "$0")/.." && pwd)
py=$root/.venv/bin/python
mkdir -p "$out/bin" "$out/lib"
cp "$build/tandem" "$out/bin/"

site=$("$py" -c 'import site; print(site.getsitepackages()[0])')
# Hard links where the file system allows (fast, no space), copies otherwise.
copy() { cp -L -l "$@" 2>/dev/null || cp -L "$@"; }
for lib_dir in "$site/torch/lib" "$site"/nvidia/*/lib; do
  [ -d "$lib_dir" ] && copy -r "$lib_dir"/. "$out/lib/"
done

# The base system's own: the C and C++ runtimes every image has.
is_base() {
  case "$(basename "$1")" in
    linux-vdso* | ld-linux* | libc.so* | libm.so* | libdl.so* | libpthread.so* | librt.so* | \
      libstdc++.so* | libgcc_s.so*) return 0 ;;
  esac
  return 1
}
ldd "$build/tandem" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | while read -r lib; do
  name=$(basename "$lib")
  is_base "$lib" || [ -e "$out/lib/$name" ] || copy "$lib" "$out/lib/$name"
done
echo "bundle: $out ($(du -sh "$out" | cut -f1))"
