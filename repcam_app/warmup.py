"""Warm-up: what the CAM explorer shows first is trained in the background as early as possible.

For a configuration, the warm-up asks the job registry (:mod:`repcam_app.jobs`) for the same jobs
the pages ask for, under the same names, so a page that needs one of them finds it running and
shows its progress instead of starting it again:

0. the shipped model, B and clusters (:mod:`repcam_core.running.prebuilt`) when they match the
   configuration: copied into the cache here at once (nothing is trained);
1. ``multiclass`` (interactive lane): the multi-class model, which gives the Baseline (with the
   shipped one installed this only starts the lane's worker process, ready for what follows);
2. ``warmup`` (batch lane): B and the clustering, then one ``binary:a-b`` job (interactive lane)
   per S-1 representative class of the first class (the explorer's default target), each of
   which the explorer shows as it lands (Rank-a's classes where the dataset refuses S-1, as the
   explorer does: :func:`repcam_core.method.feasibility.with_fallback`, Oxford-Pet-3's 3 breeds);
   once they are trained,
3. ``results:Baseline`` (batch lane): the Baseline under the three protocols, which Home and
   Results show (after the explorer's first maps, so it never slows them down).

It starts when the server starts (``repcam-app``/``make app`` set ``$REPCAM_WARMUP`` and run
:func:`start_when_serving` in a thread that waits for the server to answer) and again, for the
base configuration, at the top of every page run (the registry makes a repeated call free).
A read-only demo, or a server started without ``$REPCAM_WARMUP`` (plain ``streamlit run``, the
tests), starts nothing.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time

from repcam_app import settings
from repcam_app.jobs import registry
from repcam_app.offload import binary_job, multiclass_job, offloaded, results_job
from repcam_app.serving import wait_until_serving
from repcam_core.errors import RepCAMError
from repcam_core.running.pipeline import Pipeline
from repcam_core.running.prebuilt import install as install_shipped

WAIT_FIRST_MAPS_S = 600.0
"""How long the warm-up waits for the first class's binary models before evaluating the Baseline."""


def warm_up(p: Pipeline, config_key: str) -> None:
    """Ask for the warm-up jobs of ``p``'s configuration (no-op when already asked, read-only, or
    ``$REPCAM_WARMUP`` is off)."""
    if not settings.warmup():
        return
    reg = registry()
    if reg.get(config_key, "warmup") is not None:
        return
    with contextlib.suppress(RepCAMError):  # e.g. a cache that cannot be written: the pages say so
        install_shipped(p)
    reg.submit(config_key, *multiclass_job(p), lane="interactive")
    # B (the heavy part) in the worker unless it is cached (shipped); the clusters, cheap, here
    # (they may not fit the classes)
    first = lambda: _first_class(p, config_key)  # noqa: E731
    work = first if p.cache.has("similarity", p.similarity_key()) else offloaded(p, ["similarity"], first)
    reg.submit(config_key, "warmup", work, "warm-up: B, clusters, the first class's representative classes",
               lane="batch")


def _first_class(p: Pipeline, config_key: str) -> list[int]:
    """Ask for the first class's S-1 binary models; once they are trained, the Baseline's evaluation."""
    comps = _ask_first_maps(p, config_key)
    reg = registry()
    deadline = time.monotonic() + WAIT_FIRST_MAPS_S
    first = [reg.get(config_key, f"binary:{min(0, j)}-{max(0, j)}") for j in comps]
    while any(j is not None and j.active for j in first) and time.monotonic() < deadline:
        time.sleep(0.2)
    reg.submit(config_key, *results_job(p, ["Baseline"]), lane="batch")  # starts once this job ends
    return comps


def _ask_first_maps(p: Pipeline, config_key: str) -> list[int]:
    from repcam_core.running.experiment import Experiment
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
    """What the first page run would otherwise generate or import itself: the base configuration's
    dataset (the embedded world is generated first, by child processes, while the server boots, so
    the first Home page waits for it as little as possible) and, meanwhile, torch, pandas, plotly
    and the app's modules."""
    import os

    from repcam_app.resources import read_app_file
    from repcam_core.storage.cache import default_cache_dir
    from repcam_core.running.config import RunConfig
    from repcam_core.data.sources import open_dataset

    path = os.environ.get(settings.CONFIG_ENV)
    config = read_app_file(path)[0] if path else RunConfig()
    failed: list[BaseException] = []

    def world() -> None:  # this thread only waits on the child processes that render it
        try:
            open_dataset(config.dataset, default_cache_dir(), config.world).class_names  # noqa: B018
        except BaseException as exc:  # noqa: BLE001 - raised below, in the preload's thread
            failed.append(exc)

    generating = threading.Thread(target=world, name="repcam-world", daemon=True)
    generating.start()
    import pandas  # noqa: F401
    import plotly.graph_objects  # noqa: F401
    import torch  # noqa: F401

    import repcam_app.widgets  # noqa: F401
    import repcam_core.running.experiment  # noqa: F401
    import repcam_core.running.explore  # noqa: F401

    generating.join()
    if failed:
        raise failed[0]


def _prefetch(p: Pipeline) -> None:
    """Load what the explorer's first run needs into the server's shared Pipeline (the evaluation
    images and the multi-class model, when it is cached) and, with the shipped model (the embedded
    default: small), decode the training images into the cache for the worker's binary models
    while the worker starts (not kept here)."""
    from repcam_core.running.prebuilt import installed

    if p.cache.has("multiclass", p.multiclass_key()):
        p.eval_split  # noqa: B018
        p.multiclass_model()
        if "multiclass" in installed(p):
            p.decode(p.config.train_split)


def start_when_serving(url: str, timeout: float = 120.0) -> threading.Thread:
    """In a daemon thread: preload (imports, the embedded world) while the server boots, wait
    until the server at ``url`` answers, then warm up the app's base configuration (what the
    first browser session will show)."""

    def preload() -> None:
        try:
            _preload()
        except BaseException as exc:  # noqa: BLE001 - the pages report a broken configuration themselves
            print(f"repcam-app: preload skipped: {type(exc).__name__}: {exc}", file=sys.stderr)

    def run() -> None:
        loading = threading.Thread(target=preload, name="repcam-preload", daemon=True)
        loading.start()
        if not wait_until_serving(url, timeout):
            return
        if settings.worker():  # the explorer's lane: its process imports torch while the world is generated
            from repcam_app.offload import worker

            worker("interactive").start()
        loading.join()
        try:
            from repcam_app.resources import _pipeline, base_config, cache_root, config_key

            config = base_config()
            p = _pipeline(json.dumps(config.to_dict(), sort_keys=True), str(cache_root()))
            p.class_names  # noqa: B018 - opens the dataset
            warm_up(p, config_key(config))
            if settings.warmup():
                _prefetch(p)
        except BaseException as exc:  # noqa: BLE001 - the pages report a broken configuration themselves
            print(f"repcam-app: warm-up skipped: {type(exc).__name__}: {exc}", file=sys.stderr)

    thread = threading.Thread(target=run, name="repcam-warmup", daemon=True)
    thread.start()
    return thread
