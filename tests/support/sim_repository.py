"""Sim models and a one-step pipeline over one, written as repository folders: the pieces of the
tests of models that come and go (model control, multi-model endpoints). A sim model computes
y = x·scale + offset on a simulated GPU, so answers name the version that gave them."""

from __future__ import annotations

import pathlib

SIM = """\
backend: sim
max_batch_size: 8
inputs: [{{name: x, datatype: FP32, shape: [2]}}]
outputs: [{{name: y, datatype: FP32, shape: [2]}}]
instances: [{{devices: sim, count: 1}}]
dynamic_batching: {{max_queue_delay_us: 500}}
parameters: {{latency_us: 2000, scale: 1, offset: {offset}, weight_bytes: {weight_bytes}}}
"""

# Pipeline input a → model m → output b.
PIPELINE = """\
inputs: [{name: a, datatype: FP32, shape: [1, 2]}]
outputs: [{name: b, datatype: FP32, shape: [1, 2]}]
steps: [{name: s, model: m, inputs: {x: a}, outputs: {y: b}}]
"""


def sim_model(offset: float, weight_bytes: int = 0) -> str:
    """A sim model's model.yaml: x (two FP32 an item, batched) in, x + offset out, 2 ms a batch;
    each instance reports holding `weight_bytes` on its device."""
    return SIM.format(offset=offset, weight_bytes=weight_bytes)


def write(path: pathlib.Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
