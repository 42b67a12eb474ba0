"""Models that come and go while serving: the model control modes (none, explicit, poll), the
v2 repository load/unload routes, reloads under load, and what a pipeline does when its model
goes away. Sim models (y = x·scale + offset on a simulated GPU) keep it quick."""

import os
import shutil
import threading
import time

import pytest
import tritonclient.http as httpclient

from support.metrics import scrape, value
from support.models import WIDE_WEIGHT_BYTES, save_wide
from support.server import start_server, wait_for
from support.sim_repository import PIPELINE, sim_model, write



@pytest.fixture
def repo(tmp_path):
    write(tmp_path / "m" / "model.yaml", sim_model(1))
    write(tmp_path / "other" / "model.yaml", sim_model(5))
    write(tmp_path / "p" / "pipeline.yaml", PIPELINE)
    return tmp_path


def call(s, model, value=10.0):
    """y[0] for x = [value, value], or the failed response."""
    name = "a" if model == "p" else "x"
    r = s.post_json(f"/v2/models/{model}/infer",
                    {"inputs": [{"name": name, "datatype": "FP32", "shape": [1, 2],
                                 "data": [value, value]}]})
    return r.json()["outputs"][0]["data"][0] if r.status == 200 else r


def failed(answer):
    return hasattr(answer, "status")  # call's failed response, not a number


def index(s):
    r = s.post("/v2/repository/index")
    assert r.status == 200, r.body
    return {(e["name"], e.get("version", "")): e for e in r.json()}


def control(s, model, action, body=None):
    return s.post(f"/v2/repository/models/{model}/{action}", body or b"")


def test_mode_none_loads_everything_and_refuses_control(repo):
    s = start_server(repo, "--sim-gpus", "1")
    try:
        assert call(s, "m") == 11 and call(s, "p") == 11
        for action in ("load", "unload"):
            r = control(s, "m", action)
            assert r.status == 400, r.body
            assert "model control mode none" in r.json()["error"], r.body
        assert call(s, "m") == 11
    finally:
        assert s.stop() == 0


def test_explicit_mode_loads_what_is_asked_and_pipelines_bring_their_models(repo):
    s = start_server(repo, "--sim-gpus", "1", "--model-control-mode", "explicit",
                     "--load-model", "other")
    try:
        assert call(s, "other") == 15
        r = call(s, "m")
        assert r.status == 404 and "'m'" in r.json()["error"], r.body
        listed = index(s)
        assert listed[("m", "")]["state"] == "UNAVAILABLE"
        assert listed[("m", "")]["reason"] == "not loaded"
        assert listed[("other", "1")]["state"] == "READY"

        r = control(s, "p", "load")
        assert r.status == 200 and r.body == b"", r.body
        assert call(s, "p") == 11 and call(s, "m") == 11  # the pipeline brought its model

        # The pipeline loses its model, naming it, and regains it.
        assert control(s, "m", "unload").status == 200
        r = call(s, "p")
        assert r.status == 503 and "model 'm' is not loaded" in r.json()["error"], r.body
        assert s.get("/v2/health/ready").status != 200
        assert control(s, "m", "load").status == 200
        assert call(s, "p") == 11
        assert s.get("/v2/health/ready").status == 200

        assert control(s, "p", "unload").status == 200
        assert call(s, "p").status == 404
        r = control(s, "p", "unload")
        assert r.status == 404 and "'p' is not loaded" in r.json()["error"], r.body
        r = control(s, "nothing", "load")
        assert r.status == 404 and "no model or pipeline 'nothing'" in r.json()["error"], r.body
    finally:
        assert s.stop() == 0


def test_a_reload_under_load_fails_no_request_and_switches_answers(repo):
    s = start_server(repo, "--sim-gpus", "1", "--model-control-mode", "explicit",
                     "--load-model", "p")
    answers, failures, stop = [], [], threading.Event()

    def client(model):
        while not stop.is_set():
            y = call(s, model)
            (failures if failed(y) else answers).append(y)

    threads = [threading.Thread(target=client, args=(m,)) for m in ("m", "p", "m", "p")]
    try:
        for t in threads:
            t.start()
        time.sleep(0.3)
        write(repo / "m" / "model.yaml", sim_model(2))
        for _ in range(5):
            r = control(s, "m", "load")
            assert r.status == 200, r.body
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()
    try:
        assert not failures, [f.body for f in failures[:3]]
        assert 11 in answers and 12 in answers
        assert set(answers) == {11, 12}
        assert answers[-1] == 12 or call(s, "m") == 12
    finally:
        assert s.stop() == 0


def test_a_failed_reload_keeps_the_old_version_serving_and_says_why(repo):
    s = start_server(repo, "--sim-gpus", "1", "--model-control-mode", "explicit",
                     "--load-model", "*")
    try:
        write(repo / "m" / "model.yaml", "backend: sim\nmax_batch_size: lots\n")
        r = control(s, "m", "load")
        assert r.status == 400 and "max_batch_size" in r.json()["error"], r.body
        write(repo / "m" / "model.yaml",
              sim_model(3).replace("devices: sim,", "devices: [sim:9],"))
        r = control(s, "m", "load")
        assert r.status == 503 and "sim:9" in r.json()["error"], r.body
        assert "still serve" in r.json()["error"]
        assert call(s, "m") == 11 and call(s, "p") == 11
        r = control(s, "m", "load", b"[1]")
        assert r.status == 400 and "JSON object" in r.json()["error"]
        r = control(s, "m", "load", b'{"parameters": {"config": "{}"}}')
        assert r.status == 400 and "'config' is not supported" in r.json()["error"], r.body
    finally:
        assert s.stop() == 0


def test_tritonclient_loads_unloads_and_lists(repo):
    s = start_server(repo, "--sim-gpus", "1", "--model-control-mode", "explicit")
    try:
        assert s.get("/v2/health/ready").status == 200  # nothing loaded yet is ready
        client = httpclient.InferenceServerClient(f"127.0.0.1:{s.port}")
        client.load_model("other")
        assert client.is_model_ready("other")
        names = {m["name"]: m for m in client.get_model_repository_index()}
        assert set(names) == {"m", "other", "p"} and names["other"]["state"] == "READY"
        client.unload_model("other")
        assert not client.is_model_ready("other")
    finally:
        assert s.stop() == 0


def test_poll_mode_follows_the_repository(repo):
    s = start_server(repo, "--sim-gpus", "1", "--model-control-mode", "poll",
                     "--repository-poll-secs", "1")
    try:
        assert call(s, "m") == 11
        r = control(s, "m", "load")
        assert r.status == 400 and "rescanned" in r.json()["error"], r.body
        # A changed file reloads the model (and the pipeline over it).
        write(repo / "m" / "model.yaml", sim_model(4))
        assert wait_for(lambda: call(s, "m") == 14 and call(s, "p") == 14)
        # A new model loads; a new version folder serves.
        write(repo / "late" / "model.yaml", sim_model(7))
        assert wait_for(lambda: call(s, "late") == 17)
        (repo / "late" / "3").mkdir()
        assert wait_for(lambda: index(s).get(("late", "3"), {}).get("state") == "READY")
        # A removed model unloads.
        shutil.rmtree(repo / "other")
        assert wait_for(lambda: failed(call(s, "other")))
        assert call(s, "other").status == 404
    finally:
        assert s.stop() == 0


def test_a_load_past_the_memory_limit_is_refused_and_the_weights_are_counted(tmp_path):
    """A cpu limit that holds one of two 8 MB models: the second load is refused naming the
    limit, and so is a reload of the first (it would sit beside the old one); unloading makes
    room. /metrics counts the bytes LibTorch holds for the weights, exactly."""
    save_wide(tmp_path / "wide")
    shutil.copytree(tmp_path / "wide", tmp_path / "wide2")
    s = start_server(tmp_path, "--model-control-mode", "explicit",
                     "--model-load-memory-limit", "cpu=12000000")
    body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 1024],
                        "data": [0.5] * 1024}]}
    try:
        assert control(s, "wide", "load").status == 200
        m = scrape(s)
        assert value(m, "tandem_device_loaded_model_bytes", device="cpu") == WIDE_WEIGHT_BYTES
        assert value(m, "tandem_device_loaded_models", device="cpu") == 1
        assert value(m, "tandem_device_model_memory_limit_bytes", device="cpu") == 12000000
        assert value(m, "tandem_model_state", model="wide", version="1", state="READY") == 1
        assert value(m, "tandem_model_load_duration_seconds", model="wide", version="1") > 0

        for name in ("wide2", "wide"):
            r = control(s, name, "load")
            assert r.status == 400, r.body
            assert "--model-load-memory-limit" in r.json()["error"], r.body
            assert "on cpu" in r.json()["error"], r.body
        assert index(s)[("wide2", "1")]["state"] == "UNAVAILABLE"
        assert s.post_json("/v2/models/wide/infer", body).status == 200

        assert control(s, "wide", "unload").status == 200
        assert value(scrape(s), "tandem_device_loaded_model_bytes", device="cpu") == 0
        assert control(s, "wide2", "load").status == 200
        assert s.post_json("/v2/models/wide2/infer", body).status == 200
    finally:
        assert s.stop() == 0


@pytest.mark.skipif("ASAN_OPTIONS" in os.environ or "TSAN_OPTIONS" in os.environ,
                    reason="the sanitizers' allocators keep freed memory")
def test_load_infer_unload_cycles_give_their_memory_back(tmp_path):
    """60 cycles of an 8 MB model: after the first 10, where the heap settles, the server's
    resident memory grows by less than 48 MiB (it would by 8 MB a cycle if a load stayed)."""
    save_wide(tmp_path / "wide")
    s = start_server(tmp_path, "--model-control-mode", "explicit")
    body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 1024],
                        "data": [0.5] * 1024}]}
    try:
        settled = None
        for cycle in range(60):
            assert control(s, "wide", "load").status == 200
            r = s.post_json("/v2/models/wide/infer", body)
            assert r.status == 200 and len(r.json()["outputs"][0]["data"]) == 2048, r.body
            assert control(s, "wide", "unload").status == 200
            if cycle == 9:
                settled = s.resident_bytes()
        grown = s.resident_bytes() - settled
        assert grown < 48 << 20, f"grew {grown >> 20} MiB over 50 cycles"
    finally:
        assert s.stop() == 0
