"""Heavy steps in a child process, so that the process asking for them stays responsive.

The app's server renders pages in Python threads; training in the same process competes with
them for the GIL (the Baseline's multi-class model took 86-98 s there against 76-79 s in a worker
and about 74 s in the CLI, the same day: bench/RESULTS.md, 2026-11-29 and 2026-11-30) and slows every page.
A :class:`Worker` runs each step in one long-lived child process (``python -m repcam_core.running.worker``)
at a lower CPU priority, which writes the artifacts into
the shared cache; the caller then loads them from the cache as usual (the cache's file locks make
any concurrent in-process request wait for the child's entry instead of computing it again).

Protocol: one JSON request per line on the child's stdin,
``{"config": RunConfig.to_dict(), "cache": path, "task": [name, *args]}``, with the tasks of
:data:`TASKS`; the child answers with JSON lines on its own channel (the original stdout; stray
prints go to stderr): ``{"progress": [description, done, total, elapsed_s]}`` while it works, then
``{"ok": true}`` or ``{"error": message, "kind": exception class name}``. The child keeps one
pipeline per (configuration, cache), so models stay loaded between requests; it exits at the end
of its stdin or when its parent dies (a killed child leaves only a temporary directory in the
cache, which the next writer removes).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from typing import Any, Callable, Sequence

from repcam_core import errors
from repcam_core.errors import ConfigError, RepCAMError

TASKS = ("multiclass", "similarity", "clustering", "binary", "run")
"""``multiclass``; ``similarity`` (B); ``clustering`` (B's clusters); ``binary A B`` (the pair's
model); ``run MODE...`` (every artifact the named modes need, and their results)."""

ProgressFn = Callable[[str, int, int, float], None]
KEEP_PIPELINES = 4
"""Configurations whose pipeline (and loaded models) a child keeps between requests."""


class WorkerError(RepCAMError):
    """The worker process failed in a way that is not a RepCAM error (it died, or a bug)."""


def _check_task(task: Sequence[Any]) -> list[Any]:
    task = list(task)
    if not task or task[0] not in TASKS:
        raise ConfigError(f"unknown worker task {task[:1]}; one of: {', '.join(TASKS)}")
    if task[0] == "binary" and (len(task) != 3 or not all(isinstance(x, int) for x in task[1:])):
        raise ConfigError(f"a binary task names two class indices, got {task[1:]}")
    return task


class Worker:
    """One child process that runs :data:`TASKS` one at a time (thread-safe: callers queue).

    ``nice``: added to the child's CPU niceness (pages and browsers on a small machine go first).
    """

    def __init__(self, nice: int = 5, env: dict[str, str] | None = None) -> None:
        self.nice, self.env = nice, env
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def run(self, config: Any, cache_root: str, task: Sequence[Any], on_progress: ProgressFn | None = None) -> None:
        """Run ``task`` for ``config`` (a RunConfig) with the cache at ``cache_root`` in the child;
        return when its artifacts are in the cache.

        Raises:
            RepCAMError: the child's own error, as the same class with the same message.
            WorkerError: the child died or failed on a bug.
        """
        request = json.dumps({"config": config.to_dict(), "cache": str(cache_root), "task": _check_task(task)})
        with self._lock:
            proc = self._start()
            try:
                reply = self._exchange(proc, request, on_progress)
            except BaseException:  # e.g. the progress callback raised: the child's answer would be
                self._kill()       # read by the next request, so this child goes
                raise
            if reply is None:
                code = proc.wait()
                self._proc = None
                raise WorkerError(f"the worker process exited (code {code}) before finishing {task[0]}; "
                                  "what it had finished is in the cache, and asking again starts a new one")
            if "error" in reply:
                raise _error(reply.get("kind", ""), reply["error"])

    @staticmethod
    def _exchange(proc: subprocess.Popen[str], request: str, on_progress: ProgressFn | None) -> dict | None:
        """Send one request; relay its progress; return its final reply (None: the child died)."""
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(request + "\n")
            proc.stdin.flush()
        except OSError:
            pass  # it died: reading below reports how
        for line in proc.stdout:
            try:
                reply = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "progress" in reply:
                if on_progress is not None:
                    on_progress(*reply["progress"])
            elif reply.get("ok") or "error" in reply:
                return reply
        return None

    def close(self) -> None:
        """End the child (it finishes nothing more). Takes no lock: a caller blocked in
        :meth:`run` holds it until the child answers, and then reads the child's end instead
        (it raises WorkerError), so a server shutting down never waits for a task."""
        self._kill()

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def start(self) -> None:
        """Start the child now, so that it imports what every task needs (torch, the pipeline)
        while the caller does other work (the app: while the embedded world is generated)."""
        with self._lock:
            self._start()

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def _start(self) -> subprocess.Popen[str]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        env = {"OMP_WAIT_POLICY": "PASSIVE", **(self.env or os.environ),  # see cli.quiet_threads
               "REPCAM_WORKER_NICE": str(self.nice), "REPCAM_WORKER_PARENT": str(os.getpid())}
        self._proc = subprocess.Popen([sys.executable, "-m", "repcam_core.running.worker"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True, bufsize=1, env=env)
        return self._proc


def _error(kind: str, message: str) -> RepCAMError:
    cls = getattr(errors, kind, None)
    if isinstance(cls, type) and issubclass(cls, RepCAMError):
        return cls(message)
    if kind == "WorkerError":
        return WorkerError(message)
    return WorkerError(f"internal error in the worker ({kind}: {message})")


# ---------------------------------------------------------------------------------- the child
def _do(pipelines: dict, request: dict, send: Callable[[dict], None]) -> None:
    from repcam_core.running.config import RunConfig
    from repcam_core.running.pipeline import Pipeline
    from repcam_core.running.progress import CallbackProgress

    key = (json.dumps(request["config"], sort_keys=True), request["cache"])
    p = pipelines.pop(key, None)
    if p is None:
        progress = CallbackProgress(lambda *step: send({"progress": list(step)}))
        p = Pipeline(RunConfig.from_dict(request["config"]), cache=request["cache"], progress=progress)
    pipelines[key] = p  # most recently used last; the oldest beyond KEEP_PIPELINES go (and their models)
    while len(pipelines) > KEEP_PIPELINES:
        gone = next(iter(pipelines))
        pipelines.pop(gone)
        if _sharing is not None and _sharing[0] == gone:
            _stop_sharing()
    name, *args = _check_task(request["task"])
    if name == "multiclass":
        p.multiclass_model()
    elif name == "similarity":
        p.similarity()
    elif name == "clustering":
        p.clustering()
    elif name == "binary":
        _share(key, p)
        p.binary_model(*args)
    else:
        from repcam_core.running.experiment import Experiment

        Experiment(p).compute([str(a) for a in args])  # the caller reads the table from the cache


_sharing: tuple[tuple[str, str], contextlib.ExitStack] | None = None
"""The key of the one pipeline whose binary models share probe features in this child, and what ends it."""


def _share(key: tuple[str, str], p: Any) -> None:
    """Binary models of the pipeline ``key`` share their classes' probe features from one task to
    the next (the app trains a class's representatives one task at a time), and the previous
    pipeline's are freed: at most one pipeline's ``PROBE_FEATURES_BYTES`` per child."""
    global _sharing
    if _sharing is not None and _sharing[0] == key:
        return
    _stop_sharing()
    stack = contextlib.ExitStack()
    stack.enter_context(p.sharing_features())
    _sharing = key, stack


def _stop_sharing() -> None:
    global _sharing
    if _sharing is not None:
        _sharing[1].close()
        _sharing = None


def _watch_parent(parent: int) -> None:
    import time

    while True:
        if os.getppid() != parent:
            os._exit(0)  # the caller is gone: nobody waits for this work
        time.sleep(1.0)


def main() -> None:
    """The child's loop (``python -m repcam_core.running.worker``)."""
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # prints of libraries go to stderr, never into the protocol
    sys.stdout = sys.stderr
    nice = int(os.environ.get("REPCAM_WORKER_NICE", "0") or 0)
    if nice > 0:
        os.nice(nice)
    parent = int(os.environ.get("REPCAM_WORKER_PARENT", "0") or 0)
    if parent:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    lock = threading.Lock()

    def send(obj: dict) -> None:
        with lock:
            channel.write(json.dumps(obj) + "\n")

    import torch  # noqa: F401 - what every task needs, imported before the first request arrives

    import repcam_core.running.experiment  # noqa: F401
    import repcam_core.running.pipeline  # noqa: F401

    pipelines: dict = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            _do(pipelines, json.loads(line), send)
            send({"ok": True})
        except Exception as exc:  # a RepCAM error is the user's; anything else is a bug: logged, and
            if not isinstance(exc, RepCAMError):  # the child keeps serving either way
                import traceback

                traceback.print_exc()
            send({"error": str(exc), "kind": type(exc).__name__})


if __name__ == "__main__":
    main()
