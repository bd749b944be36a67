"""``repcam similarity | cluster | pairs | run``: the method's steps and the ablation table."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Callable

from repcam_core.cli.common import add_common, make_experiment, make_pipeline, out_dir, write
from repcam_core.evaluation.percent import fmt, pct


def cmd_similarity(args: argparse.Namespace) -> int:
    import numpy as np

    from repcam_core.method.selection import similarity_order

    p = make_pipeline(args)
    B = p.similarity()
    names = p.class_names
    out = out_dir(args)
    rows = ["class," + ",".join(names)] + [f"{n}," + ",".join(f"{v:.4f}" for v in B[i]) for i, n in enumerate(names)]
    write(out / "similarity.csv", "\n".join(rows) + "\n")
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
    if args.compare:
        from repcam_core.cli.compare_cmd import cmd_cluster_compare

        return cmd_cluster_compare(args)
    p = make_pipeline(args)
    res = p.clustering()
    names = p.class_names
    groups = [[names[i] for i in g] for g in res.clusters()]
    data = {"clusters": groups, "iterations": res.iterations, "converged": res.converged,
            "algorithm": p.config.clustering}
    write(out_dir(args) / "clusters.json", json.dumps(data, indent=2))
    if args.json:
        print(json.dumps(data))
        return 0
    for k, g in enumerate(groups):
        print(f"cluster {k + 1}: {', '.join(g)}")
    if p.config.clustering == "improved-kmeans":
        print(f"({res.iterations} passes, {'converged' if res.converged else 'stopped at max passes'})")
    else:
        print(f"({p.config.clustering} clustering)")
    from repcam_core.method.feasibility import cluster_sizes

    n, m = cluster_sizes(p.config.n_clusters, p.config.min_cluster_size, p.num_classes)
    if m != p.config.min_cluster_size:
        print(f"note: {n} clusters of at least {p.config.min_cluster_size} classes do not fit {p.num_classes} classes: "
              f"minimum size lowered to {m}, as runs of S-k do")
    return 0


def cmd_pairs(args: argparse.Namespace) -> int:
    from repcam_core.evaluation.tables import pairwise_table_csv

    p = make_pipeline(args)
    exp = make_experiment(args, p)
    tops = ["Top1", "Top2", "Top3", "Top4"]  # a dataset with fewer classes leaves the impossible ones out
    res = exp.run(["Baseline", *tops, "All"], optional=tops)
    table = exp.pairwise()["single"]
    text = pairwise_table_csv(p.class_names, table, res)
    write(out_dir(args) / "pairs.csv", text)
    if args.json:
        print(json.dumps({"classes": list(p.class_names), "pairwise": [[pct(v) for v in row] for row in table],
                          "miou": res.to_json()["miou"]}))
    else:
        print(text + "".join(f"note: {m} not run: {why}\n" for m, why in res.not_run.items()), end="")
        print(f"wrote {Path(args.out) / 'pairs.csv'}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from repcam_core.method.modes import parse_request

    modes, named = parse_request(args.modes or "all")
    optional = [m.name for m in modes if m.name not in named]  # from a group: left out when impossible
    if args.seeds:
        return _run_seeds(args, modes, optional)
    p = make_pipeline(args)
    exp = make_experiment(args, p)
    res = exp.run(modes, optional)
    out = out_dir(args)
    write(out / "results.csv", res.to_csv())
    data = res.to_json()
    if args.eval == "wsss":
        from repcam_core.running.wsss import evaluate_wsss

        wsss = {m: evaluate_wsss(exp, m, args.bg_threshold) for m in res.modes}
        data["wsss"] = {"bg_threshold": args.bg_threshold,
                        "miou": {m: pct(w["miou"]) for m, w in wsss.items()},
                        "per_class": {m: dict(zip(["background", *p.class_names], [pct(v) for v in w["iou"]]))
                                      for m, w in wsss.items()}}
    data["skipped_files"] = res.skipped
    skipped = len(res.skipped)
    write(out / "results.json", json.dumps(data, indent=2))
    if args.json:
        print(json.dumps(data))
        return 0
    print(res.text())
    if "wsss" in data:
        width = max(len(m) for m in data["miou"])
        print(f"WSSS mIoU (%) (background + classes, bg threshold {args.bg_threshold}):")
        for m, w in data["wsss"]["miou"].items():
            print(f"  {m:<{width}}  {fmt(w):>6}")
    if skipped:
        print(f"skipped {skipped} unreadable file(s): see results.json")
    print(f"wrote {out / 'results.csv'} and {out / 'results.json'}")
    return 0


def _run_seeds(args: argparse.Namespace, modes: list, optional: list[str]) -> int:
    """``repcam run --seeds 0,1,2``: the whole experiment once per seed, then mean and sd."""
    from repcam_core.errors import ConfigError
    from repcam_core.evaluation.results import aggregate_seeds, seeds_text

    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"--seeds takes comma-separated integers, got {args.seeds!r}") from None
    if not seeds:
        raise ConfigError("--seeds is empty")
    per_seed = {}
    for seed in seeds:
        args.seed = seed
        p = make_pipeline(args)
        per_seed[seed] = make_experiment(args, p).run(modes, optional)
    data = aggregate_seeds(per_seed)
    out = out_dir(args)
    write(out / "results_seeds.json", json.dumps(data, indent=2))
    if args.json:
        print(json.dumps(data))
        return 0
    print(seeds_text(data))
    print(f"wrote {out / 'results_seeds.json'}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the experiment commands to ``repcam``'s sub-parsers."""
    commands: list[tuple[str, str, Callable[[argparse.Namespace], int]]] = [
        ("similarity", "train the multi-class model and build the similarity matrix B", cmd_similarity),
        ("cluster", "cluster the classes (improved k-means; --compare: against spectral and agglomerative)",
         cmd_cluster),
        ("pairs", "the pairwise table (Table 1): every binary model, Top-k and All", cmd_pairs),
        ("run", "the ablation table for a list of modes", cmd_run),
    ]
    for name, help_, fn in commands:
        sp = sub.add_parser(name, help=help_)
        add_common(sp)
        sp.add_argument("--json", action="store_true", help="print the result as one JSON object")
        if name == "cluster":
            from repcam_core.cli.compare_cmd import add_compare_options

            add_compare_options(sp)
        if name == "run":
            sp.add_argument("--modes", default=None,
                            help="comma-separated, e.g. Baseline,S-1+F,S-1+A+F,Ref-Whole, or the groups paper (the "
                                 "paper's modes), ablation (Baseline+A and the training-free Contrast-* rivals), "
                                 "reference (Ref-Whole, Ref-Centre: maps that need no model), all (default: all "
                                 "three; the mode All is spelt with a capital). Modes of a group that this dataset "
                                 "cannot run are left out with a note; named ones are an error")
            sp.add_argument("--seeds", default=None, metavar="LIST",
                            help="e.g. 0,1,2: run once per seed and report mean ± sd (overrides --seed)")
            sp.add_argument("--eval", choices=["paper", "wsss"], default="paper",
                            help="paper: per-class threshold mIoU (always); wsss: also the WSSS convention "
                                 "(argmax over the image's classes with a background threshold, bg included)")
            sp.add_argument("--bg-threshold", type=float, default=0.15, help="WSSS background threshold (0.15)")
        sp.set_defaults(fn=fn)
