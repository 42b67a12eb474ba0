"""The resampling table of tests/integration/test_resample.py with the ops on cuda:0: the same
ATen kernel on the GPU equals Pillow bit for bit."""

import pytest
import torch
import tritonclient.http as httpclient

from support.resampling import (LARGE_SHRINK, MODES, PREPROCESS_CASES, check_preprocess,
                                check_resize, size_pairs, start_resampling_server)

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine"),
]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    server = start_resampling_server(tmp_path_factory.mktemp("resample"), "gpu")
    assert any("on cuda:0" in line for line in server.log), server.log
    yield httpclient.InferenceServerClient(f"127.0.0.1:{server.port}")
    assert server.stop() == 0, "\n".join(server.log)


@pytest.mark.parametrize("dtype", ["UINT8", "FP32"])
@pytest.mark.parametrize("mode", list(MODES))
def test_resize_to_equals_pillow_on_cuda(client, mode, dtype):
    check_resize(client, mode, dtype, size_pairs(12, seed=len(mode)))


@pytest.mark.parametrize("mode", ["bilinear", "lanczos"])
def test_a_large_shrink_equals_pillow_on_cuda(client, mode):
    check_resize(client, mode, "UINT8", LARGE_SHRINK)


@pytest.mark.parametrize("name", list(PREPROCESS_CASES))
def test_preprocess_equals_the_pillow_handler_on_cuda(client, name):
    check_preprocess(client, name, size_pairs(6, seed=3))
