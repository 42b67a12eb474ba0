#!/usr/bin/env bash
# GPU checks on a machine with a CUDA GPU, from binaries built on another machine against the
# same LibTorch version (torch==2.11.0): the GPU-labelled tests, the integration tests, and the
# example classifier's HTTP throughput on one GPU instance against one CPU instance.
#
# Usage: scripts/gpu_check.sh CARRY_DIR OUT_DIR [--tests-only]
#   CARRY_DIR holds tandem, unit_tests, gpu_tests and lib/ (the non-LibTorch shared libraries they need).
set -uo pipefail
carry=$(cd "$1" && pwd)
out=$2
mkdir -p "$out"
py=python3
torch_lib=$($py -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
export LD_LIBRARY_PATH="$torch_lib:$carry/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PYTHONUNBUFFERED=1

{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  $py -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name(0))'
  nproc
} | tee "$out/machine.txt"

"$carry/unit_tests" --gtest_brief=1 2>&1 | tail -3 | tee "$out/unit.log"
"$carry/gpu_tests" 2>&1 | tail -12 | tee "$out/gpu_tests.log"
TANDEM_BIN="$carry/tandem" $py -m pytest -q -p no:cacheprovider tests/gpu tests/integration \
  2>&1 | tee "$out/pytest.log" | tail -15

[ "${3:-}" = --tests-only ] && exit 0

wait_ready() {
  $py - "$1" <<'PY'
import sys, time, urllib.request
for _ in range(600):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/ping")
        break
    except Exception:
        time.sleep(0.1)
PY
}

# Throughput of the example classifier on one CPU instance, one GPU instance, and one GPU
# instance with dynamic batching.
$py examples/classifier/export.py >/dev/null
for variant in cpu gpu gpu-batched; do
  repo=/tmp/bench-$variant
  rm -rf "$repo" && mkdir -p "$repo" && cp -r examples/repository/classifier "$repo/"
  yaml="$repo/classifier/model.yaml"
  sed -i "s/devices: auto/devices: ${variant%-batched}/" "$yaml"
  if [ "$variant" = gpu-batched ]; then
    echo "dynamic_batching: {max_queue_delay_us: 500, preferred_batch_sizes: [8]}" >>"$yaml"
  fi
  "$carry/tandem" serve --model-repository "$repo" --port 8090 2>"$out/serve-$variant.log" &
  server=$!
  wait_ready 8090
  $py bench/http_load.py --port 8090 --concurrency 1,8,32,64 --seconds 5 --label "$variant" \
    --out "$out/load-$variant.json"
  kill -TERM $server; wait $server
done
