"""A v2 infer call with the binary data extension, from NumPy arrays to NumPy arrays, for tests
that must run where tritonclient is not installed (the GPU machine)."""

from __future__ import annotations

import json

import numpy as np

DATATYPES = {np.dtype(np.uint8): "UINT8", np.dtype(np.int64): "INT64",
             np.dtype(np.float32): "FP32", np.dtype(np.float64): "FP64",
             np.dtype(np.bool_): "BOOL"}
DTYPES = {v: k for k, v in DATATYPES.items()}


class InferError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status, self.message = status, message


def infer(server, model: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """POSTs `inputs` as binary tensors to /v2/models/`model`/infer and returns every output."""
    header = {"inputs": [{"name": name, "shape": list(a.shape), "datatype": DATATYPES[a.dtype],
                          "parameters": {"binary_data_size": a.nbytes}}
                         for name, a in inputs.items()],
              "parameters": {"binary_data_output": True}}
    head = json.dumps(header).encode()
    body = head + b"".join(np.ascontiguousarray(a).tobytes() for a in inputs.values())
    r = server.post(f"/v2/models/{model}/infer", body,
                    headers={"Inference-Header-Content-Length": str(len(head))})
    if r.status != 200:
        raise InferError(r.status, r.json()["error"])
    length = int(r.headers["inference-header-content-length"])
    outputs, offset = {}, length
    for out in json.loads(r.body[:length])["outputs"]:
        size = out["parameters"]["binary_data_size"]
        raw = r.body[offset:offset + size]
        offset += size
        outputs[out["name"]] = np.frombuffer(raw, DTYPES[out["datatype"]]).reshape(out["shape"])
    return outputs
