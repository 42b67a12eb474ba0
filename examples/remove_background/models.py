"""The two networks of the background-removal example, in plain PyTorch.

Segmenter: shaped like U²-Netp (the ~4.7 MB U²-Net variant): an encoder-decoder of residual
U-blocks (RSU) with 6 stages, 3 classes (background, unsure, foreground), and side outputs
d1..d6 upsampled to the input size and fused into d0. Matting: a small conv net that refines
the trimap's unsure band into an alpha matte, taking what the seed's matting net takes: the
normalised image and the trimap (÷255) as one 4-channel input at the image's size.
"""

from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import nn


class ConvBnRelu(nn.Sequential):
    def __init__(self, cin: int, cout: int, dilation: int = 1) -> None:
        super().__init__(nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def upsample_like(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[2:], mode="bilinear", align_corners=False)


class RSU(nn.Module):
    """A residual U-block of `depth` levels (U²-Net's RSU-L); the last level is dilated."""

    def __init__(self, depth: int, cin: int, mid: int, cout: int) -> None:
        super().__init__()
        self.entry = ConvBnRelu(cin, cout)
        self.down = nn.ModuleList([ConvBnRelu(cout if i == 0 else mid, mid)
                                   for i in range(depth - 1)])
        self.bottom = ConvBnRelu(mid, mid, dilation=2)
        self.up = nn.ModuleList([ConvBnRelu(2 * mid, mid if i < depth - 2 else cout)
                                 for i in range(depth - 1)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hx = self.entry(x)
        skips = []
        h = hx
        for i, layer in enumerate(self.down):
            h = layer(h)
            skips.append(h)
            if i < len(self.down) - 1:
                h = F.max_pool2d(h, 2, ceil_mode=True)
        h = self.bottom(h)
        for i, layer in enumerate(self.up):
            skip = skips[len(skips) - 1 - i]
            h = layer(torch.cat([upsample_like(h, skip), skip], dim=1))
        return h + hx


class Segmenter(nn.Module):
    """U²-Netp-shaped: 6 encoder stages (RSU-7..RSU-4, then dilated), 5 decoder stages, side
    outputs d1..d6 and their fusion d0, each [N, 3, H, W]."""

    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        depths = [7, 6, 5, 4, 4, 4]
        self.encoder = nn.ModuleList([RSU(d, 3 if i == 0 else 64, 16, 64)
                                      for i, d in enumerate(depths)])
        self.decoder = nn.ModuleList([RSU(d, 128, 16, 64) for d in [4, 4, 5, 6, 7]])
        self.sides = nn.ModuleList([nn.Conv2d(64, classes, 3, padding=1) for _ in range(6)])
        self.fuse = nn.Conv2d(6 * classes, classes, 1)
        # With random weights the fusion's bias alone decides the class everywhere; without it
        # the classes follow the image, so even an untrained net gives a trimap with all three
        # regions (background, unsure, foreground) for the pipeline to carry.
        nn.init.zeros_(self.fuse.bias)

    def forward(self, image: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                    torch.Tensor, torch.Tensor, torch.Tensor,
                                                    torch.Tensor]:
        features = []
        h = image
        for i, stage in enumerate(self.encoder):
            h = stage(h)
            features.append(h)
            if i < len(self.encoder) - 1:
                h = F.max_pool2d(h, 2, ceil_mode=True)
        decoded = [features[-1]]
        h = features[-1]
        for i, stage in enumerate(self.decoder):
            skip = features[len(features) - 2 - i]
            h = stage(torch.cat([upsample_like(h, skip), skip], dim=1))
            decoded.append(h)
        # decoded is deepest first; side i reads the stage at 1/2^i of the input's resolution.
        sides: List[torch.Tensor] = []
        for i, side in enumerate(self.sides):
            sides.append(upsample_like(side(decoded[len(decoded) - 1 - i]), image))
        d0 = self.fuse(torch.cat(sides, dim=1))
        return d0, sides[0], sides[1], sides[2], sides[3], sides[4], sides[5]


class Matting(nn.Module):
    """[1, 4, H, W]: the normalised RGB image and the trimap in [0, 1] (0 background, 128/255
    unsure, 1 foreground), to an alpha matte [1, 1, H, W] in [0, 1]: the net predicts alpha in
    the unsure band; the trimap decides elsewhere."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(ConvBnRelu(4, 16), ConvBnRelu(16, 16, dilation=2),
                                 ConvBnRelu(16, 16), nn.Conv2d(16, 1, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x[:, 3:4]
        predicted = torch.sigmoid(self.net(x))
        alpha = torch.where(t > 0.99, torch.ones_like(t), predicted)
        return torch.where(t < 0.01, torch.zeros_like(t), alpha)
