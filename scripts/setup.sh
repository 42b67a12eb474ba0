#!/usr/bin/env bash
# Installs what Tandem needs to build, serve and test, and nothing that is already present.
#
#   - Debian packages (apt-get) for the C++ libraries the build links (HTTP, JSON, YAML, CLI,
#     logging, images, compression, gRPC, tests).
#   - A Python virtual environment outside the clone, keyed by a hash of requirements.txt,
#     holding the pinned torch wheel (LibTorch for the C++ build) and the test clients, with the
#     light tools of requirements-tools.txt installed on top, and perf_analyzer (below).
#   - perf_analyzer, the v2 load generator, as `.venv/bin/perf_analyzer`: the binary bundled in
#     the tritonclient 2.51.0 manylinux1 wheel (the newest that runs on Debian 12's glibc),
#     unzipped from the wheel rather than pip-installed (that wheel pins numpy<2), with the CUDA
#     runtime it links (libcudart.so.12, from the nvidia-cuda-runtime-cu12 wheel; no GPU needed)
#     beside it. The tests and `make bench-perf-analyzer` run it.
#
#   - With --build-only (the container image's build stage): only the Debian packages needed to
#     build, not the test tools (clang for the fuzzers, clang-format, wrk, curl).
#   - With --bench: a second environment for `make bench-pipeline`, holding the servers Tandem is
#     compared with (requirements-bench.txt). It is layered on the first (a .pth file puts the
#     first's packages after its own), so torch is not downloaded twice and both measure the
#     same torch.
#
# Idempotent: a second run with everything present only checks and returns.
# Links the venv as .venv in the clone (and the bench one as .venv-bench; both ignored by git) and
# prints the path of the one asked for.
set -euo pipefail
bench=false build_only=false
case "${1:-}" in
  --bench) bench=true ;;
  --build-only) build_only=true ;;
  "") ;;
  *) echo "usage: scripts/setup.sh [--bench | --build-only]" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${TANDEM_CACHE:-$HOME/.cache/tandem}

apt_packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost-dev rapidjson-dev libyaml-cpp-dev libcli11-dev libspdlog-dev
  libturbojpeg0-dev libspng-dev zlib1g-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libgtest-dev libgmock-dev libbenchmark-dev
)
$build_only || apt_packages+=(clang-format clang libclang-rt-14-dev curl wrk libb64-0d)

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q "${missing[@]}" >&2
fi

# create_venv DIR REQUIREMENTS [BASE]: a fresh environment at DIR with REQUIREMENTS installed.
# With BASE (another environment), BASE's packages come after DIR's own (a .pth file). Older
# environments of the same kind (DIR's name but for its hash) are several GB each: removed.
create_venv() {
  local dir=$1 requirements=$2 base=${3:-}
  rm -rf "$dir"
  mkdir -p "$(dirname "$dir")"
  python3 -m venv "$dir"
  if [ -n "$base" ]; then
    "$base/bin/python" -c 'import site; print(site.getsitepackages()[0])' \
      >"$("$dir/bin/python" -c 'import site; print(site.getsitepackages()[0])')/_tandem_base.pth"
  fi
  "$dir/bin/pip" install -q --upgrade pip >&2
  "$dir/bin/pip" install -q -r "$requirements" >&2
  touch "$dir/.complete"
  for old in "${dir%-*}"-*; do
    [ "$old" = "$dir" ] || rm -rf "$old"
  done
}

hash=$(cat "$root/requirements.txt" | sha256sum | cut -c1-12)
venv="$cache/venv-$hash"
if [ ! -f "$venv/.complete" ]; then
  echo "setup: creating Python environment $venv (first run downloads torch; later runs reuse it)" >&2
  create_venv "$venv" "$root/requirements.txt"
fi
# Light tools on top, keyed by their own file, so adding one does not rebuild the environment.
tools_hash=$(sha256sum < "$root/requirements-tools.txt" | cut -c1-12)
if [ ! -f "$venv/.tools-$tools_hash" ]; then
  echo "setup: installing the tools of requirements-tools.txt into $venv" >&2
  "$venv/bin/pip" install -q -r "$root/requirements-tools.txt" >&2
  rm -f "$venv"/.tools-*
  touch "$venv/.tools-$tools_hash"
fi
# perf_analyzer and its CUDA runtime in $venv/lib/perf_analyzer, started by a wrapper that puts
# that folder on its library path (the wheels' versions are the marker's name).
perf_analyzer_wheels=(tritonclient==2.51.0 nvidia-cuda-runtime-cu12==12.9.79)
perf_analyzer_marker="$venv/.perf-analyzer-$(echo "${perf_analyzer_wheels[*]}" | sha256sum | cut -c1-12)"
if ! $build_only && [ ! -f "$perf_analyzer_marker" ]; then
  echo "setup: installing perf_analyzer from ${perf_analyzer_wheels[*]}" >&2
  dir="$venv/lib/perf_analyzer" downloads=$(mktemp -d)
  rm -rf "$dir" && mkdir -p "$dir"
  "$venv/bin/pip" download -q --no-deps --only-binary=:all: --platform manylinux1_x86_64 \
    --platform manylinux2014_x86_64 -d "$downloads" "${perf_analyzer_wheels[@]}" >&2
  "$venv/bin/python" - "$downloads" "$dir" <<'PY'
import pathlib, sys, zipfile
downloads, target = map(pathlib.Path, sys.argv[1:])
wanted = {"perf_analyzer": "data/bin/perf_analyzer", "libcudart.so.12": "lib/libcudart.so.12"}
for wheel in downloads.glob("*.whl"):
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            for file, suffix in wanted.items():
                if name.endswith(suffix):
                    (target / file).write_bytes(z.read(name))
                    (target / file).chmod(0o755)
missing = [f for f in wanted if not (target / f).exists()]
if missing:
    sys.exit(f"setup: the wheels lack {missing}")
PY
  rm -rf "$downloads"
  cat >"$venv/bin/perf_analyzer" <<'SH'
#!/bin/sh
# perf_analyzer from the tritonclient 2.51.0 wheel, with the CUDA runtime it links beside it.
dir=$(dirname "$(readlink -f "$0")")/../lib/perf_analyzer
LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$dir/perf_analyzer" "$@"
SH
  chmod +x "$venv/bin/perf_analyzer"
  "$venv/bin/perf_analyzer" --version >&2
  rm -f "$venv"/.perf-analyzer-*
  touch "$perf_analyzer_marker"
fi
# A stable name for the cached environment, so the Makefile and tests need not know the hash.
ln -sfn "$venv" "$root/.venv"
if ! $bench; then
  echo "$venv"
  exit 0
fi

bench_hash=$(cat "$root/requirements.txt" "$root/requirements-bench.txt" | sha256sum | cut -c1-12)
bench_venv="$cache/bench-$bench_hash"
if [ ! -f "$bench_venv/.complete" ]; then
  echo "setup: creating the benchmark environment $bench_venv" >&2
  create_venv "$bench_venv" "$root/requirements-bench.txt" "$venv"
fi
ln -sfn "$bench_venv" "$root/.venv-bench"
echo "$bench_venv"
