"""Resizes are Pillow's, bit for bit: image.resize_to in every mode on UINT8 (Pillow's L) and
FP32 (Pillow's F) images, and image.preprocess against the PIL + ToTensor + Normalize handler,
over random size pairs up and down, on each device kind: the CPU, and CUDA where there is a GPU
(marked gpu; `scripts/gpu-check` runs these with tests/gpu)."""

import numpy as np
import pytest
import torch

from support import v2
from support.resampling import (LARGE_SHRINK, MODES, PREPROCESS_CASES, check_preprocess,
                                check_resize, size_pairs, start_resampling_server)


CUDA = pytest.param("gpu", marks=[
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")])


@pytest.fixture(scope="module", params=["cpu", CUDA])
def resampling(request, tmp_path_factory):
    server = start_resampling_server(tmp_path_factory.mktemp("resample"), request.param)
    if request.param == "gpu":
        assert any("on cuda:0" in line for line in server.log), server.log
    yield server
    assert server.stop() == 0, "\n".join(server.log)


@pytest.mark.parametrize("dtype", ["UINT8", "FP32"])
@pytest.mark.parametrize("mode", list(MODES))
def test_resize_to_equals_pillow(resampling, mode, dtype):
    check_resize(resampling, mode, dtype, size_pairs(12, seed=len(mode)))


@pytest.mark.parametrize("mode", ["bilinear", "lanczos"])
def test_a_large_shrink_equals_pillow(resampling, mode):
    check_resize(resampling, mode, "UINT8", LARGE_SHRINK)


@pytest.mark.parametrize("name", list(PREPROCESS_CASES))
def test_preprocess_equals_the_pillow_handler(resampling, name):
    check_preprocess(resampling, name, size_pairs(6, seed=3))


@pytest.mark.parametrize("image_shape,like_shape", [([1, 1, 0, 4], [3, 3, 1]),
                                                    ([1, 1, 4, 4], [0, 3, 1])])
def test_empty_images_are_400s_naming_the_op(resampling, image_shape, like_shape):
    with pytest.raises(v2.InferError) as e:
        v2.infer(resampling, "resize_bilinear_UINT8", {"image": np.zeros(image_shape, np.uint8),
                                                   "like": np.zeros(like_shape, np.uint8)})
    assert e.value.status == 400 and "image.resize_to" in e.value.message, e.value
    assert resampling.get("/v2/health/live").status == 200


def test_preprocess_refuses_an_empty_image(resampling):
    with pytest.raises(v2.InferError) as e:
        v2.infer(resampling, "prep_resize_bilinear", {"rgb": np.zeros((0, 5, 3), np.uint8)})
    assert e.value.status == 400 and "image.preprocess" in e.value.message, e.value
