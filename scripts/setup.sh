#!/usr/bin/env bash
# Installs what Tandem needs to build, serve and test, and nothing that is already present.
#
#   - Debian packages (apt-get) for the C++ libraries of DESIGN.md §7.
#   - A Python virtual environment outside the clone, keyed by a hash of requirements.txt,
#     holding the pinned torch wheel (LibTorch for the C++ build) and the test clients, with the
#     light tools of requirements-tools.txt installed on top.
#
# Idempotent: a second run with everything present only checks and returns.
# Links the venv as .venv in the clone (ignored by git) and prints its path.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${TANDEM_CACHE:-$HOME/.cache/tandem}

apt_packages=(
  build-essential cmake ninja-build ccache pkg-config clang-format
  libboost-dev rapidjson-dev libyaml-cpp-dev libcli11-dev libspdlog-dev
  libturbojpeg0-dev libspng-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  curl wrk
)

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

hash=$(cat "$root/requirements.txt" | sha256sum | cut -c1-12)
venv="$cache/venv-$hash"
if [ ! -f "$venv/.complete" ]; then
  echo "setup: creating Python environment $venv (first run downloads torch; later runs reuse it)" >&2
  rm -rf "$venv"
  mkdir -p "$cache"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip >&2
  "$venv/bin/pip" install -q -r "$root/requirements.txt" >&2
  touch "$venv/.complete"
  # Environments for older requirements are several GB each: keep only the current one.
  for old in "$cache"/venv-*; do
    [ "$old" = "$venv" ] || rm -rf "$old"
  done
fi
# Light tools on top, keyed by their own file, so adding one does not rebuild the environment.
tools_hash=$(sha256sum < "$root/requirements-tools.txt" | cut -c1-12)
if [ ! -f "$venv/.tools-$tools_hash" ]; then
  echo "setup: installing the tools of requirements-tools.txt into $venv" >&2
  "$venv/bin/pip" install -q -r "$root/requirements-tools.txt" >&2
  rm -f "$venv"/.tools-*
  touch "$venv/.tools-$tools_hash"
fi
# A stable name for the cached environment, so the Makefile and tests need not know the hash.
ln -sfn "$venv" "$root/.venv"
echo "$venv"
