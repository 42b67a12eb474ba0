"""TorchServe handler for the overhead scenario: a JSON list of numbers through the identity
TorchScript model (the archive's serialized file) and back as a JSON list."""

import json
import pathlib

import torch


class Identity:
    def initialize(self, context):
        model_dir = pathlib.Path(context.system_properties["model_dir"])
        self.model = torch.jit.load(str(model_dir / context.manifest["model"]["serializedFile"]))

    def handle(self, data, context):
        out = []
        for row in data:
            body = row.get("data") or row.get("body")
            values = json.loads(body) if isinstance(body, (bytes, bytearray)) else body
            with torch.inference_mode():
                out.append(self.model(torch.tensor(values, dtype=torch.float32)).tolist())
        return out
