"""Built-in image ops in a pipeline, fed JPEG and PNG bodies over SageMaker's /invocations and
v2, checked against the same processing done with Pillow and PyTorch."""

import io
import json

import numpy as np
import pytest
import torch
import tritonclient.http as httpclient
from PIL import Image

from support.server import start_server

PIPELINE = """\
inputs: [{name: image_bytes, datatype: BYTES, shape: [1]}]
outputs:
  - {name: png, datatype: BYTES, shape: [1]}
  - {name: tensor, datatype: FP32, shape: [1, 3, 16, 16]}
  - {name: mask_png, datatype: BYTES, shape: [1]}
steps:
  - {name: decode, op: image.decode, inputs: {bytes: image_bytes}, outputs: {image: rgb}}
  - {name: again, op: image.encode_png, inputs: {image: rgb}, outputs: {png: png}}
  - {name: prep, op: image.preprocess, inputs: {image: rgb}, outputs: {tensor: tensor},
     params: {size: [16, 16], mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]}}
  - {name: pick, op: argmax, inputs: {input: tensor}, outputs: {indices: classes}}
  - {name: levels, op: map_values, inputs: {input: classes}, outputs: {output: small_mask},
     params: {values: {1: 128, 2: 255}}}
  - {name: grow, op: image.resize_to, inputs: {image: small_mask, like: rgb},
     outputs: {image: mask}}
  - {name: encode, op: image.encode_png, inputs: {image: mask}, outputs: {png: mask_png}}
"""


# A pipeline whose only output is an image.
REENCODE = """\
inputs: [{name: image_bytes, datatype: BYTES, shape: [1]}]
outputs: [{name: png, datatype: BYTES, shape: [1]}]
steps:
  - {name: decode, op: image.decode, inputs: {bytes: image_bytes}, outputs: {image: rgb}}
  - {name: encode, op: image.encode_png, inputs: {image: rgb}, outputs: {png: png}}
"""

# The same image under each PNG filter and a range of compression levels.
PNG_OPTIONS = {"default": {}, "none": {"compress_level": 0, "filter": "none"},
               "sub": {"compress_level": 1, "filter": "sub"},
               "average": {"compress_level": 3, "filter": "average"},
               "paeth": {"compress_level": 6, "filter": "paeth"},
               "adaptive": {"compress_level": 9, "filter": "adaptive"}}
PNGS = "\n".join([
    "inputs: [{name: image_bytes, datatype: BYTES, shape: [1]}]",
    "outputs:",
    *[f"  - {{name: {name}, datatype: BYTES, shape: [1]}}" for name in PNG_OPTIONS],
    "steps:",
    "  - {name: decode, op: image.decode, inputs: {bytes: image_bytes}, outputs: {image: rgb}}",
    *[f"  - {{name: encode_{name}, op: image.encode_png, inputs: {{image: rgb}}, "
      f"outputs: {{png: {name}}}, params: {json.dumps(params)}}}"
      for name, params in PNG_OPTIONS.items()]]) + "\n"


@pytest.fixture(scope="module")
def image_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("image_repo")
    (root / "images").mkdir()
    (root / "images" / "pipeline.yaml").write_text(PIPELINE)
    (root / "reencode").mkdir()
    (root / "reencode" / "pipeline.yaml").write_text(REENCODE)
    (root / "pngs").mkdir()
    (root / "pngs" / "pipeline.yaml").write_text(PNGS)
    s = start_server(root, "--default-model", "images")
    yield s
    assert s.stop() == 0, "\n".join(s.log)


def picture(width, height, fmt):
    """An odd-sized test picture with smooth gradients and some structure, encoded as `fmt`."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // max(1, width - 1), y * 255 // max(1, height - 1),
                    ((x // 3 + y // 5) % 2) * 200], axis=-1).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format=fmt, quality=95)
    return buf.getvalue()


def reference(rgb):
    """What the pipeline should compute from decoded pixels `rgb`, with Pillow and PyTorch as a
    handler would: PIL's resize, ToTensor's ÷255, Normalize, argmax, a level table, PIL's
    nearest resize back."""
    small = np.array(Image.fromarray(rgb).resize((16, 16), Image.BILINEAR))
    x = torch.from_numpy(small).permute(2, 0, 1).unsqueeze(0).float().div(255)
    tensor = x.sub(0.5).div(0.25).numpy()
    levels = np.array([0, 128, 255], np.uint8)[tensor.argmax(axis=1)[0]]
    mask = np.array(Image.fromarray(levels).resize((rgb.shape[1], rgb.shape[0]), Image.NEAREST))
    return tensor, mask


def infer_v2(server, encoded):
    header = json.dumps({
        "inputs": [{"name": "image_bytes", "shape": [1], "datatype": "BYTES",
                    "parameters": {"binary_data_size": len(encoded) + 4}}],
        "outputs": [{"name": "tensor"}, {"name": "mask_png", "parameters": {"binary_data": True}},
                    {"name": "png", "parameters": {"binary_data": True}}]}).encode()
    body = header + len(encoded).to_bytes(4, "little") + encoded
    r = server.post("/v2/models/images/infer", body,
                    headers={"Inference-Header-Content-Length": str(len(header))})
    assert r.status == 200, r.body
    json_length = int(r.headers["inference-header-content-length"])
    doc = json.loads(r.body[:json_length])
    outputs, offset = {}, json_length
    for out in doc["outputs"]:
        if "data" in out:
            outputs[out["name"]] = np.array(out["data"], np.float32).reshape(out["shape"])
        else:
            size = out["parameters"]["binary_data_size"]
            raw = r.body[offset:offset + size]
            offset += size
            outputs[out["name"]] = raw[4:]  # one BYTES element: 4-byte length, then the PNG
    return outputs


@pytest.mark.parametrize("fmt,size", [("PNG", (37, 23)), ("JPEG", (41, 29)), ("PNG", (1, 1))])
def test_image_ops_match_pillow_and_pytorch(image_server, fmt, size):
    encoded = picture(*size, fmt)
    rgb = np.array(Image.open(io.BytesIO(encoded)).convert("RGB"))
    out = infer_v2(image_server, encoded)
    # The decoded pixels come back losslessly through PNG. Both decoders are libjpeg-turbo or
    # lossless PNG, so pixels agree to within one level.
    decoded = np.asarray(Image.open(io.BytesIO(out["png"])))
    assert decoded.shape == rgb.shape
    assert np.abs(decoded.astype(int) - rgb.astype(int)).max() <= 1
    # From the same pixels, every later step is exact.
    tensor, mask = reference(decoded)
    np.testing.assert_array_equal(out["tensor"], tensor)
    got_mask = np.asarray(Image.open(io.BytesIO(out["mask_png"])))
    np.testing.assert_array_equal(got_mask, mask)


def test_sagemaker_image_in_png_out(image_server):
    encoded = picture(20, 12, "PNG")
    r = image_server.post("/invocations", encoded,
                          headers={"Content-Type": "image/png", "Accept": "image/png"})
    assert r.status == 200, r.body
    assert r.headers["content-type"] == "image/png"
    # The first BYTES output, in config order, is the re-encoded original.
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(r.body))),
                          np.asarray(Image.open(io.BytesIO(encoded))))
    # Asked for JSON, the PNG outputs (not text) travel as binary data after the JSON.
    r = image_server.post("/invocations", picture(20, 12, "JPEG"),
                          headers={"Content-Type": "image/jpeg"})
    assert r.status == 200, r.body
    doc = json.loads(r.body[:int(r.headers["inference-header-content-length"])])
    outputs = {o["name"]: o for o in doc["outputs"]}
    assert list(outputs) == ["png", "tensor", "mask_png"]
    assert "data" in outputs["tensor"]
    assert "binary_data_size" in outputs["png"]["parameters"]


def test_bad_images_are_400s(image_server):
    r = image_server.post("/invocations", b"definitely not an image",
                          headers={"Content-Type": "image/jpeg"})
    assert r.status == 400 and "neither JPEG nor PNG" in r.json()["error"]
    truncated = picture(30, 30, "PNG")[:60]
    r = image_server.post("/invocations", truncated, headers={"Content-Type": "image/png"})
    assert r.status == 400 and "PNG" in r.json()["error"]
    r = image_server.post("/invocations", picture(10, 10, "PNG"),
                          headers={"Content-Type": "image/gif"})
    assert r.status == 415


@pytest.mark.parametrize("content_type", ["image/jpg", "image/JPEG", "image/pjpeg"])
def test_jpeg_spellings_are_accepted(image_server, content_type):
    r = image_server.post("/invocations", picture(9, 7, "JPEG"),
                          headers={"Content-Type": content_type, "Accept": "image/png",
                                   "X-Amzn-SageMaker-Target-Model": "reencode"})
    assert r.status == 200, r.body
    assert np.asarray(Image.open(io.BytesIO(r.body))).shape == (7, 9, 3)


def test_x_png_is_png(image_server):
    encoded = picture(9, 7, "PNG")
    r = image_server.post("/invocations", encoded,
                          headers={"Content-Type": "image/x-png", "Accept": "image/png",
                                   "X-Amzn-SageMaker-Target-Model": "reencode"})
    assert r.status == 200, r.body
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(r.body))),
                          np.asarray(Image.open(io.BytesIO(encoded))))


@pytest.mark.parametrize("accept", [None, "*/*", "image/*", "text/html, image/*;q=0.9",
                                    "image/png"])
def test_an_image_pipeline_answers_its_image(image_server, accept):
    headers = {"Content-Type": "image/png", "X-Amzn-SageMaker-Target-Model": "reencode"}
    if accept is not None:
        headers["Accept"] = accept
    encoded = picture(11, 5, "PNG")
    r = image_server.post("/invocations", encoded, headers=headers)
    assert r.status == 200, r.body
    assert r.headers["content-type"] == "image/png"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(r.body))),
                          np.asarray(Image.open(io.BytesIO(encoded))))


def test_other_outputs_keep_v2_unless_only_images_are_accepted(image_server):
    encoded = picture(11, 5, "PNG")
    # Several outputs: no Accept answers v2 (JSON and binary), image/* cannot be met.
    r = image_server.post("/invocations", encoded, headers={"Content-Type": "image/png"})
    assert r.status == 200 and "inference-header-content-length" in r.headers
    r = image_server.post("/invocations", encoded,
                          headers={"Content-Type": "image/png", "Accept": "image/*"})
    assert r.status == 406 and "only output is an image" in r.json()["error"]
    r = image_server.post("/invocations", encoded,
                          headers={"Content-Type": "image/png", "Accept": "text/html"})
    assert r.status == 406 and "text/html" in r.json()["error"]


def test_truncated_jpeg_is_a_400_naming_the_op(image_server):
    whole = picture(64, 48, "JPEG")
    with pytest.raises(OSError):  # Pillow refuses it too
        Image.open(io.BytesIO(whole[: len(whole) // 2])).load()
    r = image_server.post("/invocations", whole[: len(whole) // 2],
                          headers={"Content-Type": "image/jpeg",
                                   "X-Amzn-SageMaker-Target-Model": "reencode"})
    assert r.status == 400, r.body
    error = r.json()["error"]
    assert "image.decode" in error and "truncated JPEG" in error, error


def test_every_png_filter_and_level_is_lossless(image_server):
    encoded = picture(53, 31, "PNG")
    client = httpclient.InferenceServerClient(f"127.0.0.1:{image_server.port}")
    image_bytes = httpclient.InferInput("image_bytes", [1], "BYTES")
    image_bytes.set_data_from_numpy(np.array([encoded], dtype=np.object_))
    result = client.infer("pngs", [image_bytes])
    expected = np.asarray(Image.open(io.BytesIO(encoded)))
    sizes = {}
    for name in PNG_OPTIONS:
        png = result.as_numpy(name)[0]
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), expected), name
        sizes[name] = len(png)
    # Level 0 stores the rows; any compression makes this picture smaller.
    assert sizes["none"] > max(size for name, size in sizes.items() if name != "none")
