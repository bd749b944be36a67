"""``repcam figure fig1|fig5|fig6|fig7``: the paper's CAM figures as PDF, PNG or SVG (matplotlib).

Models and maps come from the same cached :class:`Pipeline` as every other command: a cold run
trains the multi-class model and the representative classes' binary models (with progress).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def cmd_figure(args: argparse.Namespace) -> int:
    from repcam_core.cli.common import make_pipeline
    from repcam_core.figures import paper, render

    paper.PAPER_FIGURES.get(args.figure)  # bad arguments fail before any training
    out = Path(args.out) if args.out else None
    if out is not None:
        render.figure_format(out)
    p = make_pipeline(args)
    fig, data = paper.build(p, args.figure, args.class_name, args.images, args.modes, args.width)
    target, fusions = data.target, data.fusions
    if out is None:
        out = Path("repcam-results") / "figures" / f"{args.figure}-{p.class_names[target]}.pdf"
    render.save(fig, out, dpi=args.dpi)
    panels = sum(1 for ax in fig.axes if ax.images)
    names = p.class_names
    summary = {"figure": args.figure, "path": str(out), "class": names[target],
               "images": data.image_labels, "panels": panels,
               "size_in": [round(float(v), 3) for v in fig.get_size_inches()],
               "comparisons": {f.label: [names[j] for j in f.classes] for f in fusions}}
    if args.json:
        print(json.dumps(summary))
    else:
        reps = "; ".join(f"{m}: {', '.join(c) or '-'}" for m, c in summary["comparisons"].items())
        print(f"{args.figure} of {names[target]!r} over {len(data.images)} image(s) ({reps}): {panels} panels, "
              f"{summary['size_in'][0]} x {summary['size_in'][1]} in")
        print(f"wrote {out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``figure`` to ``repcam``'s sub-parsers."""
    from repcam_core.cli.common import add_common
    from repcam_core.figures import DEFAULT_DPI, DEFAULT_IMAGES, DEFAULT_MODES, FORMATS, WIDTHS

    sp = sub.add_parser("figure", conflict_handler="resolve",
                        help="the paper's CAM figures (fig1, fig5, fig6, fig7) as PDF/PNG/SVG")
    sp.add_argument("figure", metavar="FIGURE",
                    help="fig1 (image, Grad-CAM, each comparison class's map, fusion), fig5 (each representative "
                         "class's map, fusion, Grad-CAM, GT), fig6 (per-layer maps of one binary model, their sum, "
                         "the fusion), fig7 (a grid over images: Layer1..L, Adding, Fusion, Grad-CAM, GT)")
    add_common(sp)
    sp.add_argument("--class", dest="class_name", default=None, metavar="NAME",
                    help="target class (default: the first class)")
    sp.add_argument("--images", default=str(DEFAULT_IMAGES), metavar="N|IDS",
                    help=f"the class's first N evaluation images (default {DEFAULT_IMAGES}) or comma-separated "
                         "image ids, e.g. val_00012,val_00040")
    sp.add_argument("--modes", default=",".join(DEFAULT_MODES),
                    help="comma-separated modes; the first gives the representative classes, each adds a fusion "
                         f"column (default {','.join(DEFAULT_MODES)})")
    sp.add_argument("--out", default=None, metavar="FILE",
                    help=f"output file, {' / '.join('.' + f for f in FORMATS)} (default "
                         "repcam-results/figures/FIGURE-CLASS.pdf)")
    sp.add_argument("--width", default="double",
                    help=f"single ({WIDTHS['single']} in), double ({WIDTHS['double']} in, default) or inches")
    sp.add_argument("--dpi", type=int, default=DEFAULT_DPI, help=f"PNG resolution (default {DEFAULT_DPI})")
    sp.add_argument("--json", action="store_true", help="print a summary as one JSON object")
    sp.set_defaults(fn=cmd_figure)
