"""Background jobs: long core work runs in a worker thread and reports progress the page polls.

The registry is process-wide (one per Streamlit server, via ``st.cache_resource``) and keyed by
``(configuration hash, job name)``, so a second browser tab asking for the same work gets the
running job's progress instead of starting it again.

At most ``$REPCAM_MAX_JOBS`` jobs (default 2) run at once per server, whoever asked; the others
wait in one queue whose position each job shows ("waiting: 3rd in queue"). Two lanes order the
queue: ``"interactive"`` jobs (what the CAM explorer needs now) go ahead of every waiting
``"batch"`` job (the Home page's "compute the rest"), first come first served within a lane; and
batch jobs never take the last free slot while the cap is above one, so a long batch never delays
the explorer's first maps (with the default cap: one batch job and one interactive job at once).
Across processes the cache's file lock keeps two servers from training the same model twice.

In a read-only demo (``$REPCAM_READ_ONLY``) :meth:`JobRegistry.submit` refuses every job, so no
page can start training by forgetting to check.
"""

from __future__ import annotations

import contextlib
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import streamlit as st

from repcam_app import settings
from repcam_core.errors import RepCAMError

LANES = ("interactive", "batch")
_current = threading.local()


class ReadOnlyError(RepCAMError):
    """A job was asked for in a read-only demo."""


def ordinal(n: int) -> str:
    """1 -> "1st", 2 -> "2nd", 3 -> "3rd", 11 -> "11th"."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass
class Job:
    """One unit of background work and its live progress."""

    config_key: str
    name: str
    label: str
    lane: str
    status: str = "queued"  # queued / running / done / failed
    position: int = 0       # 1-based place in the queue while queued
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
            return f"{self.label}: waiting: {ordinal(self.position)} in queue"
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
    """A :class:`repcam_core.running.progress.Progress` that reports to the job running in this thread
    (and nowhere when called outside a job). One instance serves every Pipeline of the app."""

    @contextlib.contextmanager
    def task(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        job, start, state = _job(), time.monotonic(), {"done": 0}

        def step(n: int = 1) -> None:
            state["done"] += n
            if job is not None:
                job._report(description, state["done"], total, time.monotonic() - start)

        if job is not None:
            job._report(description, 0, total, 0.0)
        yield step


ROUTED_PROGRESS = RoutedProgress()


def _job() -> Job | None:
    """The job running in this thread, if any."""
    return getattr(_current, "job", None)


def report(task: str, done: int, total: int, elapsed: float) -> None:
    """Progress of the job running in this thread (nothing outside a job): for work done
    elsewhere, e.g. in a worker process (:mod:`repcam_app.offload`)."""
    job = _job()
    if job is not None:
        job._report(task, done, total, elapsed)


def current_lane() -> str:
    """The lane of the job running in this thread ("interactive" outside a job)."""
    job = _job()
    return job.lane if job is not None else "interactive"


class JobRegistry:
    """Process-wide jobs by (config key, name); at most one live job per key, at most
    ``max_jobs`` running at once, the rest queued (interactive ahead of batch)."""

    def __init__(self, max_jobs: int = 2, read_only: bool = False) -> None:
        if max_jobs < 1:
            raise ValueError(f"max_jobs must be at least 1, got {max_jobs}")
        self.max_jobs, self.read_only = max_jobs, read_only
        self._jobs: dict[tuple[str, str], Job] = {}
        self._queue: list[tuple[Job, Callable[[], Any]]] = []
        self._running: list[Job] = []
        self._lock = threading.Lock()

    def get(self, config_key: str, name: str) -> Job | None:
        return self._jobs.get((config_key, name))

    def jobs(self, config_key: str | None = None) -> list[Job]:
        with self._lock:
            return [j for (k, _), j in self._jobs.items() if config_key is None or k == config_key]

    def submit(self, config_key: str, name: str, fn: Callable[[], Any], label: str | None = None,
               lane: str = "batch") -> Job:
        """Queue ``fn`` unless the same job is queued, running or already done; return the job.

        A failed job is queued again (the error may have been fixed, e.g. a file restored).

        Raises:
            ReadOnlyError: in a read-only demo.
        """
        if lane not in LANES:
            raise ValueError(f"unknown lane {lane!r}")
        with self._lock:
            job = self._jobs.get((config_key, name))
            if job is not None and job.status != "failed":
                return job
            if self.read_only:
                raise ReadOnlyError(f"{label or name} is not in the cache, and this is a read-only demo: "
                                    "nothing is trained or computed here")
            job = Job(config_key, name, label or name, lane)
            self._jobs[(config_key, name)] = job
            # interactive jobs go after the last waiting interactive job, batch jobs at the end
            at = len(self._queue) if lane == "batch" else sum(j.lane == "interactive" for j, _ in self._queue)
            self._queue.insert(at, (job, fn))
            self._dispatch()
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

    def _dispatch(self) -> None:
        """Start queued jobs while slots are free (call with the lock held)."""
        batch_slots = max(1, self.max_jobs - 1)
        while len(self._running) < self.max_jobs and self._queue:
            job, fn = self._queue[0]
            if job.lane == "batch" and sum(j.lane == "batch" for j in self._running) >= batch_slots:
                break  # only batch jobs wait (interactive ones are ahead of them in the queue)
            self._queue.pop(0)
            self._running.append(job)
            job.status = "running"
            threading.Thread(target=self._run, args=(job, fn), name=f"repcam-{job.lane}", daemon=True).start()
        for i, (waiting, _) in enumerate(self._queue, start=1):
            waiting.position = i

    def _run(self, job: Job, fn: Callable[[], Any]) -> None:
        job.started = time.monotonic()
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
            with self._lock:
                self._running.remove(job)
                self._dispatch()


@st.cache_resource(show_spinner=False)
def _registry(max_jobs: int, read_only: bool) -> JobRegistry:
    return JobRegistry(max_jobs, read_only)


def registry() -> JobRegistry:
    """The process-wide registry (created on first use, shared by every session and tab), with the
    job cap and read-only switch of :mod:`repcam_app.settings`."""
    return _registry(settings.max_jobs(), settings.read_only())
