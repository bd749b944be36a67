"""Paired comparisons over seeds behind docs/results.md's real-photo findings, each mode against a
partner on the same seed (and, within a seed, the same bootstrap resamples of the evaluation images):

* ``reference``: every mode minus ``Ref-Whole`` and minus ``Ref-Centre``;
* ``a-effect``: ``X+A+F`` minus ``X+F``, and ``Baseline+A`` minus ``Baseline``;
* ``contrast``: a binary-model mode minus its training-free rival with the same comparison classes
  (``X`` minus ``Contrast-X``; ``All`` minus ``Contrast-All+F``).

usage:
  python docs/results/paired.py CACHE seed-0.json [seed-1.json ...]   # from each seed's results.json
  python docs/results/paired.py --from-json results_seeds.json         # from a --seeds aggregate

With a cache, each seed's configuration is run again on it (nothing is trained: everything is
cached) and the differences are taken from unrounded values (``aggregate_protocols``, rounded once,
as every RepCAM figure); each seed's 95 % interval of a difference comes from ``summarise``, and
"above"/"below" count the seeds whose interval is wholly above/below 0. ``--from-json`` has only the
per-seed figures as printed (rounded to 2 decimals), so its means can differ from the cache's in
the last digit, and it has no intervals (``reference`` needs the cache). Per comparison: mean ± sd
of the difference over seeds (points) and how many seeds the mode is ahead. The last line printed
is the whole output as JSON.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, Iterator

from repcam_core.evaluation.percent import fmt, mean_sd
from repcam_core.evaluation.protocols import PROTOCOLS

REFS = ("Ref-Whole", "Ref-Centre")


def partners(modes: list[str]) -> dict[str, list[tuple[str, str]]]:
    """Each comparison's (mode, partner) pairs among ``modes``."""
    refs = [(m, r) for r in REFS if r in modes for m in modes if m not in REFS]
    a_effect = [(m, "Baseline" if m == "Baseline+A" else m.replace("+A+F", "+F")) for m in modes
                if m == "Baseline+A" or m.endswith("+A+F")]
    contrast = [(m, "Contrast-All+F" if m == "All" else f"Contrast-{m}") for m in modes
                if not m.startswith(("Contrast-", "Ref-", "Top", "Baseline"))]
    return {"reference": refs,
            "a-effect": [(m, o) for m, o in a_effect if o in modes],
            "contrast": [(m, o) for m, o in contrast if o in modes]}


def from_cache(cache: str, files: list[str]) -> tuple[list[str], list[dict[str, Any]], dict]:
    """(modes, per seed: mode -> unrounded point values by protocol, per seed: mode -> ProtocolValues)."""
    from repcam_core.running.config import RunConfig
    from repcam_core.running.experiment import Experiment
    from repcam_core.running.pipeline import Pipeline

    modes: list[str] = []
    values = []
    for path in files:
        data = json.load(open(path))
        exp = Experiment(Pipeline(RunConfig.from_dict(data["config"]), cache=cache))
        modes = list(data["miou"])
        res = exp.run(modes)
        values.append({m: exp.protocol_values(res.modes[m]) for m in modes})
    points = [{m: {p: float(v.point[k]) for k, p in enumerate(PROTOCOLS)} for m, v in seed.items()} for seed in values]
    return modes, points, {"values": values}


def from_json(path: str) -> tuple[list[str], list[dict[str, Any]], dict]:
    """The same from a ``--seeds`` aggregate: its per-seed figures as printed, as fractions."""
    P = json.load(open(path))["protocols"]
    modes = list(P["fixed"])
    n = len(P["fixed"][modes[0]]["per_seed"])
    points = [{m: {p: P[p][m]["per_seed"][s] / 100 for p in PROTOCOLS} for m in modes} for s in range(n)]
    return modes, points, {}


def compare(points: list[dict[str, Any]], mode: str, other: str, intervals: list[dict] | None) -> dict:
    """One pair under each protocol: mean and sd over seeds of the difference (rounded once), the
    seeds where ``mode`` is ahead, and, given each seed's ``summarise`` block, the seeds whose
    interval is above or below 0."""
    out = {}
    for k, proto in enumerate(PROTOCOLS):
        diffs = [seed[mode][proto] - seed[other][proto] for seed in points]
        mean, sd = mean_sd(diffs)
        entry: dict[str, Any] = {"mean": mean, "sd": sd, "ahead": sum(d > 0 for d in diffs), "seeds": len(diffs)}
        if intervals is not None:
            cis = [block[proto][mode]["ci"] for block in intervals]
            entry["above"] = sum(lo is not None and lo > 0 for lo, _ in cis)
            entry["below"] = sum(hi is not None and hi < 0 for _, hi in cis)
        out[proto] = entry
    return out


def run(modes: list[str], points: list[dict[str, Any]], extra: dict) -> dict:
    from repcam_core.evaluation.protocols import summarise

    out: dict[str, Any] = {}
    for name, pairs in partners(modes).items():
        if name == "reference" and "values" not in extra:
            continue  # intervals need the resamples: the cache
        blocks = {}
        for mode, other in pairs:
            intervals = ([summarise({mode: seed[mode], other: seed[other]}, baseline=other)["vs_baseline"]
                          for seed in extra["values"]] if "values" in extra else None)
            blocks[f"{mode} - {other}"] = compare(points, mode, other, intervals)
        out[name] = blocks
    return out


def lines(result: dict) -> Iterator[str]:
    for name, blocks in result.items():
        yield f"{name}: mean ± sd over seeds (points) [seeds ahead / seeds]" + (
            "; >N <N: seeds whose 95 % interval is above / below 0" if name == "reference" else "")
        width = max(len(pair) for pair in blocks)
        for proto in PROTOCOLS:
            means = [b[proto]["mean"] for b in blocks.values()]
            yield (f"  {proto}: {fmt(min(means), True)} to {fmt(max(means), True)}; ahead on average in "
                   f"{sum(m > 0 for m in means)} of {len(means)}")
        for pair, b in blocks.items():
            cells = []
            for proto in PROTOCOLS:
                e = b[proto]
                cell = f"{fmt(e['mean'], True):>7} ± {fmt(e['sd'])} [{e['ahead']}/{e['seeds']}]"
                cells.append(cell + (f" >{e['above']} <{e['below']}" if "above" in e else ""))
            yield f"    {pair:<{width}}  " + "  ".join(f"{c:<30}" for c in cells)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--from-json", metavar="RESULTS_SEEDS", default=None)
    ap.add_argument("cache", nargs="?")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args(argv)
    result = run(*(from_json(args.from_json) if args.from_json else from_cache(args.cache, args.files)))
    print("\n".join(lines(result)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
