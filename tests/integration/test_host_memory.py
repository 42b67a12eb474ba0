"""Freed tensors stay in the server for the next request (device/host_memory.h): once the heap has
grown to what requests use, a request whose tensors are larger than glibc's largest heap block
(32 MiB) touches almost no fresh pages, where malloc left as it starts maps and unmaps them on
every request (about 85 000 page faults each here)."""

import io
import os

import numpy as np
import pytest
import tritonclient.http as httpclient
from PIL import Image

from support.server import start_server

# About 170 MB of tensors a request: the image, its FP32 planes (58 MB), the INT64 classes, a mask.
PIPELINE = """\
inputs: [{name: image_bytes, datatype: BYTES, shape: [1]}]
outputs: [{name: png, datatype: BYTES, shape: [1]}]
steps:
  - {name: decode, op: image.decode, inputs: {bytes: image_bytes}, outputs: {image: rgb}}
  - {name: planes, op: image.preprocess, inputs: {image: rgb}, outputs: {tensor: x}}
  - {name: classes, op: argmax, inputs: {input: x}, outputs: {indices: labels}}
  - {name: mask, op: cast, inputs: {input: labels}, outputs: {output: mask},
     params: {dtype: UINT8, scale: 100}}
  - {name: encode, op: image.encode_png, inputs: {image: mask}, outputs: {png: png}}
"""

WARM_UP, MEASURED = 20, 8

pytestmark = pytest.mark.skipif("ASAN_OPTIONS" in os.environ,
                                reason="the sanitizers' allocator replaces malloc")


def minor_faults(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[7])


def faults_per_request(tmp_path, env=None) -> tuple[float, list[str]]:
    (tmp_path / "big").mkdir(exist_ok=True)
    (tmp_path / "big" / "pipeline.yaml").write_text(PIPELINE)
    y, x = np.mgrid[0:2000, 0:2400]
    rgb = np.stack([x % 256, y % 256, (x + y) % 256], -1).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    image_bytes = httpclient.InferInput("image_bytes", [1], "BYTES")
    image_bytes.set_data_from_numpy(np.array([buf.getvalue()], dtype=np.object_))
    server = start_server(tmp_path, env=env)
    try:
        client = httpclient.InferenceServerClient(f"127.0.0.1:{server.port}")
        # Warm-up: the heap grows until it holds every way the steps' tensors interleave.
        for _ in range(WARM_UP):
            client.infer("big", [image_bytes])
        before = minor_faults(server.process.pid)
        for _ in range(MEASURED):
            client.infer("big", [image_bytes])
        return (minor_faults(server.process.pid) - before) / MEASURED, server.log
    finally:
        assert server.stop() == 0, "\n".join(server.log)


def test_requests_reuse_freed_tensors(tmp_path):
    faults, log = faults_per_request(tmp_path)
    assert any("host memory: freed tensors are kept for reuse" in line for line in log), log
    # A tenth of what one request's fresh tensors cost.
    assert faults < 8000, faults


def test_the_environment_wins_and_the_count_tells_the_difference(tmp_path):
    faults, log = faults_per_request(tmp_path, env={"MALLOC_ARENA_MAX": "8"})
    assert any("malloc as the environment sets it (MALLOC_ARENA_MAX)" in line
               for line in log), log
    assert faults > 40000, faults
