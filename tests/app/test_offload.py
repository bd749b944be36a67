"""Heavy jobs in worker processes: with ``$REPCAM_WORKER`` on, a job's training happens in the
lane's child process (with its progress on the job) and the server only loads the result."""

from __future__ import annotations

import time

import pytest

from repcam_app import settings
from repcam_app.jobs import JobRegistry
from repcam_core.running.pipeline import Pipeline
from repcam_testing import tiny_config


@pytest.fixture(autouse=True)
def close_workers():
    """The workers these tests start end with each test (not with the pytest session)."""
    yield
    from repcam_app.jobs import LANES
    from repcam_app.offload import worker

    for lane in LANES:
        worker(lane).close()
    worker.clear()


def _wait(reg: JobRegistry, job, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while job.active:
        if time.monotonic() > deadline:
            pytest.fail(f"{job.describe()} still running after {seconds} s")
        reg.wait(0.05)


@pytest.fixture
def no_training_here(monkeypatch):
    """Training in this process fails: only a child process can have produced the model."""
    import repcam_core.running.pipeline as pipeline_module

    def refuse(*_a, **_k):
        raise RuntimeError("trained in the server process")

    monkeypatch.setattr(pipeline_module, "fit", refuse)


def test_with_workers_on_the_job_trains_in_the_lanes_child_and_shows_its_progress(
        tmp_path, monkeypatch, no_training_here):
    from repcam_app.offload import binary_job, offloaded, worker

    monkeypatch.setenv(settings.WORKER_ENV, "1")
    p = Pipeline(tiny_config(seed=71), cache=tmp_path)
    reg = JobRegistry(max_jobs=2)
    seen: list[str] = []
    job = reg.submit("k", "multiclass", offloaded(p, ["multiclass"], p.multiclass_model), lane="interactive")
    deadline = time.monotonic() + 120
    while job.active and time.monotonic() < deadline:
        if job.task:
            seen.append(f"{job.task} {job.done}/{job.total}")
        reg.wait(0.05)
    assert job.status == "done", job.error
    assert job.result is p.multiclass_model()  # loaded here, from what the child cached
    assert any(s.startswith("multi-class") for s in seen), seen
    name, fn, _ = binary_job(p, 0, 1)
    batch = reg.submit("k", name, fn, lane="batch")
    _wait(reg, batch)
    assert batch.status == "done", batch.error
    assert p.has_binary(0, 1)
    assert worker("interactive") is not worker("batch")
    assert worker("interactive").pid != worker("batch").pid


def test_with_workers_off_the_job_runs_in_the_server_thread(tmp_path, monkeypatch, no_training_here):
    from repcam_app.offload import offloaded

    monkeypatch.delenv(settings.WORKER_ENV, raising=False)
    p = Pipeline(tiny_config(seed=72), cache=tmp_path)
    reg = JobRegistry(max_jobs=1)
    job = reg.submit("k", "multiclass", offloaded(p, ["multiclass"], p.multiclass_model), lane="interactive")
    _wait(reg, job)
    assert job.status == "failed" and "trained in the server process" in job.error


def test_a_workers_repcam_error_fails_the_job_with_its_message(tmp_path, monkeypatch):
    from repcam_app.offload import offloaded

    monkeypatch.setenv(settings.WORKER_ENV, "1")
    p = Pipeline(tiny_config(seed=73), cache=tmp_path)
    reg = JobRegistry(max_jobs=1)
    job = reg.submit("k", "pair", offloaded(p, ["binary", 2, 2], lambda: None), lane="interactive")
    _wait(reg, job)
    assert job.status == "failed" and "two different classes" in job.error


def test_a_results_job_with_workers_on_evaluates_in_the_child_only(tiny_pipeline, monkeypatch):
    """The worker's ``run`` task caches the results and their protocol values; the server then
    neither evaluates nor assembles the table again (before, it ran the whole ``Experiment.run``
    a second time on the cache). Workers off, the job computes here."""
    import repcam_core.running.experiment as experiment_module
    from repcam_app.offload import results_job
    from repcam_core.running.experiment import Experiment

    monkeypatch.setenv(settings.WORKER_ENV, "1")
    calls: list[str] = []
    for name in ("run", "compute", "cached"):
        real = getattr(Experiment, name)
        monkeypatch.setattr(Experiment, name, lambda self, *a, _n=name, _r=real, **k: calls.append(_n) or _r(self, *a, **k))
    p = Pipeline(tiny_pipeline.config.with_(bootstrap=tiny_pipeline.config.bootstrap + 2), cache=tiny_pipeline.cache)
    reg = JobRegistry(max_jobs=1)
    name, fn, _ = results_job(p, ["Baseline", "Ref-Whole"])
    job = reg.submit("k", name, fn, lane="batch")
    _wait(reg, job)
    assert job.status == "done", job.error
    assert calls == []  # nothing ran in this process
    monkeypatch.setattr(experiment_module, "protocol_values", lambda *a, **k: pytest.fail("not cached by the child"))
    table = Experiment(p).cached(["Baseline", "Ref-Whole"])
    assert list(table.modes) == ["Baseline", "Ref-Whole"]
    monkeypatch.delenv(settings.WORKER_ENV)
    job = reg.submit("k2", *results_job(p, ["Baseline"])[:2], lane="batch")
    _wait(reg, job)
    assert job.status == "done" and calls[-1:] == ["compute"], (job.error, calls)
