"""Rendering the embedded world's images, in parallel child processes when there are many.

Rendering is numpy work on small arrays, so it is bound by the interpreter, not by arithmetic:
threads share one GIL and gain nothing (the earlier thread pool took 3.0 s for the default
world's 1,680 images against 2.6 s in one thread), and in the app's server they took that GIL from
the pages for the whole generation. So a large world is rendered by child processes
(``python -m repcam_core.data.world_render OUT INDEX COUNT``, the configuration as JSON on stdin),
each writing every COUNT-th image into the same directory; the caller only waits. The bytes do
not depend on where an image is rendered (each image depends on (config, split, index) alone).
A child that fails is reported and its images are rendered here instead, so a machine that cannot
start processes still gets its world.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

from repcam_core.data.world import SPLITS, WorldConfig, split_plan, write_sample

IMAGES_PER_PROCESS = 200
"""Fewest images worth a child process (its start-up and imports cost about 0.2 s)."""
MAX_PROCESSES = 8


def jobs(config: WorldConfig) -> list[tuple[str, int]]:
    """Every image of the world as (split, index), in a fixed order."""
    return [(s, i) for s in SPLITS for i in range(len(split_plan(config, s)))]


def processes_for(n_images: int, cpus: int | None = None) -> int:
    """How many child processes render ``n_images`` (0: render them in this process)."""
    n = min(cpus or os.cpu_count() or 1, MAX_PROCESSES, n_images // IMAGES_PER_PROCESS)
    return n if n >= 2 else 0


def render_images(root: Path, config: WorldConfig) -> None:
    """Write every image and mask of the world into ``root`` (its ``JPEGImages`` and
    ``SegmentationClass`` folders exist)."""
    todo = jobs(config)
    n = processes_for(len(todo))
    if n == 0:
        render_slice(root, config, todo)
        return
    payload = json.dumps(config.to_dict())
    children = [subprocess.Popen([sys.executable, "-m", "repcam_core.data.world_render", str(root), str(k), str(n)],
                                 stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                for k in range(n)]
    failed = []
    for k, child in enumerate(children):
        _, err = child.communicate(payload)
        if child.returncode != 0:
            failed.append(k)
            warnings.warn(f"rendering the embedded world in a child process failed (exit {child.returncode}: "
                          f"{(err or '').strip().splitlines()[-1:] or ['no message']}); rendering its images here",
                          RuntimeWarning, stacklevel=2)
    for k in failed:
        render_slice(root, config, todo[k::n])


def render_slice(root: Path, config: WorldConfig, part: list[tuple[str, int]]) -> None:
    for split, index in part:
        write_sample(root, config, split, index)


def main(argv: list[str]) -> int:
    """The child: ``OUT INDEX COUNT`` (arguments), the WorldConfig's JSON on stdin."""
    root, k, n = Path(argv[0]), int(argv[1]), int(argv[2])
    config = WorldConfig.from_dict(json.loads(sys.stdin.read()))
    render_slice(root, config, jobs(config)[k::n])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
