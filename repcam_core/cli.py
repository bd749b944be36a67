"""``repcam``: the same core, headless, for batch experiments.

Every command shares the options that make a :class:`RunConfig`; artifacts go to the cache
(``--cache``, default the user's cache directory) so a rerun recomputes nothing and an
interrupted run resumes. User errors print one line and exit 2; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

from repcam_core.errors import RepCAMError

EXIT_USER_ERROR = 2


def _registries() -> tuple[list[str], list[str]]:
    from repcam_core.cam.methods import CAM_METHODS
    from repcam_core.models.backbones import BACKBONES

    return BACKBONES.names(), CAM_METHODS.names()


def _common(p: argparse.ArgumentParser) -> None:
    backbones, methods = _registries()
    g = p.add_argument_group("experiment")
    g.add_argument("--dataset", default=None,
                   help="'embedded' (default: the generated world), a VOC-layout dir, voc:DIR or coco:DIR")
    g.add_argument("--preset", choices=["embedded", "paper"], default=None,
                   help="embedded (fast CPU defaults) or paper (sec. 4.2: 224 crop, batch 24, lr 1e-4, ...)")
    g.add_argument("--backbone", default=None, metavar="NAME", help=f"one of: {', '.join(backbones)}")
    g.add_argument("--similarity-backbone", default=None, metavar="NAME", help="backbone of the model that builds B")
    g.add_argument("--cam-method", default=None, metavar="NAME", help=f"per-layer map method: {', '.join(methods)}")
    g.add_argument("--device", default=None, help="auto (default), cpu or cuda")
    g.add_argument("--seed", type=int, default=None)
    g.add_argument("--image-size", type=int, default=None, help="crop side in pixels")
    g.add_argument("--train-split", default=None)
    g.add_argument("--eval-split", default=None)
    g.add_argument("--clusters", type=int, default=None, dest="n_clusters", help="N clusters (default 4)")
    g.add_argument("--min-cluster-size", type=int, default=None)
    g.add_argument("--threshold", type=float, default=None, help="CAM threshold (default 0.15)")
    g.add_argument("--classes", default=None,
                   help="auto (the classes with single-label training images, for partial data) or "
                        "comma-separated class names (default: every class)")
    t = p.add_argument_group("training")
    t.add_argument("--epochs", type=int, default=None, help="multi-class epochs")
    t.add_argument("--binary-epochs", type=int, default=None, dest="binary_max_epochs", help="binary max epochs")
    t.add_argument("--batch-size", type=int, default=None)
    t.add_argument("--lr", type=float, default=None)
    t.add_argument("--binary-lr", type=float, default=None)
    t.add_argument("--binary-init", choices=["imagenet", "multiclass", "scratch"], default=None)
    g.add_argument("--labels", choices=["masks", "xml"], default=None,
                   help="VOC training labels: masks (default: the segmentation split's masks) or xml "
                        "(Annotations/*.xml for ImageSets/Main/<train-split>, default trainval: the paper's ~11k images)")
    x = p.add_argument_group("execution")
    x.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="where pair trainings + maps run: local (this process) or ray (one task per pair)")
    x.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="Ray cluster address (host:6379, ray://host:10001, auto); 'local' or unset starts a local "
                        "instance. The --cache directory must be shared by every worker")
    o = p.add_argument_group("output")
    o.add_argument("--cache", default=None, help="artifact cache directory (default: $REPCAM_CACHE or ~/.cache/repcam)")
    o.add_argument("--out", default="repcam-results", help="directory for tables (default ./repcam-results)")
    o.add_argument("--quiet", action="store_true", help="no progress bars")


_RUN_FIELDS = ("dataset", "backbone", "similarity_backbone", "cam_method", "device", "seed", "image_size",
               "train_split", "eval_split", "n_clusters", "min_cluster_size", "threshold", "classes")
_TRAIN_FIELDS = ("epochs", "binary_max_epochs", "batch_size", "lr", "binary_lr", "binary_init")


def build_config(args: argparse.Namespace):
    """The RunConfig for these arguments: the preset, then every option that was given."""
    from repcam_core.config import RunConfig, paper_config

    base = paper_config() if args.preset == "paper" else RunConfig()
    run = {f: getattr(args, f) for f in _RUN_FIELDS if getattr(args, f, None) is not None}
    if getattr(args, "labels", None) == "xml":
        name = run.get("train_split") or "trainval"
        run["train_split"] = name if name.startswith("main/") else f"main/{name}"
    train = {f: getattr(args, f) for f in _TRAIN_FIELDS if getattr(args, f, None) is not None}
    return base.with_(**run, train=train) if train else base.with_(**run)


def _pipeline(args: argparse.Namespace):
    from repcam_core.pipeline import Pipeline
    from repcam_core.progress import TqdmProgress

    config = build_config(args)
    p = Pipeline(config, cache=args.cache, progress=TqdmProgress(disable=args.quiet))
    _device_setup(p.device)
    has_masks = getattr(p.dataset, "has_masks", None)
    if has_masks is not None and not has_masks(config.eval_split):
        from repcam_core.errors import ConfigError

        raise ConfigError(f"evaluation split {config.eval_split!r} has no masks; evaluate on a segmentation split (val, train)")
    return p


def _device_setup(device: Any) -> None:
    """cuDNN autotuning on GPU (fixed 224 crops: the fastest kernels are picked once)."""
    if getattr(device, "type", str(device)) == "cuda":
        import torch

        torch.backends.cudnn.benchmark = True


def _experiment(args: argparse.Namespace, p: Any):
    from repcam_core.executors import make_executor
    from repcam_core.experiment import Experiment

    return Experiment(p, executor=make_executor(getattr(args, "executor", "local") or "local",
                                                getattr(args, "ray_address", None)))


def _out(args: argparse.Namespace) -> Path:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _write(path: Path, text: str) -> None:
    from repcam_core.cache import write_text_atomic

    write_text_atomic(path, text)


# ------------------------------------------------------------------ commands
def cmd_demo_data(args: argparse.Namespace) -> int:
    from repcam_core.data.world import WorldConfig, generate_world

    fields = {k: getattr(args, k) for k in ("seed", "n_families", "classes_per_family", "train_per_class",
                                            "val_per_class") if getattr(args, k) is not None}
    path = generate_world(Path(args.out), WorldConfig(**fields))
    print(f"wrote the embedded dataset to {path} (VOC layout; use --dataset {path})")
    return 0


def cmd_similarity(args: argparse.Namespace) -> int:
    import numpy as np

    from repcam_core.method.selection import similarity_order

    p = _pipeline(args)
    B = p.similarity()
    names = p.class_names
    out = _out(args)
    rows = ["class," + ",".join(names)] + [f"{n}," + ",".join(f"{v:.4f}" for v in B[i]) for i, n in enumerate(names)]
    _write(out / "similarity.csv", "\n".join(rows) + "\n")
    if args.json:
        print(json.dumps({"classes": list(names), "B": np.round(B, 6).tolist()}))
        return 0
    print("Most similar classes (B row order, Fig. 3):")
    for i, n in enumerate(names):
        order = similarity_order(B, i)[:5]
        print(f"  {n:>14}: " + ", ".join(f"{names[j]} ({B[i, j]:.2f})" for j in order))
    print(f"wrote {out / 'similarity.csv'}")
    return 0


def cmd_cluster(args: argparse.Namespace) -> int:
    p = _pipeline(args)
    res = p.clustering()
    names = p.class_names
    groups = [[names[i] for i in g] for g in res.clusters()]
    _write(_out(args) / "clusters.json", json.dumps({"clusters": groups, "iterations": res.iterations,
                                                     "converged": res.converged}, indent=2))
    if args.json:
        print(json.dumps({"clusters": groups, "iterations": res.iterations, "converged": res.converged}))
        return 0
    for k, g in enumerate(groups):
        print(f"cluster {k + 1}: {', '.join(g)}")
    print(f"({res.iterations} passes, {'converged' if res.converged else 'stopped at max passes'})")
    return 0


def cmd_pairs(args: argparse.Namespace) -> int:
    from repcam_core.tables import pairwise_table_csv

    p = _pipeline(args)
    exp = _experiment(args, p)
    res = exp.run(["Baseline", "Top1", "Top2", "Top3", "Top4", "All"])
    table = exp.pairwise()["single"]
    text = pairwise_table_csv(p.class_names, table, res)
    _write(_out(args) / "pairs.csv", text)
    if args.json:
        print(json.dumps({"classes": list(p.class_names), "pairwise": [[None if v != v else round(100 * v, 2)
                          for v in row] for row in table], **{k: v for k, v in res.to_json().items() if k == "miou"}}))
    else:
        print(text)
        print(f"wrote {Path(args.out) / 'pairs.csv'}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from repcam_core.method.modes import PAPER_MODES, parse_modes

    modes = parse_modes(args.modes) if args.modes else parse_modes(",".join(PAPER_MODES))
    if args.seeds:
        return _run_seeds(args, modes)
    p = _pipeline(args)
    exp = _experiment(args, p)
    res = exp.run(modes)
    out = _out(args)
    _write(out / "results.csv", res.to_csv())
    data = res.to_json()
    if args.eval == "wsss":
        wsss = {m: exp.evaluate_wsss(m, args.bg_threshold) for m in res.modes}
        data["wsss"] = {"bg_threshold": args.bg_threshold,
                        "miou": {m: _pct(w["miou"]) for m, w in wsss.items()},
                        "per_class": {m: dict(zip(["background", *p.class_names], [_pct(v) for v in w["iou"]]))
                                      for m, w in wsss.items()}}
    skipped = len(p.train_split.skipped) + len(p.eval_split.skipped)
    data["skipped_files"] = [f for f, _ in p.train_split.skipped + p.eval_split.skipped]
    _write(out / "results.json", json.dumps(data, indent=2))
    if args.json:
        print(json.dumps(data))
        return 0
    width = max(len(m) for m in data["miou"])
    print(f"mIoU (%) at threshold {res.threshold} on {p.config.eval_split} ({p.config.backbone})"
          + (f"; WSSS mIoU (background + classes, bg threshold {args.bg_threshold}):" if "wsss" in data else ":"))
    for m, v in data["miou"].items():
        extra = ""
        if "wsss" in data:
            w = data["wsss"]["miou"][m]
            extra = f"   WSSS {'n/a' if w is None else f'{w:6.2f}'}"
        print(f"  {m:<{width}}  {'n/a' if v is None else f'{v:6.2f}'}{extra}")
    if skipped:
        print(f"skipped {skipped} unreadable file(s): see results.json")
    print(f"wrote {out / 'results.csv'} and {out / 'results.json'}")
    return 0


def _run_seeds(args: argparse.Namespace, modes: list) -> int:
    """``repcam run --seeds 0,1,2``: the whole experiment once per seed, then mean and sd."""
    from repcam_core.errors import ConfigError
    from repcam_core.experiment import aggregate_seeds

    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"--seeds takes comma-separated integers, got {args.seeds!r}") from None
    if not seeds:
        raise ConfigError("--seeds is empty")
    per_seed = {}
    for seed in seeds:
        args.seed = seed
        p = _pipeline(args)
        per_seed[seed] = _experiment(args, p).run(modes)
    data = aggregate_seeds(per_seed)
    out = _out(args)
    _write(out / "results_seeds.json", json.dumps(data, indent=2))
    if args.json:
        print(json.dumps(data))
        return 0
    width = max(len(m) for m in data["miou"])
    print(f"mIoU (%) at threshold {data['threshold']}, mean ± sd over seeds {', '.join(map(str, seeds))}:")
    for m in data["miou"]:
        runs = "  ".join(f"{data['per_seed'][str(s)][m]:6.2f}" for s in seeds)
        print(f"  {m:<{width}}  {data['miou'][m]:6.2f} ± {data['miou_std'][m]:5.2f}   ({runs})")
    print(f"wrote {out / 'results_seeds.json'}")
    return 0


def _pct(v: Any) -> Any:
    import math

    return None if v is None or not math.isfinite(v) else round(100 * float(v), 2)


def cmd_weights(args: argparse.Namespace) -> int:
    from repcam_core.models.weights import checkpoint_dir, weights_status

    rows = weights_status()
    if args.json:
        print(json.dumps({"checkpoint_dir": str(checkpoint_dir()),
                          "backbones": [{"backbone": r.backbone, "present": r.present,
                                         "path": None if r.path is None else str(r.path), "fetch": r.fetch}
                                        for r in rows]}))
        return 0
    print(f"ImageNet weights in {checkpoint_dir()} (set TORCH_HOME to use another torch cache):")
    width = max(len(r.backbone) for r in rows)
    for r in rows:
        state = "present" if r.present else ("missing" if r.path is not None else "none")
        print(f"  {r.backbone:<{width}}  {state:<8} {r.path.name if r.path is not None else ''}")
    missing = [r for r in rows if r.path is not None and not r.present]
    if missing:
        print("To fetch the missing ones, run on a machine with internet access, then copy the files "
              f"into {checkpoint_dir()}:")
        for r in missing:
            print(f"  {r.fetch}")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from repcam_core.executors import make_executor
    from repcam_core.progress import TqdmProgress
    from repcam_core.reproduce import reproduce

    config = build_config(args)
    backbones = [b.strip() for b in args.backbones.split(",") if b.strip()] if args.backbones else None
    if backbones is None and args.backbone is not None and args.table != "table1":
        backbones = [args.backbone]
    if args.table in ("table1", "table5") and args.backbone is None and args.preset == "paper":
        config = config.with_(backbone="resnet152" if args.table == "table1" else "resnet101")
    from repcam_core.train import resolve_device

    _device_setup(resolve_device(config.device))
    modes = [m.strip() for m in args.modes.split(",") if m.strip()] if args.modes else None
    rep = reproduce(args.table, config, cache=args.cache, progress=TqdmProgress(disable=args.quiet),
                    backbones=backbones, modes=modes, executor=make_executor(args.executor, args.ray_address),
                    coco_dataset=args.coco)
    paths = rep.write(_out(args))
    if args.json:
        print(json.dumps({"table": rep.table, "ours": rep.ours, "paper": rep.paper, "diff": rep.diff(),
                          "notes": rep.notes}))
        return 0
    print(rep.text())
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def cmd_cache_clean(args: argparse.Namespace) -> int:
    from repcam_core.cache import ArtifactCache

    cache = ArtifactCache(args.cache)
    print(f"removed {cache.clear_stale()} stale entr(ies) from {cache.root}")
    return 0


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="repcam", description="RepCAM: class activation maps by representative class selection and multi-layer fusion (the same core as the app, headless).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("demo-data", help="generate the embedded dataset (VOC layout)")
    d.add_argument("--out", required=True, help="directory to write")
    d.add_argument("--seed", type=int, default=None)
    d.add_argument("--families", type=int, default=None, dest="n_families")
    d.add_argument("--classes-per-family", type=int, default=None)
    d.add_argument("--train-per-class", type=int, default=None)
    d.add_argument("--val-per-class", type=int, default=None)
    d.set_defaults(fn=cmd_demo_data)

    commands: list[tuple[str, str, Callable[[argparse.Namespace], int]]] = [
        ("similarity", "train the multi-class model and build the similarity matrix B", cmd_similarity),
        ("cluster", "cluster the classes with the improved k-means", cmd_cluster),
        ("pairs", "the pairwise table (Table 1): every binary model, Top-k and All", cmd_pairs),
        ("run", "the ablation table for a list of modes", cmd_run),
    ]
    for name, help_, fn in commands:
        sp = sub.add_parser(name, help=help_)
        _common(sp)
        sp.add_argument("--json", action="store_true", help="print the result as one JSON object")
        if name == "run":
            sp.add_argument("--modes", default=None,
                            help="comma-separated, e.g. Baseline,S-1+F,S-1+A+F (default: all the paper's modes)")
            sp.add_argument("--seeds", default=None, metavar="LIST",
                            help="e.g. 0,1,2: run once per seed and report mean ± sd (overrides --seed)")
            sp.add_argument("--eval", choices=["paper", "wsss"], default="paper",
                            help="paper: per-class threshold mIoU (always); wsss: also the WSSS convention "
                                 "(argmax over the image's classes with a background threshold, bg included)")
            sp.add_argument("--bg-threshold", type=float, default=0.15, help="WSSS background threshold (0.15)")
        sp.set_defaults(fn=fn)

    rp = sub.add_parser("reproduce", help="a paper table (1-5) in its layout, the published figures beside it")
    rp.add_argument("table", choices=["table1", "table2", "table3", "table4", "table5"])
    _common(rp)
    rp.add_argument("--backbones", default=None, metavar="LIST",
                    help="comma-separated table columns for table2/3/4 (default: the paper's; --backbone picks one)")
    rp.add_argument("--modes", default=None, help="rows to compute for table2/3/4 (default: the paper's rows)")
    rp.add_argument("--coco", default=None, metavar="DIR", help="table5: a COCO 2017 directory for the COCO-val column")
    rp.add_argument("--json", action="store_true", help="print the result as one JSON object")
    rp.set_defaults(fn=cmd_reproduce)

    wp = sub.add_parser("weights", help="which backbones have ImageNet weights in the local torch cache")
    wp.add_argument("--json", action="store_true", help="print the result as one JSON object")
    wp.set_defaults(fn=cmd_weights)

    c = sub.add_parser("cache", help="cache maintenance")
    c.add_argument("action", choices=["clean"], help="clean: remove partial and old-version entries")
    c.add_argument("--cache", default=None)
    c.set_defaults(fn=cmd_cache_clean)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = _show_warning
            return int(args.fn(args))
    except RepCAMError as exc:
        print(f"repcam: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("repcam: interrupted; finished artifacts are cached, run the same command to resume", file=sys.stderr)
        return 130


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
                  line: str | None = None) -> None:
    """Warnings (e.g. a skipped unreadable image) as one line on stderr, no source location."""
    print(f"repcam: warning: {message}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
