"""The example's handler as its users serve it without a model server: a plain WSGI app on
gunicorn, sync workers, one request at a time a worker, each worker with its own models.

  POST /invocations  JPEG or PNG in, alpha PNG out (handler.remove_background)
  POST /identity     a JSON list of numbers through identity.pt and back

HANDLER_MODEL_DIR holds segmenter.pt, matting.pt and identity.pt.
"""

import json
import os
import pathlib

import torch

import steps
from steps import handler  # the example's, found by steps

MODEL_DIR = pathlib.Path(os.environ["HANDLER_MODEL_DIR"])
SEGMENTER, MATTING = steps.load_models(MODEL_DIR)
IDENTITY = torch.jit.load(str(MODEL_DIR / "identity.pt"))


def app(environ, start_response):
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    if environ["PATH_INFO"] == "/identity":
        with torch.inference_mode():
            out = json.dumps(IDENTITY(torch.tensor(json.loads(body))).tolist()).encode()
        content_type = "application/json"
    else:
        out = handler.remove_background(SEGMENTER, MATTING, body, steps.SIZE)
        content_type = "image/png"
    start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(out)))])
    return [out]
