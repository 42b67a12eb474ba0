"""The tensor ops over HTTP against NumPy: cast (scale, offset, rounding, saturation, BOOL),
concat of several inputs, argmax keeping its dimension."""

import numpy as np
import pytest
import tritonclient.http as httpclient

from support.server import start_server

PIPELINE = """\
inputs:
  - {name: f, datatype: FP32, shape: [-1, 4]}
  - {name: i, datatype: INT64, shape: [-1, 4]}
  - {name: u, datatype: UINT8, shape: [-1, 4]}
outputs:
  - {name: f_to_u8, datatype: UINT8, shape: [-1, 4]}
  - {name: i_to_u8, datatype: UINT8, shape: [-1, 4]}
  - {name: u_to_f, datatype: FP32, shape: [-1, 4]}
  - {name: f_to_bool, datatype: BOOL, shape: [-1, 4]}
  - {name: joined, datatype: FP32, shape: [-1, 12]}
  - {name: best, datatype: INT64, shape: [-1, 1]}
steps:
  - {name: a, op: cast, inputs: {input: f}, outputs: {output: f_to_u8},
     params: {dtype: UINT8, scale: 100, offset: 0.5}}
  - {name: b, op: cast, inputs: {input: i}, outputs: {output: i_to_u8}, params: {dtype: UINT8}}
  - {name: c, op: cast, inputs: {input: u}, outputs: {output: u_to_f},
     params: {dtype: FP32, scale: 1/255}}
  - {name: d, op: cast, inputs: {input: f}, outputs: {output: f_to_bool}, params: {dtype: BOOL}}
  - {name: e, op: concat, inputs: {input0: f, input1: u_to_f, input2: f}, outputs: {output: joined}}
  - {name: g, op: argmax, inputs: {input: f}, outputs: {indices: best},
     params: {dim: 1, keepdim: true}}
"""


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("tensor_ops")
    (root / "ops").mkdir()
    (root / "ops" / "pipeline.yaml").write_text(PIPELINE)
    server = start_server(root)
    yield httpclient.InferenceServerClient(f"127.0.0.1:{server.port}")
    assert server.stop() == 0, "\n".join(server.log)


def test_tensor_ops_equal_numpy(client):
    f = np.array([[-1.0, 0.0, 0.004, 0.015], [1.2, 2.555, 3.0, 0.0]], np.float32)
    i = np.array([[-5, 0, 255, 256], [1 << 40, 7, -(1 << 40), 128]], np.int64)
    u = np.arange(8, dtype=np.uint8).reshape(2, 4) * 36
    inputs = []
    for name, value, dtype in (("f", f, "FP32"), ("i", i, "INT64"), ("u", u, "UINT8")):
        inputs.append(httpclient.InferInput(name, value.shape, dtype))
        inputs[-1].set_data_from_numpy(value)
    result = client.infer("ops", inputs)
    # Computed in double, rounded to nearest (ties to even), saturated.
    expected = np.clip(np.round(f.astype(np.float64) * 100 + 0.5), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(result.as_numpy("f_to_u8"), expected)
    np.testing.assert_array_equal(result.as_numpy("i_to_u8"), np.clip(i, 0, 255).astype(np.uint8))
    # UINT8 × 1/255 is exactly what ToTensor computes: x / 255 in FP32.
    np.testing.assert_array_equal(result.as_numpy("u_to_f"), u.astype(np.float32) / 255)
    np.testing.assert_array_equal(result.as_numpy("f_to_bool"), f != 0)
    np.testing.assert_array_equal(result.as_numpy("joined"),
                                  np.concatenate([f, u.astype(np.float32) / 255, f], axis=1))
    np.testing.assert_array_equal(result.as_numpy("best"), f.argmax(axis=1)[:, None])
