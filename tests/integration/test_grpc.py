"""The v2 gRPC service through the stock tritonclient.grpc client: health, metadata, config,
index, statistics, model control, infer (raw and typed contents, requested outputs, batches,
request ids, async, the stream, a 24 MB tensor, compressed messages), errors with their gRPC
status codes and the same messages as HTTP, and the calls' lifecycle (a drain, clients that go
away mid-call)."""

import queue
import signal
import threading
import time

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from support.server import start_server, wait_for


@pytest.fixture(scope="module")
def grpc_server(repository):
    """A server with the default limits (64 MiB messages), on the test repository."""
    s = start_server(repository, "--default-model", "classifier")
    yield s
    assert s.stop() == 0, "\n".join(s.log)


@pytest.fixture
def client(grpc_server):
    c = grpcclient.InferenceServerClient(grpc_server.grpc_address)
    yield c
    c.close()


def tensor(name, array, datatype):
    t = grpcclient.InferInput(name, list(array.shape), datatype)
    t.set_data_from_numpy(array)
    return t


def code_of(call):
    with pytest.raises(InferenceServerException) as error:
        call()
    return error.value.status(), error.value.message()


def test_health_and_metadata(client):
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("classifier")
    assert not client.is_model_ready("nope")
    meta = client.get_server_metadata()
    assert meta.name == "tandem" and "statistics" in meta.extensions
    model = client.get_model_metadata("classifier", as_json=True)
    assert model["platform"] == "pytorch_libtorch" and model["versions"] == ["1"]
    assert model["inputs"] == [{"name": "image", "datatype": "FP32",
                                "shape": ["-1", "3", "16", "16"]}]
    assert client.get_model_metadata("versioned", model_version="1").versions == ["1"]


def test_config_in_the_shape_perf_analyzer_reads(client):
    config = client.get_model_config("classifier").config
    assert config.max_batch_size == 8 and config.platform == "pytorch_libtorch"
    assert [(i.name, i.data_type, list(i.dims)) for i in config.input] == [
        ("image", grpcclient.model_config_pb2.TYPE_FP32, [3, 16, 16])]
    assert config.output[0].name == "probabilities"


def test_infer_raw_and_typed_with_requested_outputs_and_ids(client, repository):
    import torch

    image = np.random.default_rng(5).random((3, 3, 16, 16), dtype=np.float32)
    result = client.infer("classifier", [tensor("image", image, "FP32")], request_id="r-1")
    module = torch.jit.load(str(repository / "classifier" / "1" / "model.pt"))
    expected = module(torch.from_numpy(image)).detach().numpy()
    np.testing.assert_allclose(result.as_numpy("probabilities"), expected, rtol=1e-5, atol=1e-6)
    assert result.get_response().id == "r-1"

    x = np.array([[-3, 0, 300]], np.int64)
    result = client.infer("integers", [tensor("x", x, "INT64")],
                          outputs=[grpcclient.InferRequestedOutput("positive"),
                                   grpcclient.InferRequestedOutput("doubled")])
    assert [o.name for o in result.get_response().outputs] == ["positive", "doubled"]
    assert result.as_numpy("doubled").tolist() == [[-6, 0, 600]]
    assert result.as_numpy("positive").tolist() == [[False, False, True]]

    # Typed contents, as other gRPC clients send them.
    request = grpcclient.service_pb2.ModelInferRequest(model_name="two_outputs")
    request.inputs.add(name="x", datatype="FP32", shape=[1, 3]).contents.fp32_contents.extend(
        [1.0, 2.0, 4.0])
    response = client._client_stub.ModelInfer(request)
    total = np.frombuffer(response.raw_output_contents[1], np.float32)
    assert [o.name for o in response.outputs] == ["doubled", "total"] and total.tolist() == [7.0]


def test_async_requests_are_batched_and_each_gets_its_own(client):
    answers = queue.Queue()
    for i in range(16):
        x = np.full((1, 1), float(i), np.float32)
        client.async_infer("versioned", [tensor("x", x, "FP32")],
                           lambda result, error, i=i: answers.put((i, result, error)),
                           request_id=str(i))
    for _ in range(16):
        i, result, error = answers.get(timeout=30)
        assert error is None, error
        assert result.get_response().id == str(i)
        assert result.as_numpy("y").tolist() == [[i + 2.0]]


def test_the_stream_answers_each_request_with_its_id(client):
    answers = queue.Queue()
    client.start_stream(callback=lambda result, error: answers.put((result, error)))
    try:
        for i in range(6):
            x = np.full((1, 1), float(i), np.float32)
            client.async_stream_infer("versioned", [tensor("x", x, "FP32")], request_id=f"s{i}")
        client.async_stream_infer("nope", [tensor("x", np.ones((1, 1), np.float32), "FP32")],
                                  request_id="bad")
        got = {}
        for _ in range(7):
            result, error = answers.get(timeout=30)
            if error is not None:
                got["bad"] = error
            else:
                got[result.get_response().id] = result.as_numpy("y").tolist()
    finally:
        client.stop_stream()
    assert {k: v for k, v in got.items() if k != "bad"} == {
        f"s{i}": [[i + 2.0]] for i in range(6)}
    assert "unknown model 'nope'" in str(got["bad"])


def test_a_24_mb_tensor(client):
    x = np.random.default_rng(7).random((1, 6 << 20), dtype=np.float32)
    result = client.infer("two_outputs", [tensor("x", x, "FP32")], client_timeout=120)
    np.testing.assert_array_equal(result.as_numpy("doubled"), x * 2)


def test_compressed_messages_inflate_within_the_limit(client):
    x = np.arange(12, dtype=np.float32).reshape(1, 12)
    for algorithm in ("gzip", "deflate"):
        result = client.infer("two_outputs", [tensor("x", x, "FP32")],
                              compression_algorithm=algorithm)
        np.testing.assert_array_equal(result.as_numpy("doubled"), x * 2)
    # 72 MiB of zeros, about 70 KiB once gzipped: over the 64 MiB limit as it inflates.
    zeros = np.zeros((1, 18 << 20), np.float32)
    status, message = code_of(lambda: client.infer(
        "two_outputs", [tensor("x", zeros, "FP32")], compression_algorithm="gzip",
        client_timeout=120))
    assert status == "StatusCode.RESOURCE_EXHAUSTED" and "larger than max" in message, message


def test_errors_carry_grpc_codes_and_the_http_messages(client, grpc_server):
    x = np.ones((1, 1), np.float32)
    assert code_of(lambda: client.infer("nope", [tensor("x", x, "FP32")])) == (
        "StatusCode.NOT_FOUND", "unknown model 'nope'")
    status, message = code_of(lambda: client.infer("versioned", [tensor("z", x, "FP32")]))
    http = grpc_server.post_json("/v2/models/versioned/infer", {"inputs": [
        {"name": "z", "shape": [1, 1], "datatype": "FP32", "data": [1.0]}]})
    assert status == "StatusCode.INVALID_ARGUMENT" and message == http.json()["error"]
    status, message = code_of(lambda: client.infer(
        "two_outputs", [tensor("x", x, "FP32")],
        outputs=[grpcclient.InferRequestedOutput("total")] * 2))
    assert (status, message) == ("StatusCode.INVALID_ARGUMENT",
                                 "output 'total' already exists in request")
    negative = -np.ones((1, 2), np.float32)
    status, message = code_of(lambda: client.infer("faulty", [tensor("x", negative, "FP32")]))
    assert status == "StatusCode.INTERNAL" and "negative input is not allowed" in message
    status, message = code_of(lambda: client.infer(
        "greedy", [tensor("x", np.full((1, 1), 5.0, np.float32), "FP32")]))
    assert status == "StatusCode.RESOURCE_EXHAUSTED" and "out of host memory" in message
    status, _ = code_of(lambda: client.infer("versioned", [tensor("x", x, "FP32")],
                                             timeout=1))  # 1 µs: expired before it runs
    assert status == "StatusCode.DEADLINE_EXCEEDED"
    # Model control is off (mode none): refused, saying why.
    status, message = code_of(lambda: client.load_model("classifier"))
    assert status == "StatusCode.INVALID_ARGUMENT" and "model control mode none" in message


def test_statistics_and_index(client):
    before = client.get_inference_statistics("classifier").model_stats[0].inference_count
    client.infer("classifier", [tensor("image", np.zeros((2, 3, 16, 16), np.float32), "FP32")])
    stats = client.get_inference_statistics("classifier").model_stats[0]
    assert stats.name == "classifier" and stats.inference_count == before + 2
    assert stats.inference_stats.success.count >= 1
    index = {m.name: m for m in client.get_model_repository_index().models}
    assert index["classifier"].state == "READY"


def test_model_control_over_grpc(tmp_path):
    from support.sim_repository import sim_model, write

    write(tmp_path / "m" / "model.yaml", sim_model(1))
    s = start_server(tmp_path, "--sim-gpus", "1", "--model-control-mode", "explicit")
    c = grpcclient.InferenceServerClient(s.grpc_address)
    try:
        assert not c.is_model_ready("m")
        c.load_model("m")
        assert c.is_model_ready("m")
        result = c.infer("m", [tensor("x", np.full((1, 2), 10.0, np.float32), "FP32")])
        assert result.as_numpy("y").tolist() == [[11.0, 11.0]]
        c.unload_model("m")
        assert code_of(lambda: c.unload_model("m"))[0] == "StatusCode.NOT_FOUND"
        assert code_of(lambda: c.load_model("absent"))[0] == "StatusCode.NOT_FOUND"
    finally:
        c.close()
        assert s.stop() == 0, "\n".join(s.log)


def test_sagemaker_mode_opens_no_grpc_port(tmp_path):
    from support.sim_repository import sim_model, write

    write(tmp_path / "m" / "model.yaml", sim_model(1))
    s = start_server(tmp_path, "--sim-gpus", "1", "--allow-grpc", "false")
    try:
        assert not any("GRPCInferenceService" in line for line in s.log)
    finally:
        assert s.stop() == 0


def test_calls_in_flight_are_answered_when_the_server_drains(tmp_path):
    """SIGTERM while a unary call and a stream request are in the engine: both are answered, and
    the server exits 0 (its completion queues close only after the last call)."""
    from support.sim_repository import SIM, write

    write(tmp_path / "slow" / "model.yaml", SIM.format(offset=1, weight_bytes=0).replace(
        "latency_us: 2000", "latency_us: 600000"))
    s = start_server(tmp_path, "--sim-gpus", "1")
    c = grpcclient.InferenceServerClient(s.grpc_address)
    try:
        x = np.zeros((1, 2), np.float32)
        unary, streamed = queue.Queue(), queue.Queue()
        c.async_infer("slow", [tensor("x", x, "FP32")],
                      callback=lambda result, error: unary.put((result, error)))
        c.start_stream(callback=lambda result, error: streamed.put((result, error)))
        c.async_stream_infer("slow", [tensor("x", x, "FP32")], request_id="in-flight")
        assert wait_for(lambda: in_flight(s, "slow") == 2)  # both admitted, neither answered
        s.process.send_signal(signal.SIGTERM)
        for answers in (unary, streamed):
            result, error = answers.get(timeout=30)
            assert error is None, error
            assert result.as_numpy("y").tolist() == [[1.0, 1.0]]
        c.stop_stream()
        assert s.process.wait(timeout=30) == 0, "\n".join(s.log)
    finally:
        c.close()
        s.stop()


def test_clients_that_go_away_mid_call_leave_the_server_serving(tmp_path):
    """Clients that close with unary calls (some past their deadline) and a stream in flight:
    the server answers into the void, frees each call once, keeps serving, and drains cleanly
    with more of them in flight (the sanitizer run checks the frees)."""
    from support.sim_repository import SIM, write

    write(tmp_path / "slow" / "model.yaml", SIM.format(offset=1, weight_bytes=0).replace(
        "latency_us: 2000", "latency_us: 50000"))
    s = start_server(tmp_path, "--sim-gpus", "1")
    x = np.zeros((1, 2), np.float32)

    def abandon():
        c = grpcclient.InferenceServerClient(s.grpc_address)
        for i in range(8):
            c.async_infer("slow", [tensor("x", x, "FP32")], callback=lambda result, error: None,
                          client_timeout=0.01 if i % 2 else None)
        c.start_stream(callback=lambda result, error: None)
        for i in range(4):
            c.async_stream_infer("slow", [tensor("x", x, "FP32")], request_id=str(i))
        c.async_stream_infer("nope", [tensor("x", x, "FP32")], request_id="unknown")
        time.sleep(0.01)
        c.close()

    try:
        for _ in range(3):
            abandon()
        c = grpcclient.InferenceServerClient(s.grpc_address)
        assert c.infer("slow", [tensor("x", x, "FP32")]).as_numpy("y").tolist() == [[1.0, 1.0]]
        c.close()
        abandon()
        assert s.stop() == 0, "\n".join(s.log)
    finally:
        s.stop()


def in_flight(server, model):
    """The server's tandem_requests_in_flight for `model`."""
    lines = server.get("/metrics").body.decode().splitlines()
    return int(float(next(line for line in lines
                          if line.startswith(f'tandem_requests_in_flight{{model="{model}"'))
                     .split()[-1]))
