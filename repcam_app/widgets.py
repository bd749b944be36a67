"""Small page building blocks shared by several pages: job progress, prerequisites, status."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import streamlit as st

from repcam_app import settings, state
from repcam_app.jobs import Job, registry
from repcam_app.offload import BASELINE_JOB, multiclass_job, results_job, similarity_job
from repcam_app.resources import config_key, guard, pipeline, safe
from repcam_core.storage.cache import config_hash
from repcam_core.data.sources import open_dataset
from repcam_core.method.clusterers import cluster_classes
from repcam_core.method.modes import comparison_classes, parse_mode
from repcam_core.running.pipeline import Pipeline

POLL_S = 1.0
DATASET_POLL_S = 0.25
"""While the embedded world is generated (seconds, on a first start) pages look more often."""


def progress_panel(jobs: list[Job], poll: float = POLL_S) -> None:
    """Progress bars of ``jobs``, refreshed every ``poll`` seconds while one is active; when the last
    one finishes the whole page reruns so it shows the new results."""
    if not jobs:
        return

    was_active = any(j.active for j in jobs)

    @st.fragment(run_every=poll if was_active else None)
    def panel() -> None:
        for job in jobs:
            if job.active:
                st.progress(job.fraction, text=job.describe())
            elif job.status == "failed":
                st.error(safe(job.describe()))
            else:
                st.caption(f"✓ {job.describe()}")
        if was_active and not any(j.active for j in jobs):
            st.rerun(scope="app")

    panel()


def submit(p: Pipeline, name: str, fn: Callable[[], Any], label: str, lane: str = "batch") -> Job:
    """Queue a background job (shown as a message, not started, in a read-only demo)."""
    with guard():
        return registry().submit(config_key(p.config), name, fn, label, lane)


READ_ONLY_NOTE = "Read-only demo: this server shows what its cache holds and starts no training."


def dataset_ready(p: Pipeline) -> bool:
    """True when ``p``'s data is on disk. On a first start the embedded world is still being
    generated (seconds; the server's warm-up starts it, else a job here does): say so, show the
    job's progress (the page reruns when it is done) and return False, so the page shows what it
    can without the data and stops instead of blocking its first render. A generation that failed
    is shown once and retried at the page's next run, not in a loop."""
    if not p.dataset_pending:
        return True
    reg, key, cfg = registry(), config_key(p.config), p.config
    job = reg.get(key, "dataset")
    if job is not None and not job.active:
        reg.forget(key, "dataset")  # done (generated, then removed) or failed: a new job next
        if job.status == "failed":
            st.error(safe(f"Generating the embedded dataset failed: {job.error}"))
            return False
    job = submit(p, "dataset", lambda: open_dataset(cfg.dataset, p.cache.root, cfg.world).class_names and None,
                 "generating the embedded dataset", lane="interactive")
    if not job.active:  # finished between the check and here: show the page now
        st.rerun()
    st.info("Generating the embedded dataset (the first start on this machine takes a few seconds); this page "
            "fills in as soon as it is there.")
    progress_panel([job], poll=DATASET_POLL_S)
    return False


def page_pipeline() -> Pipeline:
    """The current configuration's Pipeline for a page that needs its data (stops the run while
    the embedded world is generated, see :func:`dataset_ready`)."""
    p = pipeline()
    if not dataset_ready(p):
        st.stop()
    return p


def require(p: Pipeline, job: tuple[str, Callable[[], Any], str], ready: bool, load: Callable[[], Any]) -> Any:
    """What the page needs first: ``load()`` it when cached, else run ``job`` (name, work, label:
    :mod:`repcam_app.offload`) in the background (the interactive lane), show its progress and stop
    this run until it is there. In a read-only demo a missing prerequisite is reported and
    nothing starts."""
    if ready:
        with guard():
            return load()
    label = job[2]
    if settings.read_only():
        st.warning(f"{label} is not in the cache (read-only demo), so this page has nothing to show "
                   "for this configuration.")
        st.stop()
    running = submit(p, *job, lane="interactive")
    if running.status == "done":
        return running.result
    st.info(f"{label} is not in the cache for this configuration yet; computing it now in the "
            "background (other pages stay usable, and other tabs see the same progress).")
    progress_panel([running])
    st.stop()


def require_multiclass(p: Pipeline):
    with guard():
        ready = p.cache.has("multiclass", p.multiclass_key())
    return require(p, multiclass_job(p), ready, p.multiclass_model)


def require_similarity(p: Pipeline) -> np.ndarray:
    """B [C, C], training the similarity backbone's multi-class model first if needed."""
    with guard():
        ready = p.cache.has("similarity", p.similarity_key())
    return require(p, similarity_job(p), ready, p.similarity)


def install_shipped(p: Pipeline) -> list[str]:
    """Install the shipped artifacts that match ``p``'s configuration (copied, nothing trained; in a
    read-only demo nothing is installed) and return the kinds the cache holds from them."""
    from repcam_core.running import prebuilt

    with guard():
        return prebuilt.installed(p) if settings.read_only() else prebuilt.install(p)


def baseline_job(p: Pipeline) -> Job | None:
    """What shows the Baseline's progress before its evaluation is cached (the multi-class model is):
    the evaluation's job (started here in the batch lane unless it runs already), or the warm-up's
    while that is busy (it evaluates the Baseline once the explorer's first maps are trained).
    None when it is cached, the model is not, or this is a read-only demo."""
    from repcam_core.running.experiment import Experiment

    with guard():
        if (settings.read_only() or Experiment(p).has_result("Baseline")
                or not p.cache.has("multiclass", p.multiclass_key())):
            return None
    reg, key = registry(), config_key(p.config)
    job, warm = reg.get(key, BASELINE_JOB), reg.get(key, "warmup")
    if job is not None and job.status != "failed":
        return job
    if warm is not None and warm.active:
        return warm
    return submit(p, *results_job(p, ["Baseline"]))


def b_identity(p: Pipeline) -> str:
    """What B is computed from (its cache key, hashed): clusters of another B are not this one's."""
    return config_hash(p.similarity_key())


def session_clusters(p: Pipeline, B: np.ndarray) -> np.ndarray | None:
    """The clusters edited on the Clustering page for this B, else the configuration's clustering algorithm."""
    labels, source = st.session_state.get(state.CLUSTER_LABELS), st.session_state.get(state.CLUSTER_SOURCE)
    if labels is not None and len(labels) == p.num_classes and source and source[-1] == b_identity(p):
        return np.asarray(labels)
    from repcam_core.running.experiment import Experiment

    cfg = p.config
    try:  # the sizes a run uses (the minimum lowered when N clusters of it do not fit the classes)
        return cluster_classes(cfg.clustering, B, *Experiment(p).cluster_sizes, cfg.seed,
                               cfg.cluster_restarts).labels
    except Exception:
        return None


def current_rule() -> str:
    """The selection rule chosen on the Clustering page as a mode stem: ``S-1`` (default), ``Random``, ..."""
    rule = st.session_state.get(state.RULE) or "S-k"
    k = int(st.session_state.get(state.RULE_K) or 1)
    return f"S-{k}" if rule == "S-k" else rule


def current_mode_name() -> str:
    return f"{current_rule()}+A+F"


def shown_rule(p: Pipeline) -> tuple[str, str | None]:
    """(rule, note): the session's selection rule (:func:`current_rule`) where ``p``'s dataset can
    run it, else Rank-a's (S-k on too few classes for its clusters: Oxford-Pet-3's 3 breeds);
    ``note`` is the adaptation or the fallback in one line (None when the paper's settings fit)."""
    from repcam_core.running.experiment import Experiment
    from repcam_core.method.feasibility import with_fallback

    checked = with_fallback(parse_mode(current_mode_name()), Experiment(p).setting)
    return checked.mode.name.removesuffix("+A+F"), checked.note


def representatives(p: Pipeline, B: np.ndarray, c: int) -> list[int]:
    """Representative classes of ``c`` under the session's rule (default S-1; :func:`shown_rule`)
    and clusters."""
    from repcam_core.running.experiment import Experiment
    from repcam_core.method.feasibility import random_count

    mode = Experiment(p).adapted(parse_mode(f"{shown_rule(p)[0]}+A+F"))  # Rank's positions as a run scales them
    labels = session_clusters(p, B) if mode.needs_clustering else None
    if mode.needs_clustering and labels is None:
        return []
    try:
        return comparison_classes(mode, c, B=B, cluster_labels=labels, num_classes=p.num_classes,
                                  n=random_count(p.config.n_random, p.num_classes), seed=p.config.seed)
    except Exception:  # e.g. S-k with more clusters than classes
        return []
