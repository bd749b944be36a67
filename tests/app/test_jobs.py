"""The job registry: at most K jobs at once per server, a FIFO queue with interactive jobs first,
positions shown, one job per (config, name), and no job at all in a read-only demo."""

from __future__ import annotations

import threading
import time

import pytest

from repcam_app.jobs import JobRegistry, ReadOnlyError, ordinal


def slow(release: threading.Event, started: list[str], name: str):
    def fn() -> str:
        started.append(name)
        assert release.wait(30), "the test never released the job"
        return name
    return fn


def until(condition, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def test_third_job_waits_in_queue_with_its_position_and_all_complete():
    reg, release, started = JobRegistry(max_jobs=2), threading.Event(), []
    jobs = [reg.submit("cfg", f"job{i}", slow(release, started, f"job{i}"), lane="interactive") for i in range(3)]
    until(lambda: len(started) == 2)
    time.sleep(0.2)  # a third worker would have started by now
    assert [j.status for j in jobs] == ["running", "running", "queued"]
    assert started == ["job0", "job1"]
    assert jobs[2].describe() == "job2: waiting: 1st in queue"
    release.set()
    reg.wait(30)
    assert [j.status for j in jobs] == ["done"] * 3
    assert [j.result for j in jobs] == ["job0", "job1", "job2"]


def test_interactive_jobs_go_ahead_of_waiting_batch_jobs():
    reg, release, started = JobRegistry(max_jobs=2), threading.Event(), []
    batch = [reg.submit("cfg", f"b{i}", slow(release, started, f"b{i}")) for i in range(3)]
    until(lambda: len(started) == 1)
    time.sleep(0.2)
    # one slot is kept for interactive work: only one batch job runs under a cap of 2
    assert [j.status for j in batch] == ["running", "queued", "queued"]
    assert [j.position for j in batch[1:]] == [1, 2]
    explorer = reg.submit("cfg", "binary:0-1", slow(release, started, "i0"), lane="interactive")
    until(lambda: "i0" in started)
    assert explorer.status == "running" and batch[1].status == "queued"
    release.set()
    reg.wait(30)
    assert started == ["b0", "i0", "b1", "b2"]
    assert all(j.status == "done" for j in (*batch, explorer))


def test_queue_order_interactive_before_batch_first_come_first_served():
    reg, release, started = JobRegistry(max_jobs=1), threading.Event(), []
    first = reg.submit("cfg", "first", slow(release, started, "first"))
    b1 = reg.submit("cfg", "b1", slow(release, started, "b1"))
    i1 = reg.submit("cfg", "i1", slow(release, started, "i1"), lane="interactive")
    b2 = reg.submit("cfg", "b2", slow(release, started, "b2"))
    i2 = reg.submit("cfg", "i2", slow(release, started, "i2"), lane="interactive")
    assert [j.position for j in (i1, i2, b1, b2)] == [1, 2, 3, 4]
    assert i2.describe().endswith("waiting: 2nd in queue") and b2.describe().endswith("4th in queue")
    release.set()
    reg.wait(30)
    assert started == ["first", "i1", "i2", "b1", "b2"]
    assert all(j.status == "done" for j in (first, b1, i1, b2, i2))


def test_same_job_asked_twice_is_one_job():
    reg, release, started = JobRegistry(max_jobs=2), threading.Event(), []
    a = reg.submit("cfg", "multiclass", slow(release, started, "a"))
    b = reg.submit("cfg", "multiclass", slow(release, started, "b"))
    assert a is b
    release.set()
    reg.wait(30)
    assert started == ["a"] and reg.submit("cfg", "multiclass", slow(release, started, "c")) is a


def test_read_only_registry_starts_nothing():
    reg, started = JobRegistry(max_jobs=2, read_only=True), []
    with pytest.raises(ReadOnlyError, match="read-only demo"):
        reg.submit("cfg", "multiclass", lambda: started.append("x"), "multi-class model")
    time.sleep(0.1)
    assert started == [] and reg.jobs() == []


def test_ordinals():
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th"]
