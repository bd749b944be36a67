"""Cached maps of one configuration: every map a mode fuses, computed once per image set.

Three sources, each on the evaluation split (role ``"eval"``) and, when the calibrated protocol
is on, on the calibration split (role ``"calib"``), for the images of one target class ``c``:

* the multi-class model's map of class c (the Baseline, and "+A" of it);
* the binary model (c, j)'s map of c, one per comparison class j (the paper's step F);
* the multi-class model's contrast ``logit_c - logit_j`` (the training-free rival).

Each entry holds both the single-layer map ("single", Grad-CAM of the last CAM layer) and the
multi-layer map ("multi", sec. 3.2), float16 ``[n, s, s]`` from one forward and one backward
pass (a contrast entry's backward passes share one forward with the other classes asked for at
the same time). Keys of evaluation maps are those earlier versions wrote, so caches stay valid.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from repcam_core.storage.integrity import save_tensors
from repcam_core.running.pipeline import Pipeline

if TYPE_CHECKING:  # torch is imported where maps are computed or loaded
    import torch
    from torch import nn

MAP_BATCH = 32
ROLES = ("eval", "calib")


def map_size(image_size: int) -> int:
    """Resolution the cached maps are stored at: the image size up to 128, half of it above
    (maps are upsampled from at most stride-4 features, so little is lost; storage stays small)."""
    return image_size if image_size <= 128 else image_size // 2


class MapStore:
    """Computes and caches the maps of one :class:`Pipeline` (see the module docstring)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.p = pipeline

    # ----------------------------------------------------------------- keys
    def key(self, model_key: dict, c: int, output: int, role: str = "eval",
            contrast: int | None = None) -> dict[str, Any]:
        key = {"model": model_key, "target": c, "output": output, "split": self.p.split_name(role),
               "method": self.p.config.cam_method, "size": map_size(self.p.config.image_size)}
        if role != "eval":  # the split's name alone does not say which images it holds
            key["fingerprint"] = self.p.split_fingerprint(role)
        if contrast is not None:
            key["contrast"] = int(contrast)
        return key

    def pair_key(self, c: int, j: int, role: str = "eval") -> dict[str, Any]:
        a, b = sorted((c, j))
        return self.key(self.p.binary_key(a, b), c, 0 if c == a else 1, role)

    def indices(self, c: int, role: str = "eval") -> torch.Tensor:
        """Images of ``role``'s split that contain class ``c`` (the rows of every map entry)."""
        return self.p.split(role).class_indices(c)

    # ----------------------------------------------------------------- maps
    def baseline(self, c: int, role: str = "eval") -> dict[str, torch.Tensor]:
        """The multi-class model's maps of class ``c``: {"single", "multi"} ``[n, s, s]`` float16."""
        return self.p.cache.get_or_create(
            "maps", self.key(self.p.multiclass_key(), c, c, role),
            lambda tmp: self._compute(lambda: self.p.multiclass_model(), c, c, role, tmp), load_maps)

    def pair(self, c: int, j: int, role: str = "eval") -> dict[str, torch.Tensor]:
        """Class ``c``'s maps under the binary model (c, j) (trained first when missing)."""
        a, b = sorted((c, j))
        output = 0 if c == a else 1
        return self.p.cache.get_or_create(
            "maps", self.pair_key(c, j, role),
            lambda tmp: self._compute(lambda: self.p.binary_model(a, b), c, output, role, tmp), load_maps)

    def has_pair(self, c: int, j: int, role: str = "eval") -> bool:
        return self.p.cache.has("maps", self.pair_key(c, j, role))

    def contrast_key(self, c: int, j: int, role: str = "eval") -> dict[str, Any]:
        return self.key(self.p.multiclass_key(), c, c, role, contrast=j)

    def contrast(self, c: int, others: Sequence[int], role: str = "eval") -> dict[int, dict[str, torch.Tensor]]:
        """The multi-class model's maps of ``logit_c - logit_j`` for each ``j`` in ``others``.

        The missing ones are computed together (one forward pass per image batch, one backward
        pass per ``j``) and each is cached as its own entry."""
        others = [int(j) for j in others]
        missing = [j for j in others if not self.p.cache.has("maps", self.contrast_key(c, j, role))]
        computed = self._contrast_maps(c, missing, role) if missing else {}
        out = {}
        for j in others:
            def create(tmp: Path, j: int = j) -> None:
                maps = computed.get(j) or self._contrast_maps(c, [j], role)[j]
                save_tensors(maps, tmp / "maps.safetensors")

            out[j] = self.p.cache.get_or_create("maps", self.contrast_key(c, j, role), create, load_maps)
        return out

    # -------------------------------------------------------------- compute
    def _batches(self, c: int, role: str):
        from repcam_core.data.transforms import to_float_tensor

        images = self.p.split(role).images[self.indices(c, role)]
        for lo in range(0, len(images), MAP_BATCH):
            yield to_float_tensor(images[lo:lo + MAP_BATCH].to(self.p.device))

    def _compute(self, model_fn: Callable[[], nn.Module], c: int, output: int, role: str, tmp: Path) -> None:
        from repcam_core.cam.engine import layer_maps

        cfg = self.p.config
        size = map_size(cfg.image_size)
        (maps,) = self._run(
            model_fn, c, role, 1,
            lambda model, x: [layer_maps(model, self.p.spec.cam_layers, x, output, cfg.cam_method, (size, size))[0]])
        save_tensors(maps, tmp / "maps.safetensors")

    def _contrast_maps(self, c: int, others: list[int], role: str) -> dict[int, dict[str, torch.Tensor]]:
        from repcam_core.cam.engine import contrast_layer_maps

        cfg = self.p.config
        size = map_size(cfg.image_size)
        maps = self._run(
            self.p.multiclass_model, c, role, len(others),
            lambda model, x: list(contrast_layer_maps(model, self.p.spec.cam_layers, x, c, others, cfg.cam_method,
                                                      (size, size))))
        return dict(zip(others, maps))

    def _run(self, model_fn: Callable[[], nn.Module], c: int, role: str, n: int,
             per_batch: Callable[[nn.Module, torch.Tensor], Sequence[torch.Tensor]]) -> list[dict[str, torch.Tensor]]:
        """The one map loop: ``per_batch(model, x)`` gives ``n`` per-layer maps ``[B, L, s, s]`` of
        each image batch of class ``c`` on ``role``'s split; returns ``n`` {"single", "multi"}
        float16 ``[images, s, s]``. The model is asked for only when there is an image."""
        from repcam_core.cam import fusion

        size = map_size(self.p.config.image_size)
        singles: list[list[torch.Tensor]] = [[] for _ in range(n)]
        multis: list[list[torch.Tensor]] = [[] for _ in range(n)]
        batches = list(self._batches(c, role))
        model = model_fn() if batches else None
        for x in batches:
            for k, maps in enumerate(per_batch(model, x)):
                singles[k].append(fusion.last_layer(maps).half().cpu())
                multis[k].append(fusion.multilayer(maps).half().cpu())
        return [_pack(singles[k], multis[k], size) for k in range(n)]


def _pack(singles: list[torch.Tensor], multis: list[torch.Tensor], size: int) -> dict[str, torch.Tensor]:
    import torch

    empty = torch.zeros(0, size, size, dtype=torch.half)
    return {"single": torch.cat(singles) if singles else empty, "multi": torch.cat(multis) if multis else empty}


def load_maps(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path / "maps.safetensors"))
