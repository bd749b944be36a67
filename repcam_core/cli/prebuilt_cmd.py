"""``repcam prebuilt build | show | check``: the shipped default model (:mod:`repcam_core.running.prebuilt`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

EXIT_STALE = 1
"""``repcam prebuilt check``: the shipped artifacts do not match the default configuration."""


def cmd_prebuilt(args: argparse.Namespace) -> int:
    return {"build": cmd_build, "show": cmd_show, "check": cmd_check}[args.action](args)


def cmd_build(args: argparse.Namespace) -> int:
    from repcam_core.running.prebuilt import BUILD_COMMAND, DEFAULT_DIR
    from repcam_core.running.prebuilt.build import build
    from repcam_core.running.progress import TqdmProgress

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    out = Path(args.out) if args.out else DEFAULT_DIR
    command = BUILD_COMMAND + (f" --threads {args.threads}" if args.threads else "")
    man = build(out, Path(args.cache) if args.cache else None, TqdmProgress(disable=args.quiet), command)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    q = man["quality"]
    print(f"wrote {out} ({size / 1e6:.1f} MB): multi-class model trained in {man['train_seconds']:.0f} s "
          f"({man['threads']} torch threads, {man['cpu']}); accuracy {q['val_accuracy']} %, Baseline mIoU "
          + ", ".join(f"{k} {v}" for k, v in q["baseline_miou"].items()))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from repcam_core.errors import ConfigError
    from repcam_core.running.prebuilt import Prebuilt, from_env

    shipped = Prebuilt(Path(args.dir)) if args.dir else (from_env() or Prebuilt())
    if not shipped.manifest:
        raise ConfigError(f"no prebuilt artifacts in {shipped.root} (run `repcam prebuilt build`)")
    info = {**shipped.provenance(), "dir": str(shipped.root), "kinds": sorted(shipped.manifest["entries"])}
    if args.json:
        print(json.dumps(info))
        return 0
    q = info["quality"]
    print(f"{info['dir']}: {', '.join(info['kinds'])} of the default configuration\n"
          f"  built by `{info['command']}` on {info['date']} from commit {info['commit']}\n"
          f"  torch {info['torch']}, {info['threads']} thread(s), {info['cpu']}; "
          f"trained in {info['train_seconds']:.0f} s\n"
          f"  accuracy {q['val_accuracy']} % ({q['val_images']} single-label val images); Baseline mIoU "
          + ", ".join(f"{k} {v}" for k, v in q["baseline_miou"].items()))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from repcam_core.running.config import RunConfig
    from repcam_core.running.pipeline import Pipeline
    from repcam_core.running.prebuilt import BUILD_COMMAND, Prebuilt, differences

    shipped = Prebuilt(Path(args.dir)) if args.dir else Prebuilt()
    diff = differences(Pipeline(RunConfig(), cache=args.cache, prebuilt=False), shipped)
    if not diff:
        print(f"{shipped.root} matches the default configuration")
        return 0
    for kind, lines in diff.items():
        print(f"{kind}: " + "; ".join(lines))
    print(f"the shipped artifacts are stale: run `{BUILD_COMMAND}` and commit {shipped.root}")
    return EXIT_STALE


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prebuilt", help="the shipped default model: build it, show where it came from, check it")
    p.add_argument("action", choices=["build", "show", "check"],
                   help="build: train the default configuration from scratch and write the prebuilt directory; "
                        "show: its provenance and quality; check: whether it matches the default configuration")
    p.add_argument("--out", default=None, metavar="DIR", help="build: where to write (default: the package's own)")
    p.add_argument("--dir", default=None, metavar="DIR", help="show/check: another prebuilt directory")
    p.add_argument("--cache", default=None, help="build: train in this cache (default: a fresh temporary one); "
                                                 "check: where the world is generated")
    p.add_argument("--threads", type=int, default=None, help="build: torch threads (recorded in the manifest)")
    p.add_argument("--json", action="store_true", help="show: one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(fn=cmd_prebuilt)
