"""The stock tritonclient.http client works against Tandem unchanged."""

import numpy as np
import pytest
import torch
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException


@pytest.fixture(scope="module")
def client(server):
    return httpclient.InferenceServerClient(f"127.0.0.1:{server.port}")


def test_health_and_metadata(client):
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("classifier")
    meta = client.get_model_metadata("classifier")
    assert meta["inputs"][0]["shape"] == [-1, 3, 16, 16]
    assert client.get_model_config("classifier")["max_batch_size"] == 8


@pytest.mark.parametrize("binary", [False, True])
def test_infer_matches_pytorch(client, repository, binary):
    image = np.random.default_rng(5).random((4, 3, 16, 16), dtype=np.float32)
    inp = httpclient.InferInput("image", image.shape, "FP32")
    inp.set_data_from_numpy(image, binary_data=binary)
    out = httpclient.InferRequestedOutput("probabilities", binary_data=binary)
    result = client.infer("classifier", [inp], outputs=[out], request_id="t1")
    module = torch.jit.load(str(repository / "classifier" / "1" / "model.pt"))
    expected = module(torch.from_numpy(image)).detach().numpy()
    np.testing.assert_allclose(result.as_numpy("probabilities"), expected, rtol=1e-5, atol=1e-6)
    assert result.get_response()["id"] == "t1"


def test_integer_outputs_in_binary(client):
    x = np.array([[1, -2, 3]], np.int64)
    inp = httpclient.InferInput("x", x.shape, "INT64")
    inp.set_data_from_numpy(x)
    result = client.infer("integers", [inp])
    assert result.as_numpy("doubled").tolist() == [[2, -4, 6]]
    assert result.as_numpy("positive").tolist() == [[True, False, True]]


def test_errors_surface_as_exceptions(client):
    x = np.zeros((1, 3, 8, 8), np.float32)
    inp = httpclient.InferInput("image", x.shape, "FP32")
    inp.set_data_from_numpy(x)
    with pytest.raises(InferenceServerException, match=r"expects \[-1, 3, 16, 16\]"):
        client.infer("classifier", [inp])
