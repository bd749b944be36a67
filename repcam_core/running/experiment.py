"""Maps and evaluation on top of a :class:`Pipeline`: the ablation modes, the pairwise table and
the evaluation protocols.

Per (target class c, map source) the maps of c's images are computed once and cached
(:mod:`repcam_core.running.maps`); a mode is then an average of cached maps. Each mode's result is a
set of per-image pixel counts at every threshold of a fine grid, on the evaluation split and on
the calibration split (:mod:`repcam_core.evaluation.protocols`), from which the fixed, calibrated and AUC
protocols, their bootstrap intervals and the paired comparisons with the Baseline follow without
running a model again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence

import numpy as np
from safetensors.numpy import load_file as load_np

from repcam_core.errors import ConfigError
from repcam_core.evaluation.protocols import (CURVE, ImageCounts, ProtocolValues, bootstrap_weights, count_pixels,
                                              curve_with, protocol_values, summarise, with_auc_of)
from repcam_core.evaluation.reference import reference_counts, reference_key, reference_map
from repcam_core.evaluation.results import ModeResult, Results
from repcam_core.method.feasibility import ModePlan, random_count
from repcam_core.method.modes import Mode, parse_mode
from repcam_core.running.maps import MapStore
from repcam_core.running.pipeline import Pipeline
from repcam_core.running.selection import ModeSelection
from repcam_core.storage.integrity import save_arrays

if TYPE_CHECKING:  # torch is imported where maps are fused or counted: a run that finds every
    import torch    # result in the cache never imports it (a warm run stays fast)

Pair = tuple[int, int]
RESULTS_VERSION = 2
"""Bumped when a cached mode result changes meaning (2: per-image counts on a 201-point grid)."""


class Executor(Protocol):
    """Runs pair tasks (:meth:`Experiment.pair_all_maps` of each pair); calls ``step(1)`` as each
    pair finishes: :class:`LocalExecutor` here, Ray's in :mod:`repcam_core.running.executors`."""

    label: str

    def run_pairs(self, experiment: Experiment, pairs: Sequence[Pair], step: Callable[[int], None]) -> None: ...


class LocalExecutor:
    """Every pair in this process, one after another (the default)."""

    label = "local"

    def run_pairs(self, experiment: Experiment, pairs: Sequence[Pair], step: Callable[[int], None]) -> None:
        for a, b in pairs:
            experiment.pair_all_maps(a, b)
            step(1)


class Experiment(ModeSelection):
    """Computes, caches and evaluates maps for the modes of one configuration."""

    def __init__(self, pipeline: Pipeline, thresholds: Sequence[float] | None = None,
                 executor: Executor | None = None) -> None:
        """``executor``: where pair tasks run (:mod:`repcam_core.running.executors`; None: here)."""
        super().__init__(pipeline)
        self.maps = MapStore(pipeline)
        self._executor = executor
        self._weights: list[np.ndarray] | None = None
        t = float(pipeline.config.threshold)
        self.thresholds = [float(x) for x in curve_with(t, CURVE if thresholds is None else thresholds)]
        if self.thresholds[0] > 0 or self.thresholds[-1] < 1:
            raise ConfigError("the threshold curve must span [0, 1] (the AUC protocol integrates over it)")
        self.t_index = self.thresholds.index(t)

    @property
    def roles(self) -> list[str]:
        """``["eval"]``, plus ``"calib"`` when the calibrated protocol has a calibration split."""
        return ["eval"] + (["calib"] if self.p.calibration_split_name is not None else [])

    # ------------------------------------------------------------ maps
    def baseline_maps(self, c: int, role: str = "eval") -> dict[str, torch.Tensor]:
        """The multi-class model's maps of class ``c``: {"single", "multi"} ``[n, s, s]`` float16."""
        return self.maps.baseline(c, role)

    def pair_maps(self, c: int, j: int, role: str = "eval") -> dict[str, torch.Tensor]:
        """Maps of class ``c``'s images under the binary model (c, j)."""
        return self.maps.pair(c, j, role)

    def has_pair_maps(self, c: int, j: int, role: str = "eval") -> bool:
        return self.maps.has_pair(c, j, role)

    def pair_all_maps(self, a: int, b: int) -> None:
        """The binary model (a, b) and both directions' maps on every split (an executor's task)."""
        for role in self.roles:
            self.pair_maps(a, b, role)
            self.pair_maps(b, a, role)

    def ensure_pairs(self, pairs: set[tuple[int, int]]) -> None:
        """Train (or load) each pair's binary model and cache both directions' maps on every split,
        with progress, through the executor given to the constructor (this process by default)."""
        todo = sorted(p for p in pairs if not all(self.has_pair_maps(a, b, r) for r in self.roles
                                                   for a, b in (p, p[::-1])))
        if not todo:
            return
        executor = self._executor or LocalExecutor()
        desc = "binary models (train + maps)" + ("" if executor.label == "local" else f" on {executor.label}")
        with self.p.progress.task(desc, len(todo)) as step, self.p.sharing_features():
            executor.run_pairs(self, todo, step)

    def prepare(self, mode: Mode) -> dict[int, list[int]]:
        """The mode's comparison classes, with every binary model and pair map it reads in the cache."""
        pairwise = self.pairwise()["single"] if mode.needs_pairwise else None
        comps = self.comparisons(mode, pairwise)
        if mode.needs_binary:
            self.ensure_pairs({tuple(sorted((c, j))) for c, js in comps.items() for j in js})
        return comps

    # ------------------------------------------------------ evaluation
    def fused_maps(self, c: int, comps: Sequence[int], mode: Mode, role: str = "eval") -> torch.Tensor:
        """The map ``[n, s, s]`` of class c's images under ``mode``: the average over the comparison
        classes ``comps`` of their maps (binary models or contrasts, per ``mode.source``), or the
        multi-class model's own map when ``comps`` is empty (Baseline, Baseline+A); a reference
        map at full size (Ref-Centre at the width its fixed protocol chose)."""
        import torch

        from repcam_core.cam import fusion

        if not mode.needs_model:
            width = self.evaluate_mode(mode).widths["fixed"] if mode.reference == "centre" else None
            one = torch.from_numpy(reference_map(mode, self.p.config.image_size, width))
            return one.expand(len(self.maps.indices(c, role)), *one.shape)
        kind = "multi" if mode.multilayer else "single"
        if not comps:
            return fusion.normalise(self.baseline_maps(c, role)[kind].float())
        if mode.source == "contrast":
            maps = self.maps.contrast(c, comps, role)
            return fusion.average(torch.stack([maps[j][kind] for j in comps]))
        return fusion.average(torch.stack([self.pair_maps(c, j, role)[kind] for j in comps]))

    def full_size(self, maps: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        size = self.p.config.image_size
        if maps.shape[-1] != size:
            maps = F.interpolate(maps[:, None].float(), size=(size, size), mode="bilinear", align_corners=False)[:, 0]
        return maps.float()

    def _masks(self, c: int, role: str = "eval") -> torch.Tensor:
        return self.p.split(role).masks[self.maps.indices(c, role)]

    def pairwise_key(self) -> dict[str, Any]:
        """Cache key of :meth:`pairwise` (every pair's binary model and maps at the threshold)."""
        return {"maps": self.maps.key(self.p.binary_key(0, 1) | {"pair": "all"}, -1, -1),
                "thresholds": [self.p.config.threshold]}

    def has_pairwise(self) -> bool:
        return self.p.cache.has("pairwise", self.pairwise_key())

    def pairwise(self) -> dict[str, np.ndarray]:
        """Table 1: IoU [C, C] of class c (row) with the binary model (c, j) alone, for the
        single-layer ("single") and multi-layer ("multi") maps; NaN diagonal. Trains every pair."""
        C = self.p.num_classes

        def create(tmp: Path) -> None:
            from repcam_core.cam import fusion
            from repcam_core.evaluation.iou import IoUAccumulator

            self.p.check_training_data()
            self.ensure_pairs({(a, b) for a in range(C) for b in range(a + 1, C)})
            out = {}
            for kind in ("single", "multi"):
                table = np.full((C, C), np.nan)
                for c in range(C):
                    for j in range(C):
                        if j != c:
                            acc = IoUAccumulator(C, (self.p.config.threshold,))
                            maps = fusion.normalise(self.pair_maps(c, j)[kind].float())
                            acc.update(c, self.full_size(maps), self._masks(c))
                            table[c, j] = acc.per_class(0)[c]
                out[kind] = table.tolist()
            (tmp / "pairwise.json").write_text(json.dumps(out))

        def load(p: Path) -> dict[str, np.ndarray]:
            d = json.loads((p / "pairwise.json").read_text())
            return {k: np.array(v, dtype=float) for k, v in d.items()}

        return self.p.cache.get_or_create("pairwise", self.pairwise_key(), create, load)

    def mode_key(self, mode: Mode) -> dict[str, Any]:
        """Cache key of ``mode``'s result. Settings adapted to a small dataset enter it as run
        (a setting the paper's values fit leaves the key as earlier versions wrote it)."""
        cfg = self.p.config
        calib = self.p.calibration_split_name
        common = {"mode": mode.name, "version": RESULTS_VERSION, "thresholds": self.thresholds, "split": cfg.eval_split,
                  "calibration": None if calib is None else [calib, self.p.split_fingerprint("calib")]}
        if not mode.needs_model:  # the evaluation masks alone: no model, backbone, method or training split
            return {**common, "data": {k: v for k, v in self.p.data_key.items() if k != "train"}, **reference_key(mode)}
        key = {"multiclass": self.p.multiclass_key(), "binary": self.p.binary_key(0, 1) if mode.needs_binary else None,
               "similarity": self.p.similarity_key() if mode.needs_similarity else None,
               "clusters": ([*self.cluster_sizes, *(v if k == "algorithm" else f"{k}={v}"
                                                     for k, v in cfg.clustering_options().items())]
                            if mode.needs_clustering else None),
               "n_random": random_count(cfg.n_random, self.p.num_classes) if mode.kind == "random" else None,
               "method": cfg.cam_method, **common}
        if self.adapted(mode).positions != mode.positions:
            key["positions"] = list(self.adapted(mode).positions or ())
        return key

    def _counts(self, label: str, maps_of: Callable[[int], Any], role: str) -> ImageCounts:
        """Per-image counts on ``role``'s split of the maps ``maps_of(c)`` (``[n_c, S, S]``) of each class."""
        C = self.p.num_classes
        counts = ImageCounts.empty(C, self.thresholds)
        with self.p.progress.task(f"{'evaluating' if role == 'eval' else 'calibrating'} {label}", C) as step:
            for c in range(C):
                if len(self.maps.indices(c, role)):
                    counts.add(c, *count_pixels(maps_of(c), self._masks(c, role), c, self.thresholds))
                step(1)
        return counts

    def _mode_counts(self, mode: Mode, comps: dict[int, list[int]]) -> tuple[dict[str, ImageCounts], dict]:
        """``mode``'s counts per stored name (``eval``, ``calib``; a reference map may add ``auc.eval``)
        and what its result records beside them."""
        if not mode.needs_model:
            masks = {r: [self._masks(c, r).numpy() for c in range(self.p.num_classes)] for r in self.roles}
            return reference_counts(mode, masks, self.thresholds, self.p.config.threshold)
        return {role: self._counts(mode.name, lambda c: self.full_size(self.fused_maps(c, comps[c], mode, role)),
                                   role) for role in self.roles}, {}

    def evaluate_mode(self, mode: Mode) -> ModeResult:
        """Per-image counts of ``mode`` on the evaluation (and calibration) split, and the IoU per
        class and threshold they give (cached)."""

        def create(tmp: Path) -> None:
            comps = self.prepare(mode) if mode.needs_model else {c: [] for c in range(self.p.num_classes)}
            counts, extra = self._mode_counts(mode, comps)
            arrays = {f"{name}.{k}": np.ascontiguousarray(v) for name, cnt in counts.items()
                      for k, v in cnt.to_arrays().items()}
            save_arrays(arrays, tmp / "counts.safetensors")
            splits = [*([self.p.train_split] if mode.needs_model else []), *(self.p.split(r) for r in self.roles)]
            (tmp / "result.json").write_text(json.dumps({
                "mode": mode.name, "thresholds": self.thresholds,
                "comparisons": {str(c): js for c, js in comps.items()},
                "images": {r: len(self.p.split(r)) for r in self.roles},
                "skipped": sorted({f for sp in splits for f, _ in sp.skipped}), **extra}))

        def load(p: Path) -> ModeResult:
            d = json.loads((p / "result.json").read_text())
            arrays = load_np(str(p / "counts.safetensors"))
            split = {name: ImageCounts.from_arrays({k[len(name) + 1:]: v for k, v in arrays.items()
                                                    if k.startswith(name + ".")})
                     for name in ("eval", "calib", "auc.eval") if f"{name}.cls" in arrays}
            counts = split["eval"]
            return ModeResult(d["mode"], d["thresholds"], d["thresholds"].index(self.p.config.threshold), counts,
                              {int(c): js for c, js in d["comparisons"].items()}, split.get("calib"),
                              images=d.get("images", {}), skipped=d.get("skipped", []),
                              auc_counts=split.get("auc.eval"), widths=d.get("widths"),
                              computed_on=self.p.cache.computed_on(p))

        return self.p.cache.get_or_create("results", self.mode_key(mode), create, load)

    def protocol_values(self, result: ModeResult) -> ProtocolValues:
        """One mode under every protocol, with its bootstrap resamples (cached per mode: a warm run
        or the app only reads them). The resamples depend on the evaluation images alone, so any
        two modes' values are paired."""
        cfg = self.p.config
        key = {"mode": self.mode_key(parse_mode(result.mode)), "bootstrap": cfg.bootstrap, "seed": cfg.seed,
               "threshold": cfg.threshold}

        def create(tmp: Path) -> None:
            if self._weights is None:
                self._weights = bootstrap_weights(result.counts.images, cfg.bootstrap, cfg.seed)
            v = protocol_values(result.counts, result.calib_counts, cfg.threshold, self._weights)
            if result.auc_counts is not None:  # the AUC protocol's own counts (a reference map's width)
                v = with_auc_of(v, protocol_values(result.auc_counts, None, cfg.threshold, self._weights))
            nan = float("nan")
            save_arrays({"point": v.point, "resampled": np.ascontiguousarray(v.resampled),
                         "thresholds": np.array([v.fixed_threshold, nan if v.calibrated_threshold is None
                                                 else v.calibrated_threshold])}, tmp / "protocols.safetensors")

        def load(path: Path) -> ProtocolValues:
            a = load_np(str(path / "protocols.safetensors"))
            fixed, cal = (float(x) for x in a["thresholds"])
            return ProtocolValues(a["point"], fixed, None if not np.isfinite(cal) else cal, a["resampled"])

        return self.p.cache.get_or_create("protocols", key, create, load)

    def protocols(self, results: dict[str, ModeResult], baseline: ModeResult | None,
                  values: dict[str, ProtocolValues] | None = None) -> dict[str, Any]:
        """Every protocol of every mode in ``results`` and the paired comparisons with ``baseline``
        (:func:`repcam_core.evaluation.protocols.summarise`; ``values``: :meth:`all_protocol_values`, when held); a
        reference map's entries carry its ``width``."""
        values = self.all_protocol_values(results, baseline) if values is None else values
        summary = summarise(values, baseline.mode if baseline is not None else None)
        named = dict(results)
        if baseline is not None:
            named.setdefault(baseline.mode, baseline)
        for m, r in named.items():
            for proto, width in (r.widths or {}).items():
                summary["protocols"][proto][m]["width"] = width
        return summary

    def all_protocol_values(self, results: dict[str, ModeResult],
                            baseline: ModeResult | None) -> dict[str, ProtocolValues]:
        """Each mode's unrounded protocol values, the Baseline's included (means over seeds start here)."""
        named = dict(results)
        if baseline is not None:
            named.setdefault(baseline.mode, baseline)
        return {m: self.protocol_values(r) for m, r in named.items()}

    def calibration_info(self, results: dict[str, ModeResult] | None = None) -> dict[str, Any]:
        """Which split calibrated the thresholds and how many images it has (read from a result
        when one says, so a run that finds everything cached decodes no image)."""
        name = self.p.calibration_split_name
        known = [r.images["calib"] for r in (results or {}).values() if "calib" in r.images]
        images = None if name is None else (known[0] if known else len(self.p.calibration_split))
        return {"split": name, "images": images, "eval_split": self.p.config.eval_split}

    def run(self, modes: Sequence[str | Mode], optional: Sequence[str] = ()) -> Results:
        """Evaluate every mode (in order) and return the ablation table with every protocol.

        A mode this dataset cannot run fails the run before any training (ModeRefused), unless it
        is in ``optional`` (it came from a group): it is then left out and reported in
        ``Results.not_run``; adapted settings are reported in ``Results.adapted``. The Baseline is
        evaluated too (for the paired comparisons) even when not asked for, except in a run of
        reference maps only, which trains nothing (it then compares with a cached Baseline)."""
        plan, results, baseline = self._compute(modes, optional)
        return self._results(results, baseline, plan)

    def _compute(self, modes: Sequence[str | Mode],
                 optional: Sequence[str]) -> tuple[ModePlan, dict[str, ModeResult], ModeResult | None]:
        plan = self.plan(modes, optional)
        parsed = list(plan.modes)
        base = parse_mode("Baseline")
        compare = any(m.needs_model for m in parsed) or self.has_result(base)
        if not all(self.has_result(m) for m in [*parsed, *([base] if compare else [])]):
            if compare:
                self.p.check_training_data()  # before any long work: a class without training images
        else:
            self.p.check_decoded()  # everything cached: still, a damaged decoded split is found now
        # Pairwise needs every model anyway: build it first so later modes only read the cache.
        if any(m.needs_pairwise for m in parsed):
            self.pairwise()
        results = {m.name: self.evaluate_mode(m) for m in parsed}
        baseline = results.get("Baseline") or (self.evaluate_mode(base) if compare else None)
        return plan, results, baseline

    def compute(self, modes: Sequence[str | Mode], optional: Sequence[str] = ()) -> ModePlan:
        """Everything :meth:`run`'s table reads, into the cache (models, maps, results and each
        mode's protocol values), without assembling the table: what a worker process runs, so that
        the server then only reads (:meth:`cached`). Returns the plan."""
        plan, results, baseline = self._compute(modes, optional)
        self.all_protocol_values(results, baseline)
        return plan

    def _results(self, results: dict[str, ModeResult], baseline: ModeResult | None,
                 plan: ModePlan | None = None) -> Results:
        values = self.all_protocol_values(results, baseline)
        return Results(self.p.class_names, self.p.config.threshold, results, self.p.config.to_dict(),
                       self.protocols(results, baseline, values), self.calibration_info(results), values,
                       adapted={m: n for m, n in (plan.adapted if plan else {}).items() if m in results},
                       not_run=dict(plan.not_run) if plan else {})

    def has_result(self, mode: Mode | str) -> bool:
        mode = mode if isinstance(mode, Mode) else parse_mode(mode)
        return self.p.cache.has("results", self.mode_key(mode))

    def cached(self, modes: Sequence[str | Mode]) -> Results | None:
        """The table of those ``modes`` already evaluated in the cache, with every protocol; never
        trains or computes a map (what the app's Results page shows). None when none is cached.
        Modes this dataset cannot run are left out (``Results.not_run`` says why)."""
        names = [m.name if isinstance(m, Mode) else parse_mode(m).name for m in modes]
        plan = self.plan(modes, optional=names)
        results = {m.name: self.evaluate_mode(m) for m in plan.modes if self.has_result(m)}
        if not results:
            return None
        baseline = results.get("Baseline") or (self.evaluate_mode(parse_mode("Baseline"))
                                                if self.has_result("Baseline") else None)
        return self._results(results, baseline, plan)


__all__ = ["Experiment", "Executor", "LocalExecutor"]
