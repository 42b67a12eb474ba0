#!/usr/bin/env bash
# Installs what Tandem needs to build, serve and test, and nothing that is already present.
#
#   - Debian packages (apt-get) for the C++ libraries the build links (HTTP, JSON, YAML, CLI,
#     logging, images, compression, gRPC, tests).
#   - A Python virtual environment outside the clone, keyed by a hash of requirements.txt,
#     holding the pinned torch wheel (LibTorch for the C++ build) and the test clients, with the
#     light tools of requirements-tools.txt installed on top, and perf_analyzer (below).
#   - perf_analyzer, the v2 load generator, as `.venv/bin/perf_analyzer`, with the CUDA runtime
#     it links beside it (what and why: scripts/fetch_perf_analyzer.py). The tests and
#     `make bench-perf-analyzer` run it.
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
# perf_analyzer and its CUDA runtime in $venv/lib/perf_analyzer (scripts/fetch_perf_analyzer.py
# pins them; the marker is keyed by that script), started by a wrapper that puts that folder on
# its library path.
perf_analyzer_marker="$venv/.perf-analyzer-$(sha256sum < "$root/scripts/fetch_perf_analyzer.py" | cut -c1-12)"
if ! $build_only && [ ! -f "$perf_analyzer_marker" ]; then
  echo "setup: installing perf_analyzer (scripts/fetch_perf_analyzer.py)" >&2
  rm -rf "$venv/lib/perf_analyzer"
  "$venv/bin/python" "$root/scripts/fetch_perf_analyzer.py" "$venv/lib/perf_analyzer" >&2
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
