"""2. The CAM engine against the floor: one plain forward pass of the same batch under
``torch.no_grad()`` (timed round-robin with the engine; shared with ``bench.cam``)."""

from __future__ import annotations

from bench.cam import case_key, cases, measure
from bench.common import Report, Settings


def run(settings: Settings) -> Report:
    rep = Report("floor")
    rows, ratio, ratio_cl = [], {}, {}
    for name, size, batch in cases(settings):
        m = measure(name, size, batch, settings)
        k = case_key(name, size)
        ratio[k] = m["ours"] / m["forward"]
        ratio_cl[k] = m["ours"] / m["forward_cl"]
        rows.append([k, f"{size}px x{batch}", 1000 * m["forward"], 1000 * m["forward_cl"], 1000 * m["ours"],
                     ratio[k], "yes" if ratio[k] <= 2.0 else "NO", ratio_cl[k]])
    rep.table("CAM (forward + backward + maps) vs one plain forward, CPU",
              ["backbone", "batch", "forward ms", "fwd ch-last ms", "CAM ms", "CAM/forward", "<= 2.0",
               "CAM/fwd ch-last"], rows)
    rep.figures = {"cam_vs_forward": ratio, "cam_vs_forward_channels_last": ratio_cl}
    return rep
