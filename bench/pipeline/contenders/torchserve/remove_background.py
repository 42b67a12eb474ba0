"""TorchServe handler for remove_background with TorchServe's batching: a batch of images goes
through the segmenter in one call, then trimap, matting and PNG an image (steps.py).
The model folder holds segmenter.pt and matting.pt."""

import pathlib

import steps


class RemoveBackground:
    def initialize(self, context):
        model_dir = pathlib.Path(context.system_properties["model_dir"])
        self.segmenter, self.matting = steps.load_models(model_dir)

    def handle(self, data, context):
        images = [row.get("data") or row.get("body") for row in data]
        pngs = steps.remove_background(self.segmenter, self.matting, images)
        for i in range(len(pngs)):
            context.set_response_content_type(i, "image/png")
        return pngs
