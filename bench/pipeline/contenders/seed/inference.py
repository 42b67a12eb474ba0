"""The seed approach: the SageMaker PyTorch inference toolkit's four functions, written the way
the team runs remove_background today: eager PyTorch modules (on the GPU when there is one),
PIL decode, NumPy between the models, one request at a time. The toolkit copies this folder in
as `code/` beside the weights.
"""

import io
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from models import Matting, Segmenter
from steps import MEAN, SIZE, STD

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
    return np.array(Image.open(io.BytesIO(request_body)).convert("RGB"))


def predict_fn(rgb, models):
    segmenter, matting = models
    x = torch.from_numpy(rgb).to(DEVICE).permute(2, 0, 1).unsqueeze(0).float() / 255
    x = (F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
         - MEAN.to(DEVICE)) / STD.to(DEVICE)
    with torch.no_grad():
        logits = segmenter(x)[0]
        labels = logits.cpu().numpy().argmax(axis=1)[0]
        trimap = np.array([0, 128, 255], dtype=np.uint8)[labels]
        trimap = np.array(Image.fromarray(trimap).resize((rgb.shape[1], rgb.shape[0]),
                                                         Image.NEAREST))
        alpha = matting(torch.from_numpy(rgb).to(DEVICE),
                        torch.from_numpy(trimap).unsqueeze(0).to(DEVICE))
    return alpha[0, 0].cpu().numpy()


def output_fn(alpha, accept):
    png = io.BytesIO()
    Image.fromarray((np.clip(alpha, 0, 1) * 255).astype(np.uint8)).save(png, "PNG")
    return png.getvalue()
