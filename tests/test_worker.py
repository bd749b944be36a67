"""The worker process: it computes into the shared cache, reports progress, passes RepCAM errors
back as the same class, survives being killed and leaves with its parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from repcam_core.errors import ConfigError, DatasetError
from repcam_core.running.pipeline import Pipeline
from repcam_core.running.worker import Worker, WorkerError
from repcam_testing import tiny_config


@pytest.fixture
def worker():
    w = Worker(nice=0)
    yield w
    w.close()


def test_a_task_lands_in_the_cache_the_caller_reads_with_its_progress(tmp_path, worker):
    config = tiny_config()
    seen: list[tuple[str, int, int]] = []
    worker.run(config, str(tmp_path), ["multiclass"], lambda task, done, total, _s: seen.append((task, done, total)))
    p = Pipeline(config, cache=tmp_path)
    assert p.cache.has("multiclass", p.multiclass_key())
    epochs = [(done, total) for task, done, total in seen if task.startswith("multi-class")]
    assert epochs[-1] == (config.train.epochs, config.train.epochs)
    assert [d for d, _ in epochs] == list(range(config.train.epochs + 1))
    # the same child serves the next request, with the model it keeps (no retraining)
    first = worker.pid
    worker.run(config, str(tmp_path), ["binary", 0, 1])
    assert worker.pid == first
    assert p.has_binary(0, 1) and not p.has_binary(0, 2)


def test_the_childs_repcam_errors_come_back_as_the_same_class(tmp_path, worker):
    missing = tmp_path / "no-such-voc"
    with pytest.raises(DatasetError, match="no-such-voc"):
        worker.run(tiny_config(dataset=str(missing)), str(tmp_path / "cache"), ["multiclass"])
    with pytest.raises(ConfigError, match="unknown worker task"):
        worker.run(tiny_config(), str(tmp_path / "cache"), ["train-everything"])
    with pytest.raises(ConfigError, match="two class indices"):
        worker.run(tiny_config(), str(tmp_path / "cache"), ["binary", 0])


def test_a_killed_child_is_reported_and_the_next_request_starts_a_new_one(tmp_path, worker):
    config = tiny_config()

    def kill_on_first_epoch(task, done, total, _s):
        if task.startswith("multi-class") and done == 1:
            os.kill(worker.pid, signal.SIGKILL)

    with pytest.raises(WorkerError, match="exited"):
        worker.run(config, str(tmp_path), ["multiclass"], kill_on_first_epoch)
    p = Pipeline(config, cache=tmp_path)
    assert not p.cache.has("multiclass", p.multiclass_key())  # nothing half-written was published
    worker.run(config, str(tmp_path), ["multiclass"])
    assert p.cache.has("multiclass", p.multiclass_key())


def test_the_child_leaves_when_its_parent_dies(tmp_path):
    """A server killed with -9 does not leave a training process behind: the child stops within
    seconds, long before its task (every binary model of the tiny world, over 30 s) would end."""
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(os.path.dirname(__file__))!r})
        from repcam_testing import tiny_config
        from repcam_core.running.worker import Worker
        w = Worker(nice=0)
        def show(*_):
            print(w.pid, flush=True)
            time.sleep(3600)
        w.run(tiny_config(), {str(tmp_path)!r}, ["run", "Top1"], show)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not _alive(child):
            break
        time.sleep(0.2)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the worker outlived its parent by 10 s")


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its new parent to reap it counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_caller_that_gives_up_mid_task_leaves_no_answer_for_the_next_request(tmp_path, worker):
    """The progress callback raising (a caller stopping) ends that child, so the next request
    gets its own answer, not the abandoned task's."""
    config = tiny_config()

    def give_up(task, done, total, _s):
        if task.startswith("multi-class") and done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        worker.run(config, str(tmp_path), ["multiclass"], give_up)
    assert worker.pid is None
    with pytest.raises(ConfigError, match="two different classes"):
        worker.run(config, str(tmp_path), ["binary", 1, 1])


def test_closing_while_a_task_runs_ends_the_child_at_once(tmp_path, worker):
    """A server shutting down closes its workers while a job thread waits on one: the close does
    not wait for the task, and the waiting caller gets WorkerError."""
    import threading

    started, errors = threading.Event(), []

    def run():
        try:
            worker.run(tiny_config(), str(tmp_path), ["run", "Top1"], lambda *_: started.set())  # 30 s and more
        except WorkerError as exc:
            errors.append(exc)

    caller = threading.Thread(target=run)
    caller.start()
    assert started.wait(60)
    t0 = time.monotonic()
    worker.close()
    caller.join(30)
    assert time.monotonic() - t0 < 5 and not caller.is_alive()
    assert len(errors) == 1 and worker.pid is None


def test_a_childs_binary_tasks_share_probe_features_for_one_pipeline_at_a_time(tmp_path, monkeypatch):
    """The app trains a class's representatives one ``binary`` task at a time: the child keeps the
    classes' probe features of the pipeline it last trained binary models for (class 0 passes
    through the body once for pairs (0, 1) and (0, 2)), and frees them when a task of another
    configuration trains a binary model: one pipeline's worth per child, never four."""
    import repcam_core.running.pipeline as pipeline_module
    from repcam_core.running import worker as worker_module

    calls: list[int] = []
    real = pipeline_module.pooled_features
    monkeypatch.setattr(pipeline_module, "pooled_features",
                        lambda model, head, images, device, batch_size=64: calls.append(len(images))
                        or real(model, head, images, device, batch_size))
    monkeypatch.setattr(worker_module, "_sharing", None)
    pipelines: dict = {}
    first, second = tiny_config(), tiny_config(seed=5)

    def task(config, *what):
        worker_module._do(pipelines, {"config": config.to_dict(), "cache": str(tmp_path), "task": list(what)},
                          lambda _message: None)

    task(first, "binary", 0, 1)
    task(first, "binary", 0, 2)
    p1 = next(iter(pipelines.values()))
    assert sorted(calls) == sorted(len(p1.single_label(c)) for c in (0, 1, 2))  # class 0 once
    assert p1._probe_features is not None
    task(second, "binary", 0, 1)
    assert p1._probe_features is None  # freed: the child now shares the second pipeline's
    assert list(pipelines.values())[-1]._probe_features is not None
    worker_module._stop_sharing()
