"""Pipelines over real HTTP: DAGs of model steps, placement, and failures confined to a run."""

import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from support.server import start_server

SIM_STEP = """\
backend: sim
max_batch_size: 8
inputs: [{{name: x, datatype: FP32, shape: [4]}}]
outputs: [{{name: y, datatype: FP32, shape: [4]}}]
instances: [{{devices: sim, count: 1}}]
dynamic_batching: {{max_queue_delay_us: 1000}}
parameters: {{latency_us: 1000, per_item_us: 50, scale: {scale}, offset: {offset}}}
"""

SIM_PIPELINE = """\
placement: {placement}
inputs: [{{name: raw, datatype: FP32, shape: [1, 4]}}]
outputs: [{{name: result, datatype: FP32, shape: [1, 4]}}]
steps:
  - {{name: second, model: step_b, inputs: {{x: middle}}, outputs: {{y: result}}}}
  - {{name: first, model: step_a, inputs: {{x: raw}}, outputs: {{y: middle}}}}
"""


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture(scope="module")
def sim_pipelines(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipelines")
    write(root / "step_a" / "model.yaml", SIM_STEP.format(scale=3, offset=0.5))
    write(root / "step_b" / "model.yaml", SIM_STEP.format(scale=2, offset=1))
    write(root / "kept" / "pipeline.yaml", SIM_PIPELINE.format(placement="affinity"))
    write(root / "spread" / "pipeline.yaml", SIM_PIPELINE.format(placement="free"))
    write(root / "logits" / "model.yaml", """\
backend: sim
max_batch_size: 4
inputs: [{name: x, datatype: FP32, shape: [3, 2, 2]}]
outputs: [{name: y, datatype: FP32, shape: [3, 2, 2]}]
parameters: {latency_us: 100, scale: 1, offset: 0}
""")
    write(root / "classes" / "pipeline.yaml", """\
inputs: [{name: image, datatype: FP32, shape: [-1, 3, 2, 2]}]
outputs: [{name: trimap, datatype: UINT8, shape: [-1, 2, 2]}]
steps:
  - {name: segment, model: logits, inputs: {x: image}, outputs: {y: scores}}
  - {name: pick, op: argmax, inputs: {input: scores}, outputs: {indices: classes},
     params: {dim: 1}}
  - {name: levels, op: map_values, inputs: {input: classes}, outputs: {output: trimap},
     params: {values: {1: 128, 2: 255}}}
""")
    s = start_server(root, "--sim-gpus", "4")
    yield s
    assert s.stop() == 0, "\n".join(s.log)


def per_device(server, model):
    (entry,) = server.get(f"/v2/models/{model}/stats").json()["model_stats"]
    return {i["device"]: i["inference_count"] for i in entry["instances"]}


def run_clients(server, pipeline, clients=32, each=10):
    def client(c):
        for i in range(each):
            x = [float(c), float(i), -2.0, 0.5]
            r = server.post_json(f"/v2/models/{pipeline}/infer",
                                 {"inputs": [{"name": "raw", "shape": [1, 4], "datatype": "FP32",
                                              "data": x}]})
            assert r.status == 200, r.body
            assert r.json()["outputs"][0]["data"] == [(v * 3 + 0.5) * 2 + 1 for v in x]

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))


def test_a_pipeline_is_served_like_a_model(sim_pipelines):
    meta = sim_pipelines.get("/v2/models/kept").json()
    assert meta["platform"] == "pipeline"
    assert meta["inputs"] == [{"name": "raw", "datatype": "FP32", "shape": [1, 4]}]
    assert sim_pipelines.get("/v2/models/kept/ready").status == 200
    index = {e["name"]: e["state"] for e in sim_pipelines.post("/v2/repository/index", b"").json()}
    assert index["kept"] == "READY" and index["spread"] == "READY"


def test_a_pipelines_statistics_count_each_request_once(sim_pipelines):
    def stats():
        (entry,) = sim_pipelines.get("/v2/models/kept/stats").json()["model_stats"]
        return entry

    before = stats()
    run_clients(sim_pipelines, "kept", clients=2, each=3)
    after = stats()
    delta = {k: {f: after["inference_stats"][k][f] - before["inference_stats"][k][f]
                 for f in ("count", "ns")} for k in after["inference_stats"]}
    # As a model's: every request queued and computed once (a pipeline has no queue of its own,
    # its run is its compute), one execution of one item each, within its time to the answer.
    for phase in ("success", "queue", "compute_input", "compute_infer", "compute_output"):
        assert delta[phase]["count"] == 6, (phase, delta)
    assert after["execution_count"] - before["execution_count"] == 6
    assert after["inference_count"] - before["inference_count"] == 6
    assert delta["queue"]["ns"] == 0
    assert 0 < delta["compute_infer"]["ns"] <= delta["success"]["ns"]


def test_affinity_keeps_each_run_on_one_device(sim_pipelines):
    a0, b0 = per_device(sim_pipelines, "step_a"), per_device(sim_pipelines, "step_b")
    run_clients(sim_pipelines, "kept")
    a1, b1 = per_device(sim_pipelines, "step_a"), per_device(sim_pipelines, "step_b")
    a = {d: a1[d] - a0[d] for d in a1}
    b = {d: b1[d] - b0[d] for d in b1}
    # Every run's two steps ran on the same device, so each device did both steps equally often.
    assert a == b, (a, b)
    assert sum(a.values()) == 320
    assert sum(1 for n in a.values() if n > 0) >= 2, a  # runs spread over devices


def test_free_placement_spreads_steps(sim_pipelines):
    a0, b0 = per_device(sim_pipelines, "step_a"), per_device(sim_pipelines, "step_b")
    run_clients(sim_pipelines, "spread")
    a1, b1 = per_device(sim_pipelines, "step_a"), per_device(sim_pipelines, "step_b")
    for before, after in ((a0, a1), (b0, b1)):
        delta = {d: after[d] - before[d] for d in after}
        assert sum(delta.values()) == 320
        assert all(n > 0 for n in delta.values()), delta


def test_a_pipeline_request_past_its_deadline_gets_504(tmp_path):
    write(tmp_path / "slow" / "model.yaml", SIM_STEP.replace("latency_us: 1000", "latency_us: 300000")
          .format(scale=1, offset=0).replace("devices: sim", "devices: [sim:0]"))
    write(tmp_path / "fast" / "model.yaml", SIM_STEP.format(scale=1, offset=0))
    write(tmp_path / "wait" / "pipeline.yaml", """\
inputs: [{name: raw, datatype: FP32, shape: [1, 4]}]
outputs: [{name: result, datatype: FP32, shape: [1, 4]}]
steps:
  - {name: first, model: slow, inputs: {x: raw}, outputs: {y: middle}}
  - {name: second, model: fast, inputs: {x: middle}, outputs: {y: result}}
""")
    s = start_server(tmp_path, "--sim-gpus", "1")
    try:
        body = {"inputs": [{"name": "raw", "shape": [1, 4], "datatype": "FP32",
                            "data": [1.0] * 4}], "parameters": {"timeout": 1000}}
        # The slow step holds the only device 300 ms a request: of four requests with a 1 ms
        # deadline at most one can start in time.
        with ThreadPoolExecutor(4) as pool:
            responses = list(pool.map(lambda _: s.post_json("/v2/models/wait/infer", body),
                                      range(4)))
        statuses = [r.status for r in responses]
        assert set(statuses) <= {200, 504} and statuses.count(504) >= 3, statuses
        for r in responses:
            if r.status == 504:
                assert "pipeline 'wait' step" in r.json()["error"]
    finally:
        assert s.stop() == 0


def test_built_in_ops_run_as_steps(sim_pipelines):
    import numpy as np
    scores = np.random.default_rng(3).random((2, 3, 2, 2), dtype=np.float32)
    r = sim_pipelines.post_json("/v2/models/classes/infer",
                                {"inputs": [{"name": "image", "shape": [2, 3, 2, 2],
                                             "datatype": "FP32",
                                             "data": scores.flatten().tolist()}]})
    assert r.status == 200, r.body
    (out,) = r.json()["outputs"]
    assert out["datatype"] == "UINT8" and out["shape"] == [2, 2, 2]
    expected = np.array([0, 128, 255], np.uint8)[scores.argmax(axis=1)]
    assert out["data"] == expected.flatten().tolist()


def test_a_failing_step_fails_only_its_own_request(repository, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(repository / "faulty", repo / "faulty")
    shutil.copytree(repository / "versioned", repo / "versioned")
    write(repo / "guarded" / "pipeline.yaml", """\
inputs: [{name: x, datatype: FP32, shape: [1, 2]}]
outputs: [{name: y, datatype: FP32, shape: [1, 2]}]
steps: [{name: check, model: faulty, inputs: {x: x}, outputs: {y: y}}]
""")
    write(repo / "chain" / "pipeline.yaml", """\
inputs: [{name: raw, datatype: FP32, shape: [-1, 1]}]
outputs: [{name: result, datatype: FP32, shape: [-1, 1]}]
steps:
  - {name: first, model: versioned, inputs: {x: raw}, outputs: {y: middle}}
  - {name: second, model: versioned, inputs: {x: middle}, outputs: {y: result}}
""")
    s = start_server(repo)
    try:
        def call(value):
            return s.post_json("/v2/models/guarded/infer",
                               {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32",
                                            "data": [value, 1.0]}]})

        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(call, [-1.0 if i % 4 == 0 else float(i) for i in range(32)]))
        for i, r in enumerate(responses):
            if i % 4 == 0:
                assert r.status == 500
                message = r.json()["error"]
                assert "pipeline 'guarded' step 'check'" in message
                assert "negative input is not allowed" in message
            else:
                assert r.status == 200 and r.json()["outputs"][0]["data"] == [i + 1.0, 2.0]

        # Two TorchScript steps in a row: versioned adds 2 (its highest version) each time.
        r = s.post_json("/v2/models/chain/infer",
                        {"inputs": [{"name": "raw", "shape": [1, 1], "datatype": "FP32",
                                     "data": [10.0]}]})
        assert r.status == 200, r.body
        assert r.json()["outputs"][0]["data"] == [14.0]
        # A batch the first model refuses (its max_batch_size is 1) is a 400 naming the step.
        r = s.post_json("/v2/models/chain/infer",
                        {"inputs": [{"name": "raw", "shape": [2, 1], "datatype": "FP32",
                                     "data": [1.0, 2.0]}]})
        assert r.status == 400, r.body
        assert "pipeline 'chain' step 'first'" in r.json()["error"]
        assert "batch size 2" in r.json()["error"]
    finally:
        assert s.stop() == 0
