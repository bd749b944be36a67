"""Background jobs: long core work runs in a worker thread and reports progress the page polls.

The registry is process-wide (one per Streamlit server, via ``st.cache_resource``) and keyed by
``(configuration hash, job name)``, so a second browser tab asking for the same work gets the
running job's progress instead of starting it again. Jobs run in two lanes of one worker each:
``"interactive"`` (what the CAM explorer needs now) and ``"batch"`` (the Home page's "compute
the rest"), so a long batch never delays the explorer's first maps, and CPU cores are not
oversubscribed by many parallel trainings. Across processes the cache's file lock does the same.
"""

from __future__ import annotations

import contextlib
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import streamlit as st

from repcam_core.errors import RepCAMError

LANES = ("interactive", "batch")
_current = threading.local()


@dataclass
class Job:
    """One unit of background work and its live progress."""

    config_key: str
    name: str
    label: str
    lane: str
    status: str = "queued"  # queued / running / done / failed
    task: str = ""
    done: int = 0
    total: int = 0
    task_elapsed: float = 0.0
    submitted: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    error: str | None = None
    result: Any = None

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started

    @property
    def eta(self) -> float | None:
        """Seconds left in the current task, extrapolated from its steps so far."""
        if not self.total or not self.done or self.done >= self.total:
            return None
        return self.task_elapsed / self.done * (self.total - self.done)

    def describe(self) -> str:
        if self.status == "queued":
            return f"{self.label}: waiting for the {self.lane} worker"
        if self.status == "failed":
            return f"{self.label}: failed — {self.error}"
        if self.status == "done":
            return f"{self.label}: done in {self.elapsed:.0f} s"
        text = f"{self.label}: {self.task or 'starting'}"
        if self.total:
            text += f" {self.done}/{self.total}"
        text += f" · {self.elapsed:.0f} s elapsed"
        if self.eta is not None:
            text += f" · about {self.eta:.0f} s left"
        return text

    def _report(self, task: str, done: int, total: int, elapsed: float) -> None:
        self.task, self.done, self.total, self.task_elapsed = task, done, total, elapsed


class RoutedProgress:
    """A :class:`repcam_core.progress.Progress` that reports to the job running in this thread
    (and nowhere when called outside a job). One instance serves every Pipeline of the app."""

    @contextlib.contextmanager
    def task(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        job: Job | None = getattr(_current, "job", None)
        start = time.monotonic()
        state = {"done": 0}
        if job is not None:
            job._report(description, 0, total, 0.0)

        def step(n: int = 1) -> None:
            state["done"] += n
            if job is not None:
                job._report(description, state["done"], total, time.monotonic() - start)

        yield step


ROUTED_PROGRESS = RoutedProgress()


class JobRegistry:
    """Process-wide jobs by (config key, name); at most one live job per key."""

    def __init__(self) -> None:
        self._jobs: dict[tuple[str, str], Job] = {}
        self._lock = threading.Lock()
        self._lanes = {lane: ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"repcam-{lane}")
                       for lane in LANES}

    def get(self, config_key: str, name: str) -> Job | None:
        return self._jobs.get((config_key, name))

    def jobs(self, config_key: str | None = None) -> list[Job]:
        with self._lock:
            return [j for (k, _), j in self._jobs.items() if config_key is None or k == config_key]

    def submit(self, config_key: str, name: str, fn: Callable[[], Any], label: str | None = None,
               lane: str = "batch") -> Job:
        """Start ``fn`` unless the same job is queued, running or already done; return the job.

        A failed job is started again (the error may have been fixed, e.g. a file restored).
        """
        if lane not in self._lanes:
            raise ValueError(f"unknown lane {lane!r}")
        with self._lock:
            job = self._jobs.get((config_key, name))
            if job is not None and job.status != "failed":
                return job
            job = Job(config_key, name, label or name, lane)
            self._jobs[(config_key, name)] = job
        self._lanes[lane].submit(self._run, job, fn)
        return job

    def forget(self, config_key: str, name: str) -> None:
        """Drop a finished job (so asking again re-checks the cache)."""
        with self._lock:
            job = self._jobs.get((config_key, name))
            if job is not None and not job.active:
                del self._jobs[(config_key, name)]

    def wait(self, timeout: float = 600.0) -> None:
        """Block until no job is queued or running (tests)."""
        end = time.monotonic() + timeout
        while any(j.active for j in self.jobs()) and time.monotonic() < end:
            time.sleep(0.05)

    @staticmethod
    def _run(job: Job, fn: Callable[[], Any]) -> None:
        job.status, job.started = "running", time.monotonic()
        _current.job = job
        try:
            job.result = fn()
            job.status = "done"
        except RepCAMError as exc:
            job.error, job.status = str(exc), "failed"
        except Exception as exc:  # a bug: keep the server alive, show a one-line message
            job.error = f"internal error ({type(exc).__name__}: {exc}); details in the server log"
            job.status = "failed"
            traceback.print_exc()
        finally:
            _current.job = None
            job.finished = time.monotonic()


@st.cache_resource(show_spinner=False)
def registry() -> JobRegistry:
    """The process-wide registry (created on first use, shared by every session and tab)."""
    return JobRegistry()
