"""Heavy jobs in worker processes: training and evaluation leave the server's threads free.

With ``$REPCAM_WORKER`` on (``repcam-app``/``make app`` turn it on), a job made by
:func:`offloaded` first has its task done by a :class:`repcam_core.worker.Worker` (a child process
at a lower CPU priority, which writes the artifacts into the shared cache and reports progress to
the job), then runs its in-process function, which now only loads from the cache. Pages render
while models train (before, training shared the server's GIL with every page run, and the
Baseline's model took 80 s in the server against 50 s in the CLI). There is one worker per job
lane, so a long batch job (the Home page's "evaluate") never holds up the explorer's interactive
jobs. With ``$REPCAM_WORKER`` off (plain ``streamlit run``, the AppTests) jobs run in threads as
before.
"""

from __future__ import annotations

import atexit
import threading
from typing import Any, Callable, Sequence

import streamlit as st

from repcam_app import settings
from repcam_app.jobs import current_lane, report
from repcam_core.pipeline import Pipeline
from repcam_core.worker import Worker

WORKER_NICE = 5
"""Added to each worker process's CPU niceness: page runs and the browser go first."""


_LOCK = threading.Lock()


@st.cache_resource(show_spinner=False)
def _workers() -> dict[str, Worker]:
    workers: dict[str, Worker] = {}
    atexit.register(lambda: [w.close() for w in workers.values()])
    return workers


def worker(lane: str) -> Worker:
    """The server's worker process of ``lane`` (started on first use, restarted if it died)."""
    workers = _workers()
    with _LOCK:
        if lane not in workers:
            workers[lane] = Worker(nice=WORKER_NICE)
        return workers[lane]


def offloaded(p: Pipeline, task: Sequence[Any], local: Callable[[], Any]) -> Callable[[], Any]:
    """A job function: ``task`` (see :data:`repcam_core.worker.TASKS`) in the worker process of the
    job's lane when workers are on, then ``local()`` here (which loads what the task cached)."""

    def run() -> Any:
        if settings.worker():
            worker(current_lane()).run(p.config, str(p.cache.root), task, report)
        return local()

    return run


def binary_job(p: Pipeline, a: int, b: int) -> tuple[str, Callable[[], None], str]:
    """Name, work and label of the job that trains binary model ``(a, b)`` (``a < b``) of pipeline
    ``p``: one spelling for every caller, so a page finds the job the warm-up started."""
    names, a, b = p.class_names, int(a), int(b)  # class indices may come as numpy integers
    return (f"binary:{a}-{b}", offloaded(p, ["binary", a, b], lambda: p.binary_model(a, b) and None),
            f"binary model {names[a]} vs {names[b]}")
