"""``python -m bench.threads --out DIR``: how far figures move when only the torch thread count
changes, and whether they repeat bit for bit when it does not.

Runs the same cold ``repcam run --modes MODES --json`` (seed 0, embedded default) several times,
each in a fresh cache, with ``OMP_NUM_THREADS`` set per run, and writes each run's JSON, the
CRC-32 of every trained model file and a summary (``summary.md``: the figures side by side, which
runs are bit-identical, the largest per-class difference). Not part of ``python -m bench``: it
trains from scratch (minutes per run). ``--lock FILE`` runs each command under ``flock FILE``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_run(threads: int, modes: str, work: Path, lock: str | None, config: str | None = None) -> dict:
    cache, out = work / "cache", work / "out"
    cmd = [sys.executable, "-m", "repcam_core.cli", "run", "--modes", modes, "--seed", "0", "--json", "--quiet",
           "--cache", str(cache), "--out", str(out), *(["--config", config] if config else [])]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    env.pop("REPCAM_CACHE", None)
    res = subprocess.run((["flock", lock] if lock else []) + cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"run with {threads} thread(s) failed:\n{res.stderr[-3000:]}")
    # (entry names hold the data's mtimes, which differ between fresh caches: compare the bytes only)
    models = sorted(f"{kind}:{zlib.crc32(p.read_bytes()):08x}"
                    for kind in ("multiclass", "binary") for p in (cache / kind).glob("*/model.safetensors"))
    return {"threads": threads, "models": models,
            "result": json.loads(res.stdout.strip().splitlines()[-1])}


def summary(runs: list[dict]) -> str:
    from repcam_core.evaluation.percent import fmt, points

    first = runs[0]["result"]
    modes = list(first["miou"])
    lines = ["| run | threads | " + " | ".join(f"{m} {p}" for m in modes for p in ("fixed", "calibrated", "AUC"))
             + " | model files (CRC-32) |",
             "|---|---|" + "---|" * (3 * len(modes)) + "---|"]
    for k, r in enumerate(runs):
        P = r["result"]["protocols"]
        cells = [fmt(P[p][m]["miou"]) for m in modes for p in ("fixed", "calibrated", "auc")]
        crcs = ", ".join(r["models"])
        lines.append(f"| {k + 1} | {r['threads']} | " + " | ".join(cells) + f" | {crcs} |")
    lines.append("")
    for i, a in enumerate(runs):
        for j in range(i + 1, len(runs)):
            b = runs[j]
            same_models = a["models"] == b["models"]
            same_json = {k: v for k, v in a["result"].items() if k != "computed_on"} == \
                        {k: v for k, v in b["result"].items() if k != "computed_on"}
            worst = max(abs(points(x - y)) for m in modes
                        for x, y in zip(a["result"]["per_class"][m].values(), b["result"]["per_class"][m].values())
                        if x is not None and y is not None)
            lines.append(f"- runs {i + 1} and {j + 1} ({a['threads']} vs {b['threads']} thread(s)): model files "
                         f"{'identical' if same_models else 'differ'}; results JSON (figures, intervals, "
                         f"per class) {'identical' if same_json else 'differ'}; largest per-class IoU "
                         f"difference {fmt(worst)} points")
    machines = {json.dumps(m, sort_keys=True) for r in runs for m in r["result"].get("computed_on", [])}
    lines.append("")
    lines.append("computed_on: " + "; ".join(sorted(machines)))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.threads", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="directory for the runs' JSON and summary.md")
    parser.add_argument("--threads", default="1,2,1,2", help="one run per entry, in order (default 1,2,1,2)")
    parser.add_argument("--modes", default="Baseline")
    parser.add_argument("--lock", default=None, help="run each command under flock FILE")
    parser.add_argument("--config", default=None, help="a RunConfig JSON (default: the embedded default)")
    parser.add_argument("--summary-only", action="store_true", help="rewrite summary.md from the runs in --out")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.summary_only:
        runs = [json.loads(p.read_text()) for p in sorted(out.glob("run*-*thread.json"))]
        (out / "summary.md").write_text(summary(runs))
        print(summary(runs))
        return 0
    runs = []
    for k, n in enumerate(int(t) for t in args.threads.split(",")):
        with tempfile.TemporaryDirectory(prefix="repcam-threads-") as work:
            run = one_run(n, args.modes, Path(work), args.lock, args.config)
        (out / f"run{k + 1}-{n}thread.json").write_text(json.dumps(run, indent=1) + "\n")
        print(f"run {k + 1}: {n} thread(s) done", flush=True)
        runs.append(run)
    text = summary(runs)
    (out / "summary.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
