"""Resizes are Pillow's, bit for bit: image.resize_to in every mode on UINT8 (Pillow's L) and
FP32 (Pillow's F) images, and image.preprocess against the PIL + ToTensor + Normalize handler,
over random size pairs up and down, on the CPU. tests/gpu runs the same table on CUDA."""

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from support.resampling import (LARGE_SHRINK, MODES, PREPROCESS_CASES, check_preprocess,
                                check_resize, size_pairs, start_resampling_server)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    server = start_resampling_server(tmp_path_factory.mktemp("resample"), "cpu")
    yield httpclient.InferenceServerClient(f"127.0.0.1:{server.port}")
    assert server.stop() == 0, "\n".join(server.log)


@pytest.mark.parametrize("dtype", ["UINT8", "FP32"])
@pytest.mark.parametrize("mode", list(MODES))
def test_resize_to_equals_pillow(client, mode, dtype):
    check_resize(client, mode, dtype, size_pairs(12, seed=len(mode)))


@pytest.mark.parametrize("mode", ["bilinear", "lanczos"])
def test_a_large_shrink_equals_pillow(client, mode):
    check_resize(client, mode, "UINT8", LARGE_SHRINK)


@pytest.mark.parametrize("name", list(PREPROCESS_CASES))
def test_preprocess_equals_the_pillow_handler(client, name):
    check_preprocess(client, name, size_pairs(6, seed=3))


@pytest.mark.parametrize("image_shape,like_shape", [([1, 1, 0, 4], [3, 3, 1]),
                                                    ([1, 1, 4, 4], [0, 3, 1])])
def test_empty_images_are_400s_naming_the_op(client, image_shape, like_shape):
    inputs = [httpclient.InferInput("image", image_shape, "UINT8"),
              httpclient.InferInput("like", like_shape, "UINT8")]
    inputs[0].set_data_from_numpy(np.zeros(image_shape, np.uint8))
    inputs[1].set_data_from_numpy(np.zeros(like_shape, np.uint8))
    with pytest.raises(InferenceServerException) as e:
        client.infer("resize_bilinear_UINT8", inputs)
    assert e.value.status() == "400" and "image.resize_to" in e.value.message(), e.value
    assert client.is_server_live()
