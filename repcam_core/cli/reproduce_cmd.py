"""``repcam reproduce tableN``: one of the paper's tables in its layout, the published figures beside it."""

from __future__ import annotations

import argparse
import json

from repcam_core.cli.common import add_common, build_config, out_dir


def cmd_reproduce(args: argparse.Namespace) -> int:
    from repcam_core.running.executors import make_executor
    from repcam_core.running.progress import TqdmProgress
    from repcam_core.running.reproduce import reproduce

    config = build_config(args)
    backbones = [b.strip() for b in args.backbones.split(",") if b.strip()] if args.backbones else None
    if backbones is None and args.backbone is not None and args.table != "table1":
        backbones = [args.backbone]
    if args.table in ("table1", "table5") and args.backbone is None and args.preset == "paper":
        config = config.with_(backbone="resnet152" if args.table == "table1" else "resnet101")
    from repcam_core.method.modes import parse_modes

    modes = [m.name for m in parse_modes(args.modes)] if args.modes else None  # groups expand
    rep = reproduce(args.table, config, cache=args.cache, progress=TqdmProgress(disable=args.quiet),
                    backbones=backbones, modes=modes, executor=make_executor(args.executor, args.ray_address),
                    coco_dataset=args.coco)
    paths = rep.write(out_dir(args))
    if args.json:
        print(json.dumps({"table": rep.table, "ours": rep.ours, "paper": rep.paper, "diff": rep.diff(),
                          "notes": rep.notes}))
        return 0
    print(rep.text())
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    rp = sub.add_parser("reproduce", help="a paper table (1-5) in its layout, the published figures beside it")
    rp.add_argument("table", choices=["table1", "table2", "table3", "table4", "table5"])
    add_common(rp)
    rp.add_argument("--backbones", default=None, metavar="LIST",
                    help="comma-separated table columns for table2/3/4 (default: the paper's; --backbone picks one)")
    rp.add_argument("--modes", default=None,
                    help="rows to compute for table2/3/4, names or groups as repcam run takes them (default: the "
                         "paper's rows and the reference maps); a row this dataset cannot run is n/a with a note")
    rp.add_argument("--coco", default=None, metavar="DIR", help="table5: a COCO 2017 directory for the COCO-val column")
    rp.add_argument("--json", action="store_true", help="print the result as one JSON object")
    rp.set_defaults(fn=cmd_reproduce)
