import sys
import numpy as np
from repcam_core.running.config import RunConfig
from repcam_core.running.experiment import Experiment
from repcam_core.running.pipeline import Pipeline
from repcam_core.evaluation.protocols import PROTOCOLS

for spec in sys.argv[1:]:
    dataset, size = spec.rsplit("@", 1)
    exp = Experiment(Pipeline(RunConfig(dataset=dataset, image_size=int(size)), cache="/tmp/photos-data-cache"))
    res = exp.run(["Ref-Whole", "Ref-Centre"])
    whole, centre = (exp.protocol_values(res.modes[m]) for m in ("Ref-Whole", "Ref-Centre"))
    cells = []
    for k, proto in enumerate(PROTOCOLS):
        diff = centre.resampled[:, k] - whole.resampled[:, k]
        lo, hi = np.percentile(diff, [2.5, 97.5])
        cells.append(f"{proto} {100 * (centre.point[k] - whole.point[k]):+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}] "
                     f"p_better {float((diff > 0).mean()):.2f}")
    print(f"{dataset} {size}px  Ref-Centre - Ref-Whole: " + "; ".join(cells))
