"""Training loops over cached decoded tensors (no per-epoch JPEG decoding).

One loop serves both the multi-class model (which builds B and gives the Baseline) and the binary
pair models (stopped when the epoch's training accuracy exceeds 0.95 or after 10 epochs, sec. 4.2).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it is used: importing this module stays cheap
    import torch
    from torch import nn


@dataclass
class TrainLog:
    """What one training run did; stored beside the model it produced."""

    losses: list[float] = field(default_factory=list)
    accuracies: list[float] = field(default_factory=list)
    stopped_early: bool = False
    seconds: float = 0.0

    @property
    def epochs(self) -> int:
        return len(self.losses)

    def to_dict(self) -> dict:
        return {"epochs": self.epochs, "losses": self.losses, "accuracies": self.accuracies,
                "stopped_early": self.stopped_early, "seconds": round(self.seconds, 3)}


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        from repcam_core.errors import ConfigError

        raise ConfigError("device 'cuda' was asked for but no CUDA GPU is available; use --device cpu")
    return torch.device(device)


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA, nothing on CPU."""
    import torch

    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def fit(
    model: nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    *,
    lr: float,
    epochs: int,
    batch_size: int,
    device: torch.device,
    seed: int = 0,
    hflip: bool = True,
    weight_decay: float = 0.0,
    plateau_patience: int = 5,
    plateau_factor: float = 0.5,
    stop_accuracy: float | None = None,
    on_epoch: "callable | None" = None,
    schedule: str = "plateau",
    frozen_batchnorm: bool = False,
) -> TrainLog:
    """Train ``model`` in place with Adam and cross-entropy.

    Args:
        images: uint8 [N, 3, S, S] decoded, cropped images (kept on CPU unless small).
        targets: long [N] class index per image.
        stop_accuracy: stop after the first epoch whose running training accuracy exceeds it.
        on_epoch: called with (epoch, loss, accuracy) after each epoch.
        schedule: "plateau" (ReduceLROnPlateau on the epoch loss) or "onecycle" (OneCycleLR up to
            ``lr`` over every batch of the ``epochs``: a short warm-up, then cosine annealing).
        frozen_batchnorm: BatchNorm layers stay in eval mode (their running statistics are used
            and kept; their scale and shift still train). The model ends in eval mode either way.
    """
    import torch
    import torch.nn.functional as F

    from repcam_core.data.transforms import to_float_tensor

    log = TrainLog()
    start = time.monotonic()
    gen = torch.Generator().manual_seed(seed)
    model.to(device).train()
    if frozen_batchnorm:
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()
    # Channels-last on every device: on CPU oneDNN's NHWC convolutions are up to 2x faster
    # (bench/RESULTS.md); the weights' values are unchanged, only their memory layout.
    model.to(memory_format=torch.channels_last)
    if device.type == "cuda":
        if images.numel() < 2_000_000_000:
            images = images.to(device)
    targets = targets.long()
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    n = images.shape[0]
    per_epoch = -(-n // batch_size)
    if schedule == "onecycle":
        cycle = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(1, epochs * per_epoch),
                                                    pct_start=0.25)
        sched = None
    else:
        cycle = None
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=plateau_factor, patience=plateau_patience)
    for epoch in range(epochs):
        order = torch.randperm(n, generator=gen)
        total_loss, correct = 0.0, 0
        for lo in range(0, n, batch_size):
            idx = order[lo:lo + batch_size]
            x = to_float_tensor(images[idx.to(images.device)].to(device, non_blocking=True))
            y = targets[idx].to(device)
            if hflip:
                flip = torch.rand(len(idx), generator=gen) < 0.5
                x[flip.to(device)] = x[flip.to(device)].flip(-1)
            x = x.contiguous(memory_format=torch.channels_last)
            with autocast(device):
                logits = model(x)
                loss = F.cross_entropy(logits.float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if cycle is not None:
                cycle.step()
            total_loss += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(1) == y).sum())
        loss_e, acc_e = total_loss / n, correct / n
        log.losses.append(round(loss_e, 6))
        log.accuracies.append(round(acc_e, 6))
        if sched is not None:
            sched.step(loss_e)
        if on_epoch is not None:
            on_epoch(epoch, loss_e, acc_e)
        if stop_accuracy is not None and acc_e > stop_accuracy:
            log.stopped_early = epoch + 1 < epochs
            break
    model.eval()
    log.seconds = time.monotonic() - start
    return log


def pooled_features(model: nn.Module, head: nn.Linear, images: torch.Tensor, device: torch.device,
                    batch_size: int = 64) -> torch.Tensor:
    """What ``head`` (the model's final Linear) receives for each image: float [N, D] on ``device``,
    under eval mode and without gradient. ``images`` uint8 [N, 3, S, S]."""
    import torch

    from repcam_core.data.transforms import to_float_tensor

    feats: list[torch.Tensor] = []
    handle = head.register_forward_hook(lambda _m, inp, _out: feats.append(inp[0].detach().float()))
    was = model.training
    try:
        model.to(device).eval()
        with torch.no_grad():
            for lo in range(0, images.shape[0], batch_size):
                model(to_float_tensor(images[lo:lo + batch_size].to(device)))
    finally:
        handle.remove()
        model.train(was)
    return torch.cat(feats) if feats else torch.zeros(0, head.in_features, device=device)


PROBE_FEATURES_BYTES = 256 * 2 ** 20
"""Memory a pipeline's per-class probe features may hold (beyond it they are recomputed per pair)."""


class FeatureMemo:
    """Feature tensors by key, each computed once while their total stays within ``budget`` bytes
    (beyond it a new one is computed on every request; nothing is evicted). Not locked: the
    pipeline calls it under its own lock."""

    def __init__(self, budget: int) -> None:
        self.budget, self.held, self._items = budget, 0, {}

    def get(self, key: object, compute: "callable") -> torch.Tensor:
        found = self._items.get(key)
        if found is None:
            found = compute()
            size = found.numel() * found.element_size()
            if self.held + size <= self.budget:
                self._items[key], self.held = found, self.held + size
        return found


def fit_probe(head: nn.Linear, features: torch.Tensor, targets: torch.Tensor, steps: int = 100,
              lr: float = 1e-2, weight_decay: float = 1e-3) -> None:
    """Linear probing: fit ``head`` as a logistic regression on ``features`` [N, D] (from
    :func:`pooled_features`) and ``targets`` long [N], in place. Full-batch Adam with a little
    weight decay (the classes are often separable, so the weights must stay finite).

    The steps are :class:`torch.optim.Adam`'s (``weight_decay`` as L2 added to the gradient) on
    the cross-entropy's closed-form gradient ``(softmax - onehot) / N``, without autograd: about
    2x faster on a CPU (56 against 116 ms for a 96 x 160 probe), where a full pairwise run fits 190
    probes (tests compare the two)."""
    import torch
    import torch.nn.functional as F

    b1, b2, eps = 0.9, 0.999, 1e-8
    x = features.float()
    with torch.no_grad():
        W, b = head.weight, head.bias
        onehot = F.one_hot(targets.to(x.device).long(), W.shape[0]).to(x.dtype)
        n = max(1, x.shape[0])
        moments = [(torch.zeros_like(W), torch.zeros_like(W)), (torch.zeros_like(b), torch.zeros_like(b))]
        for t in range(1, steps + 1):
            g = (torch.softmax(torch.addmm(b, x, W.t()), 1) - onehot) / n
            grads = (torch.addmm(W, g.t(), x, beta=weight_decay), g.sum(0).add_(b, alpha=weight_decay))
            for param, grad, (m, v) in zip((W, b), grads, moments):
                m.mul_(b1).add_(grad, alpha=1 - b1)
                v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
                denom = (v / (1 - b2 ** t)).sqrt_().add_(eps)
                param.addcdiv_(m, denom, value=-lr / (1 - b1 ** t))


def predict_proba(model: nn.Module, images: torch.Tensor, device: torch.device, batch_size: int = 64,
                  temperature: float = 1.0) -> torch.Tensor:
    """Softmax probabilities [N, C] of uint8 images [N, 3, S, S] under eval mode (of the logits
    divided by ``temperature``)."""
    import torch

    from repcam_core.data.transforms import to_float_tensor

    was = model.training
    model.eval()
    out = []
    try:
        with torch.no_grad():
            for lo in range(0, images.shape[0], batch_size):
                x = to_float_tensor(images[lo:lo + batch_size].to(device))
                with autocast(device):
                    out.append(torch.softmax(model(x).float() / temperature, 1).cpu())
    finally:
        model.train(was)
    return torch.cat(out) if out else torch.zeros(0, 0)
