"""Load → infer → unload cycles on a GPU give its memory back (the CPU's: the model-control
tests). Runs only where LibTorch sees a GPU (pytest marker `gpu`)."""

import pytest
import torch

from support.metrics import scrape, value
from support.models import WIDE_WEIGHT_BYTES, save_wide
from support.server import start_server

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine"),
]


def test_load_infer_unload_cycles_give_cuda_memory_back(tmp_path):
    """60 cycles of an 8 MB model on cuda:0. Loaded, LibTorch holds at least its weights there;
    after the first 10 cycles, where the caching allocator settles, what stays allocated with
    the model unloaded grows by less than one copy of its weights, and what the allocator
    reserves by less than 64 MiB (a load that stayed would add 8 MB a cycle)."""
    save_wide(tmp_path / "wide", devices="[cuda:0]")
    s = start_server(tmp_path, "--model-control-mode", "explicit")
    body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 1024],
                        "data": [0.5] * 1024}]}

    def memory():
        m = scrape(s)
        return (value(m, "tandem_device_memory_allocated_bytes", device="cuda:0"),
                value(m, "tandem_device_memory_reserved_bytes", device="cuda:0"))

    try:
        settled = None
        for cycle in range(60):
            assert s.post("/v2/repository/models/wide/load", b"").status == 200
            r = s.post_json("/v2/models/wide/infer", body)
            assert r.status == 200 and len(r.json()["outputs"][0]["data"]) == 2048, r.body
            if cycle == 0:
                assert memory()[0] >= WIDE_WEIGHT_BYTES
            assert s.post("/v2/repository/models/wide/unload", b"").status == 200
            if cycle == 9:
                settled = memory()
        allocated, reserved = memory()
        assert allocated - settled[0] < WIDE_WEIGHT_BYTES, (settled, allocated)
        assert reserved - settled[1] < 64 << 20, (settled, reserved)
    finally:
        assert s.stop() == 0
