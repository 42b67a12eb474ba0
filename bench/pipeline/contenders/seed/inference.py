"""The seed approach: the SageMaker PyTorch inference toolkit's four functions, written the way
the team runs remove_background today (the example's handler.py: PIL and torchvision): eager
PyTorch modules (on the GPU when there is one), PIL between the models, one request at a time. The toolkit copies this folder in
as `code/` beside the weights.
"""

import os

import torch

import handler
from models import Matting, Segmenter
from steps import SIZE

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def model_fn(model_dir):
    """Eager modules holding the same weights as the TorchScript files Tandem serves."""
    segmenter, matting = Segmenter(), Matting()
    segmenter.load_state_dict(torch.jit.load(os.path.join(model_dir, "segmenter.pt")).state_dict())
    matting.load_state_dict(torch.jit.load(os.path.join(model_dir, "matting.pt")).state_dict())
    return segmenter.eval().to(DEVICE), matting.eval().to(DEVICE)


def input_fn(request_body, content_type):
    if content_type not in ("image/jpeg", "image/png"):
        raise ValueError(f"unsupported content type {content_type}")
    return handler.decode(request_body)


def predict_fn(image, models):
    segmenter, matting = models
    with torch.no_grad():
        logits = segmenter(handler.segmenter_input(image, SIZE).to(DEVICE))[0]
        trimap = handler.trimap(logits.cpu(), image.size)
        return matting(handler.matting_input(image, trimap).to(DEVICE)).cpu()


def output_fn(alpha, accept):
    return handler.encode_png(alpha)
