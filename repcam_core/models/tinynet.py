"""A small residual network for the embedded default: fast on two CPU cores, four stages
like a ResNet so the multi-layer CAM has the same structure as on the paper's backbones."""

from __future__ import annotations

import torch
from torch import nn


WIDTHS: tuple[int, int, int, int] = (24, 48, 96, 160)
"""Channels of the stem/layer1, layer2, layer3 and layer4."""


class BasicBlock(nn.Module):
    """conv-bn-relu-conv-bn plus a (strided, projected) shortcut. [B,Cin,H,W] -> [B,Cout,H/s,W/s]"""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class TinyNet(nn.Module):
    """Stem (stride 2) and four one-block stages at strides 2, 4, 8 and 8 of the input.

    The last stage keeps the resolution (output stride 8, as weakly-supervised segmentation
    backbones do): on the embedded 64 px images an output stride of 16 leaves a 4x4 last layer
    whose upsampled Grad-CAMs are blobs covering most of the image, for every method alike,
    whereas 8x8 is about what ResNet's 7x7 is to a 224 px VOC image.
    For a 64x64 input the CAM layers ``layer1..layer4`` give 32, 16, 8 and 8 pixel maps.
    Output: logits [B, num_classes].
    """

    def __init__(self, num_classes: int, widths: tuple[int, int, int, int] | None = None) -> None:
        widths = WIDTHS if widths is None else widths
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, 2, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU())
        self.layer1 = BasicBlock(widths[0], widths[0], 1)
        self.layer2 = BasicBlock(widths[0], widths[1], 2)
        self.layer3 = BasicBlock(widths[1], widths[2], 2)
        self.layer4 = BasicBlock(widths[2], widths[3], 1)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[3], num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        return self.fc(torch.flatten(self.avgpool(x), 1))
