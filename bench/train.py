"""4. Training throughput: binary-model fine-tuning with ``repcam_core.models.train.fit`` (decoded,
cropped uint8 tensors cached once) against a plain reference loop: a torch ``DataLoader`` that
opens and decodes every JPEG from disk each epoch (PIL, the same short-side resize + centre crop,
``num_workers=0``), fp32, Adam, cross-entropy, random horizontal flip, batch 32: the same images,
model, epochs and optimiser. A freshly generated world in a temporary directory.

Two worlds: the embedded default (80x64 JPEGs cropped to 64) and VOC-like larger JPEGs (400x300)
cropped to 64, where decoding weighs more. fit's one-off decode is timed separately.
"""

from __future__ import annotations

import copy
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bench.common import Report, Settings, interleaved


class JpegDataset(torch.utils.data.Dataset):
    """Decodes image ``i`` from disk on every access (the reference)."""

    def __init__(self, dataset, ids: list[str], labels: list[int], size: int) -> None:
        self.dataset, self.ids, self.labels, self.size = dataset, ids, labels, size

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int):
        from repcam_core.data.transforms import resize_short_center_crop, to_float_tensor

        img = resize_short_center_crop(self.dataset.load_image(self.ids[i]), self.size).transpose(2, 0, 1)
        return to_float_tensor(torch.from_numpy(np.ascontiguousarray(img))), self.labels[i]


def reference_fit(model, loader, epochs: int, lr: float, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        for x, y in loader:
            flip = torch.rand(len(y), generator=gen) < 0.5
            x[flip] = x[flip].flip(-1)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    model.eval()


def _world(root: Path, smoke: bool, width: int, height: int):
    from repcam_core.data.voc import VOCDataset
    from repcam_core.data.world import WorldConfig
    from repcam_core.data.world_files import generate_world

    cfg = WorldConfig(n_families=2, classes_per_family=2, train_per_class=8 if smoke else 30,
                      val_per_class=1, width=width, height=height)
    return VOCDataset(generate_world(root / f"world-{width}x{height}", cfg))


def run(settings: Settings) -> Report:
    from repcam_core.data.dataset import load_split
    from repcam_core.models.backbones import create_model
    from repcam_core.models.train import fit

    rep = Report("train")
    size, epochs, bs, lr = 64, (1 if settings.smoke else 3), 32, 1e-3
    worlds = [(80, 64)] if settings.smoke else [(80, 64), (400, 300)]
    rows, ratio = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for width, height in worlds:
            ds = _world(Path(tmp), settings.smoke, width, height)
            t0 = time.perf_counter()
            split = load_split(ds, "train", size)
            decode_s = time.perf_counter() - t0
            a, b = 0, 1
            ia, ib = split.single_label_indices(a), split.single_label_indices(b)
            idx = torch.cat([ia, ib])
            images = split.images[idx]
            targets = torch.cat([torch.zeros(len(ia)), torch.ones(len(ib))]).long()
            loader = torch.utils.data.DataLoader(
                JpegDataset(ds, [split.ids[i] for i in idx.tolist()], targets.tolist(), size),
                batch_size=bs, shuffle=True, num_workers=0, generator=torch.Generator().manual_seed(0))
            init = create_model("tinynet", 2, seed=0)
            n = len(idx) * epochs
            t = interleaved({
                "fit": lambda: fit(copy.deepcopy(init), images, targets, lr=lr, epochs=epochs, batch_size=bs,
                                   device=torch.device("cpu"), seed=0),
                "reference": lambda: reference_fit(copy.deepcopy(init), loader, epochs, lr, seed=0),
            }, max(1, settings.repeats - 2), settings.warmup)
            key = f"{width}x{height}->{size}"
            ratio[key] = t["reference"] / t["fit"]
            rows.append([key, len(idx), epochs, n / t["fit"], n / t["reference"], ratio[key],
                         "yes" if ratio[key] >= 2 else "NO", decode_s])
    rep.table("Binary-model training throughput (tinynet, CPU)",
              ["JPEG -> crop", "images", "epochs", "fit img/s", "reference img/s", "fit/reference", ">= 2x",
               "fit one-off decode s"], rows)
    rep.figures = {"train_vs_reference": ratio}
    return rep
