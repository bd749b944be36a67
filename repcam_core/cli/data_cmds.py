"""``repcam demo-data | weights``: the embedded dataset on disk, and which ImageNet weights are local."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def cmd_demo_data(args: argparse.Namespace) -> int:
    from repcam_core.data.world import WorldConfig
    from repcam_core.data.world_files import generate_world

    fields = {k: getattr(args, k) for k in ("seed", "n_families", "classes_per_family", "train_per_class",
                                            "val_per_class", "calib_per_class") if getattr(args, k) is not None}
    path = generate_world(Path(args.out), WorldConfig(**fields))
    print(f"wrote the embedded dataset to {path} (VOC layout; use --dataset {path})")
    return 0


def cmd_weights(args: argparse.Namespace) -> int:
    from repcam_core.models.backbones import BACKBONES
    from repcam_core.models.weights import checkpoint_dir, weights_status

    rows = weights_status(BACKBONES.get(name) for name in BACKBONES.names())
    if args.json:
        print(json.dumps({"checkpoint_dir": str(checkpoint_dir()),
                          "backbones": [{"backbone": r.backbone, "present": r.present,
                                         "path": None if r.path is None else str(r.path), "fetch": r.fetch,
                                         "source": r.origin or None}
                                        for r in rows]}))
        return 0
    print(f"ImageNet weights in {checkpoint_dir()} (set TORCH_HOME to use another torch cache):")
    width = max(len(r.backbone) for r in rows)
    for r in rows:
        state = "present" if r.present else ("missing" if r.kind != "none" else "none")
        name = r.path.name if r.path is not None else ""
        where = f" (from {r.origin}: {r.path})" if r.kind == "package" and r.path is not None else ""
        print(f"  {r.backbone:<{width}}  {state:<8} {name}{where}".rstrip())
    missing = [r for r in rows if r.kind == "torchvision" and not r.present]
    if missing:
        print("To fetch the missing ones, run on a machine with internet access, then copy the files "
              f"into {checkpoint_dir()}:")
        for r in missing:
            print(f"  {r.fetch}")
    for r in rows:
        if r.kind == "package" and not r.present:
            print(f"To get {r.backbone}'s: {r.fetch}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser("demo-data", help="generate the embedded dataset (VOC layout)")
    d.add_argument("--out", required=True, help="directory to write")
    d.add_argument("--seed", type=int, default=None)
    d.add_argument("--families", type=int, default=None, dest="n_families")
    d.add_argument("--classes-per-family", type=int, default=None)
    d.add_argument("--train-per-class", type=int, default=None)
    d.add_argument("--val-per-class", type=int, default=None)
    d.add_argument("--calib-per-class", type=int, default=None,
                   help="images per class of the calibration split (thresholds are chosen there, not on val)")
    d.set_defaults(fn=cmd_demo_data)

    wp = sub.add_parser("weights", help="which backbones have ImageNet weights here (torch cache, installed packages)")
    wp.add_argument("--json", action="store_true", help="print the result as one JSON object")
    wp.set_defaults(fn=cmd_weights)
