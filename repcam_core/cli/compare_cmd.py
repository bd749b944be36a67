"""``repcam cluster --compare``: every registered clustering algorithm on this configuration's B,
over several seeds, scored against each other and (on the embedded world) the true families."""

from __future__ import annotations

import argparse
import json

from repcam_core.cli.common import make_pipeline, out_dir, write


def add_compare_options(sp: argparse.ArgumentParser) -> None:
    """The ``cluster`` command's comparison flags."""
    sp.add_argument("--compare", action="store_true",
                    help="compare every clustering algorithm (improved k-means, spectral, agglomerative) on B: "
                         "within-cluster similarity, silhouette and, when the true families are known, ARI and NMI")
    sp.add_argument("--seeds", default="0,1,2,3,4", metavar="LIST",
                    help="seeds of the comparison (default 0,1,2,3,4); mean ± sd over them")


def cmd_cluster_compare(args: argparse.Namespace) -> int:
    from repcam_core.method.cluster_compare import compare_pipeline, parse_seeds

    seeds = parse_seeds(args.seeds)
    p = make_pipeline(args)
    cfg, names = p.config, p.class_names
    comp = compare_pipeline(p, seeds)
    data = {**comp.to_json(), "restarts": cfg.cluster_restarts, "config": cfg.to_dict(),
            "computed_on": p.cache.computed_on(p.cache.entry("similarity", p.similarity_key()))}
    out = out_dir(args) / "cluster_compare.json"
    write(out, json.dumps(data, indent=2))
    if args.json:
        print(json.dumps(data))
        return 0
    print(f"Clustering B ({len(names)} classes) into N = {comp.n_clusters} (minimum size {comp.min_size}, "
          f"{cfg.cluster_restarts} starts), seeds {', '.join(map(str, seeds))}; mean ± sd over the seeds.")
    print("True families: " + ("; ".join(f"{f}: {', '.join(m)}" for f, m in data["truth"].items())
                               if comp.truth is not None else "unknown for this dataset (no ARI / NMI)"))
    header, rows = comp.table()
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    print(f"Clusters at seed {seeds[0]}:")
    for algo, runs in data["runs"].items():
        print(f"  {algo}: " + " | ".join(", ".join(g) for g in runs[0]["clusters"]))
    print(f"wrote {out}")
    return 0
