"""3. RepCAM per image: the fused S-1+A+F map of a batch from N = 4 resident binary models
(per-layer maps in one forward + backward each, "+A" multi-layer map, "+F" average), against the
same batch's Baseline Grad-CAM (one multi-class model, last layer), on CPU.

The floor of the method is N model passes, so ``repcam_vs_baseline`` (throughput ratio) can be
at best about 1/N; ``repcam_overhead`` = RepCAM time / (N x Baseline time) shows how close to
that floor it gets (1.0 = only the N passes cost anything). ``batched_vs_per_image`` shows what
batching images buys over explaining them one at a time (what the app's explorer does).
"""

from __future__ import annotations

import torch

from bench.common import Report, Settings, interleaved

N_MODELS = 4


def _setup(name: str, size: int, batch: int):
    from repcam_core.models.backbones import BACKBONES, create_model

    layers = BACKBONES.get(name).cam_layers
    multiclass = create_model(name, 20, seed=0).eval()
    binaries = [create_model(name, 2, seed=1 + i).eval() for i in range(N_MODELS)]
    x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
    return layers, multiclass, binaries, x


def baseline(model, layers, x, target: int) -> torch.Tensor:
    from repcam_core.cam import fusion
    from repcam_core.cam.engine import layer_maps

    maps, _ = layer_maps(model, layers, x, target)
    return fusion.last_layer(maps)


def repcam(models, layers, x, output: int = 0) -> torch.Tensor:
    """S-1+A+F over resident models: [B, H, W]."""
    from repcam_core.cam import fusion
    from repcam_core.cam.engine import layer_maps

    per_model = []
    for m in models:
        maps, _ = layer_maps(m, layers, x, output)
        per_model.append(fusion.multilayer(maps))
    return fusion.average(torch.stack(per_model))


def run(settings: Settings) -> Report:
    rep = Report("repcam")
    cases = [("tinynet", 64, 4)] if settings.smoke else [("tinynet", 64, 32), ("resnet18", 224, 4)]
    rows, vs_base, overhead, batching = [], {}, {}, {}
    for name, size, batch in cases:
        layers, mc, bins, x = _setup(name, size, batch)
        fns = {"baseline": lambda: baseline(mc, layers, x, 3), "repcam": lambda: repcam(bins, layers, x),
               "repcam_per_image": lambda: [repcam(bins, layers, x[i:i + 1]) for i in range(batch)]}
        t = interleaved(fns, settings.repeats, settings.warmup)
        vs_base[name] = t["baseline"] / t["repcam"]
        overhead[name] = t["repcam"] / (N_MODELS * t["baseline"])
        batching[name] = t["repcam_per_image"] / t["repcam"]
        rows.append([name, f"{size}px x{batch}", batch / t["baseline"], batch / t["repcam"], vs_base[name],
                     overhead[name], batch / t["repcam_per_image"], batching[name]])
    rep.table(f"RepCAM S-1+A+F (N = {N_MODELS} resident binary models) vs Baseline Grad-CAM, CPU",
              ["backbone", "batch", "Baseline img/s", "RepCAM img/s", "RepCAM/Baseline", "time/(N x Baseline)",
               "RepCAM 1-by-1 img/s", "batched/1-by-1"], rows)
    rep.notes.append("RepCAM needs N model passes per image, so RepCAM/Baseline throughput is at best "
                     f"1/N = {1 / N_MODELS:.2f}; time/(N x Baseline) near 1.0 means fusion adds ~nothing.")
    rep.figures = {"repcam_vs_baseline": vs_base, "repcam_overhead": overhead, "repcam_batched_vs_per_image": batching}
    return rep
