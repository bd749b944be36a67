"""Warm-up: what the CAM explorer shows first is trained in the background as early as possible.

For a configuration, the warm-up asks the job registry (:mod:`repcam_app.jobs`) for the same jobs
the pages ask for, under the same names, so a page that needs one of them finds it running and
shows its progress instead of starting it again:

1. ``multiclass`` (interactive lane): the multi-class model, which gives the Baseline;
2. ``warmup`` (batch lane): B and the clustering, then one ``binary:a-b`` job (interactive lane)
   per S-1 representative class of the first class (the explorer's default target), each of
   which the explorer shows as it lands; Rank-a's classes where the dataset refuses S-1, as the
   explorer does (:func:`repcam_core.method.feasibility.with_fallback`: Oxford-Pet-3's 3 breeds).

It starts when the server starts (``repcam-app``/``make app`` set ``$REPCAM_WARMUP`` and run
:func:`start_when_serving` in a thread that waits for the server to answer) and again, for the
base configuration, at the top of every page run (the registry makes a repeated call free).
A read-only demo, or a server started without ``$REPCAM_WARMUP`` (plain ``streamlit run``, the
tests), starts nothing.
"""

from __future__ import annotations

import json
import sys
import threading

from repcam_app import settings
from repcam_app.jobs import registry
from repcam_app.offload import binary_job, multiclass_job, offloaded
from repcam_app.launch import wait_until_serving
from repcam_core.pipeline import Pipeline


def warm_up(p: Pipeline, config_key: str) -> None:
    """Ask for the warm-up jobs of ``p``'s configuration (no-op when already asked, read-only, or
    ``$REPCAM_WARMUP`` is off)."""
    if not settings.warmup():
        return
    reg = registry()
    if reg.get(config_key, "warmup") is not None:
        return
    reg.submit(config_key, *multiclass_job(p), lane="interactive")
    # B (the heavy part) in the worker; the clusters, cheap, here (they may not fit the classes)
    reg.submit(config_key, "warmup", offloaded(p, ["similarity"], lambda: _first_class(p, config_key)),
               "warm-up: B, clusters, the first class's representative classes", lane="batch")


def _first_class(p: Pipeline, config_key: str) -> list[int]:
    from repcam_core.experiment import Experiment
    from repcam_core.method.feasibility import with_fallback
    from repcam_core.method.modes import parse_mode

    exp = Experiment(p)
    try:
        mode = with_fallback(parse_mode("S-1+A+F"), exp.setting).mode  # the explorer's default rule
        exp.needs([mode])
    except Exception:  # no rule fits the classes: the explorer has no default classes either
        p.similarity()
        return []
    comps = exp.comparisons(mode)[0]
    for j in comps:
        registry().submit(config_key, *binary_job(p, *sorted((0, j))), lane="interactive")
    return comps


def warm_up_base() -> None:
    """:func:`warm_up` of the app's base configuration (from a page run; errors are the pages' to show)."""
    if not settings.warmup():
        return
    from repcam_app.resources import base_config, config_key, pipeline

    config = base_config()
    p = pipeline(config)
    if p.dataset_pending:  # the server's own warm-up starts once the world is there (its worker
        return             # importing torch meanwhile would slow the generation every page waits on)
    warm_up(p, config_key(config))


def _preload() -> None:
    """What the first page run would otherwise import or generate itself: torch, pandas, plotly,
    the app's modules, and the base configuration's dataset (the embedded world is generated
    here, while the server boots, so the first Home page does not wait for it)."""
    import os

    import pandas  # noqa: F401
    import plotly.graph_objects  # noqa: F401
    import torch  # noqa: F401

    import repcam_app.widgets  # noqa: F401
    import repcam_core.experiment  # noqa: F401
    import repcam_core.explore  # noqa: F401
    from repcam_app.resources import read_app_file
    from repcam_core.cache import default_cache_dir
    from repcam_core.config import RunConfig
    from repcam_core.data.sources import open_dataset

    path = os.environ.get(settings.CONFIG_ENV)
    config = read_app_file(path)[0] if path else RunConfig()
    open_dataset(config.dataset, default_cache_dir(), config.world).class_names  # noqa: B018


def start_when_serving(url: str, timeout: float = 120.0) -> threading.Thread:
    """In a daemon thread: preload (imports, the embedded world) while the server boots, wait
    until the server at ``url`` answers, then warm up the app's base configuration (what the
    first browser session will show)."""

    def run() -> None:
        try:
            _preload()
        except BaseException as exc:  # noqa: BLE001 - the pages report a broken configuration themselves
            print(f"repcam-app: preload skipped: {type(exc).__name__}: {exc}", file=sys.stderr)
        if not wait_until_serving(url, timeout):
            return
        try:
            from repcam_app.resources import _pipeline, base_config, cache_root, config_key

            config = base_config()
            p = _pipeline(json.dumps(config.to_dict(), sort_keys=True), str(cache_root()))
            p.class_names  # noqa: B018 - opens the dataset
            warm_up(p, config_key(config))
        except BaseException as exc:  # noqa: BLE001 - the pages report a broken configuration themselves
            print(f"repcam-app: warm-up skipped: {type(exc).__name__}: {exc}", file=sys.stderr)

    thread = threading.Thread(target=run, name="repcam-warmup", daemon=True)
    thread.start()
    return thread
