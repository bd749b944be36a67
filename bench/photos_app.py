"""The app on real photos, first opening: a photo set with the photos preset from a fresh cache.

``python -m bench.photos_app [--dataset SPEC] [--out FILE]`` writes ``photos_config(dataset=SPEC)``
(default MSRC-v2 under ``../shared/data``) as ``$REPCAM_APP_CONFIG``, then times the real server on
an empty cache as :mod:`bench.demo` does (started as ``make app`` starts it, warm-up and worker
processes on; headless Chromium opens Home, then the CAM explorer): ``home_s`` from the browser
opening Home to its status table, ``first_gradcam_s`` from the server's start to the explorer's
first Grad-CAM, ``first_fused_s`` to its fused S-1+A+F map over all the default class's S-1
classes, ``app_multiclass_train_s`` the multi-class model's training inside the worker. Prints
one JSON object (also written to ``--out``) with the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from bench.demo import _app
from repcam_core.running.config import photos_config

MSRC = Path(__file__).resolve().parents[2] / "shared" / "data" / "msrc-v2"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.photos_app", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default=f"voc:{MSRC}", help="dataset spec (default: MSRC-v2 under ../shared)")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args(argv)
    config = photos_config(dataset=args.dataset)
    with tempfile.TemporaryDirectory(prefix="repcam-photos-app-") as tmp:
        (Path(tmp) / "config.json").write_text(json.dumps(config.to_dict()))
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("DEMO_THREADS", "2"),
               "REPCAM_APP_CONFIG": str(Path(tmp) / "config.json"), "REPCAM_CACHE": str(Path(tmp) / "cache")}
        load_before = os.getloadavg()[0]
        figures = _app(env, timeout=args.timeout, whatif=False)  # its loop toggles tinynet's layers
    report = {"benchmark": "photos_app", "date": time.strftime("%Y-%m-%d %H:%M"),
              "dataset": Path(args.dataset.partition(":")[2] or args.dataset).name, "preset": config.preset,
              "backbone": config.backbone, "image_size": config.image_size, "torch_threads": env["OMP_NUM_THREADS"],
              "load_avg_1min_before": round(load_before, 2), "load_avg_1min_after": round(os.getloadavg()[0], 2),
              "figures_s": {k: round(v, 1) if isinstance(v, float) else v for k, v in figures.items()}}
    text = json.dumps(report, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
