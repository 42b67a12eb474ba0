"""GET /metrics: Prometheus text that a real Prometheus parser reads, and counts that match what
the test did (docs/metrics.md)."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from support.metrics import scrape, value
from support.server import start_server

SIM_MODEL = """\
backend: sim
max_batch_size: 8
inputs: [{name: x, datatype: FP32, shape: [4]}]
outputs: [{name: y, datatype: FP32, shape: [4]}]
instances: [{devices: sim, count: 1}]
dynamic_batching: {max_queue_delay_us: 2000}
parameters: {latency_us: 2000, per_item_us: 100, scale: 2, offset: 0}
"""

PIPELINE = """\
inputs: [{name: raw, datatype: FP32, shape: [1, 4]}]
outputs: [{name: best, datatype: INT64, shape: [1]}]
steps:
  - {name: scale, model: double, inputs: {x: raw}, outputs: {y: scaled}}
  - {name: pick, op: argmax, inputs: {input: scaled}, outputs: {indices: best}, params: {dim: 1}}
"""


def body(name, values, timeout_us=None):
    doc = {"inputs": [{"name": name, "shape": [1, 4], "datatype": "FP32", "data": values}]}
    if timeout_us is not None:
        doc["parameters"] = {"timeout": timeout_us}
    return doc


@pytest.fixture(scope="module")
def metrics_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("metrics")
    (root / "double").mkdir()
    (root / "double" / "model.yaml").write_text(SIM_MODEL)
    (root / "pick_best").mkdir()
    (root / "pick_best" / "pipeline.yaml").write_text(PIPELINE)
    s = start_server(root, "--sim-gpus", "2")
    yield s
    assert s.stop() == 0, "\n".join(s.log)


def test_counts_outcomes_latencies_batches_and_devices(metrics_server):
    s = metrics_server
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(
            lambda i: s.post_json("/v2/models/double/infer", body("x", [i, 1, 2, 3])), range(48)))
    assert all(r.status == 200 for r in answers)
    for i in range(5):
        r = s.post_json("/v2/models/pick_best/infer", body("raw", [0, 9, i, 1]))
        assert r.status == 200 and r.json()["outputs"][0]["data"] == [1]
    # Failures of three kinds: a bad input, an expired deadline, an unknown model (not counted:
    # no such model to count it under).
    assert s.post_json("/v2/models/double/infer", body("nope", [1, 2, 3, 4])).status == 400
    assert s.post_json("/v2/models/double/infer", body("x", [1, 2, 3, 4], 1)).status == 504
    assert s.post_json("/v2/models/nobody/infer", body("x", [1, 2, 3, 4])).status == 404

    m = scrape(s)
    model = {"model": "double", "version": "1"}
    assert value(m, "tandem_ready") == 1
    assert value(m, "tandem_request_success_total", **model) == 48
    assert value(m, "tandem_request_failure_total", reason="invalid_argument", **model) == 1
    assert value(m, "tandem_request_failure_total", reason="deadline_exceeded", **model) == 1
    # The model computed its own 48 requests and the pipeline's 5 scale steps, in batches.
    assert value(m, "tandem_inference_count_total", **model) == 53
    executions = value(m, "tandem_execution_count_total", **model)
    assert 0 < executions < 53
    assert value(m, "tandem_batch_size_count", **model) == executions
    assert value(m, "tandem_batch_size_sum", **model) == 53
    assert value(m, "tandem_batch_size_bucket", le="+Inf", **model) == executions
    assert value(m, "tandem_batch_size_bucket", le="1", **model) < executions
    # Latency histograms: one observation per admitted request (the 400 was never admitted),
    # and a sim kernel takes at least 2 ms.
    assert value(m, "tandem_request_duration_seconds_count", **model) == 49
    assert value(m, "tandem_request_duration_seconds_bucket", le="0.001", **model) <= 1
    assert value(m, "tandem_queue_duration_seconds_count", **model) == 53
    assert value(m, "tandem_compute_duration_seconds_sum", **model) >= 53 * 0.002
    assert value(m, "tandem_queue_depth", **model) == 0
    assert value(m, "tandem_requests_in_flight", **model) == 0

    pipeline = {"model": "pick_best", "version": "1"}
    assert value(m, "tandem_request_success_total", **pipeline) == 5
    for step in ("scale", "pick"):
        assert value(m, "tandem_request_success_total", model="pick_best", step=step) == 5
        assert value(m, "tandem_request_duration_seconds_count", model="pick_best",
                     step=step) == 5
    # The op step runs batches of its own; the model step's are counted under its model.
    assert value(m, "tandem_execution_count_total", model="pick_best", step="pick") == 5
    assert ("tandem_execution_count_total", (("model", "pick_best"), ("step", "scale"))) not in m

    busy = [value(m, "tandem_device_busy_seconds_total", device=f"sim:{i}") for i in (0, 1)]
    assert sum(busy) >= (executions * 2000 + 53 * 100) * 1e-6 * 0.99
    assert value(m, "tandem_http_responses_total", code="200") >= 53
    assert value(m, "tandem_http_responses_total", code="504") == 1
    assert value(m, "tandem_process_resident_memory_bytes") > 1e6

    # Both loaded, their load times reported; sim models here report no weights.
    for entry in (model, pipeline):
        assert value(m, "tandem_model_state", state="READY", **entry) == 1
        assert value(m, "tandem_model_state", state="UNAVAILABLE", **entry) == 0
        assert value(m, "tandem_model_load_duration_seconds", **entry) > 0
    assert value(m, "tandem_device_loaded_models", device="sim:0") == 1
    assert value(m, "tandem_device_loaded_models", device="sim:1") == 1
    assert value(m, "tandem_device_loaded_models", device="cpu") == 0
    assert value(m, "tandem_device_loaded_model_bytes", device="sim:0") == 0


def test_a_step_failure_is_counted_under_its_step(metrics_server):
    s = metrics_server
    before = scrape(s)
    r = s.post_json("/v2/models/pick_best/infer", body("raw", [1, 2, 3, 4], timeout_us=1))
    assert r.status == 504 and "step 'scale'" in r.json()["error"]
    after = scrape(s)
    labels = {"model": "pick_best", "step": "scale", "reason": "deadline_exceeded"}
    assert (value(after, "tandem_request_failure_total", **labels)
            == value(before, "tandem_request_failure_total", absent=0, **labels) + 1)
    assert (value(after, "tandem_request_failure_total", model="pick_best", version="1",
                  reason="deadline_exceeded")
            == value(before, "tandem_request_failure_total", absent=0, model="pick_best",
                     version="1", reason="deadline_exceeded") + 1)
