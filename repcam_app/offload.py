"""Heavy jobs in worker processes: training and evaluation leave the server's threads free.

With ``$REPCAM_WORKER`` on (``repcam-app``/``make app`` turn it on), a job made here first has its
task done by a :class:`repcam_core.running.worker.Worker` (a child process at a lower CPU priority, which
writes the artifacts into the shared cache and reports progress to the job), then runs its
in-process function, which only loads from the cache (a results job loads nothing: the pages read it). Pages render while models train
(in a server thread the Baseline's model took 86-98 s, in the worker 76-79 s the same day:
bench/RESULTS.md, 2026-11-29 and 2026-11-30). There is one worker per job lane, so a long batch job (an
evaluation) never holds up the explorer's interactive jobs. With ``$REPCAM_WORKER`` off (plain
``streamlit run``, the AppTests) jobs run in threads as before.

The ``*_job`` functions give each offloaded job's (name, work, label) in one spelling for every
caller, so a page finds the job the warm-up or another page started. Home's "train all binary
models" and "pairwise table" and the Results page's figure jobs still run in server threads.
"""

from __future__ import annotations

import atexit
from typing import Any, Callable, Sequence

import streamlit as st

from repcam_app import settings
from repcam_app.jobs import current_lane, report
from repcam_core.running.pipeline import Pipeline
from repcam_core.running.worker import Worker

Job = tuple[str, Callable[[], Any], str]
"""(name, work, label), as :meth:`repcam_app.jobs.JobRegistry.submit` takes them."""


@st.cache_resource(show_spinner=False)
def worker(lane: str) -> Worker:
    """The server's worker process of ``lane`` (started on first use, restarted if it died;
    killed when the server exits)."""
    w = Worker()
    atexit.register(w.close)
    return w


def offloaded(p: Pipeline, task: Sequence[Any], local: Callable[[], Any], reload: bool = True) -> Callable[[], Any]:
    """A job function: ``task`` (see :data:`repcam_core.running.worker.TASKS`) in the worker process of the
    job's lane when workers are on, then ``local()`` here, which loads what the task cached (with
    ``reload`` False, ``local()`` runs only when workers are off: the pages read the task's work
    from the cache themselves)."""

    def run() -> Any:
        if settings.worker():
            worker(current_lane()).run(p.config, str(p.cache.root), task, report)
            if not reload:
                return None
        return local()

    return run


def multiclass_job(p: Pipeline) -> Job:
    return "multiclass", offloaded(p, ["multiclass"], p.multiclass_model), f"multi-class {p.config.backbone} model"


def similarity_job(p: Pipeline) -> Job:
    return ("similarity", offloaded(p, ["similarity"], p.similarity),
            "similarity matrix B (multi-class model + predictions)")


def clustering_job(p: Pipeline) -> Job:
    return "clustering", offloaded(p, ["clustering"], p.clustering), "similarity B and clustering"


def binary_job(p: Pipeline, a: int, b: int) -> Job:
    """The job that trains binary model ``(a, b)`` (``a < b``) of pipeline ``p``."""
    names, a, b = p.class_names, int(a), int(b)  # class indices may come as numpy integers
    return (f"binary:{a}-{b}", offloaded(p, ["binary", a, b], lambda: p.binary_model(a, b) and None),
            f"binary model {names[a]} vs {names[b]}")


BASELINE_JOB = "results:Baseline"
"""The name of :func:`results_job` for the Baseline alone (the warm-up's, Home's and Results')."""


def results_job(p: Pipeline, modes: Sequence[str]) -> Job:
    """The job that evaluates ``modes`` (names) and caches their results."""
    from repcam_core.running.experiment import Experiment

    modes = list(modes)
    return ("results:" + ",".join(modes), offloaded(p, ["run", *modes], lambda: Experiment(p).compute(modes) and None,
                                                    reload=False), f"evaluate {len(modes)} mode(s)")
