"""What computed an artifact: every manifest and every results JSON records the torch thread count,
the CPU model and the torch build; the cache keys leave them out (a cache works on any machine)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from repcam_core.storage.cache import ArtifactCache
from repcam_core.running.experiment import Experiment
from repcam_core.storage.machine import cpu_model, machine, merge
from repcam_core.running.pipeline import Pipeline
from repcam_testing import tiny_config


@pytest.fixture
def threads():
    """Set torch's thread count for a test, restored after it."""
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)


def test_machine_names_the_cpu_the_torch_build_and_the_threads(threads):
    threads(1)
    one = machine()
    assert one == {"cpu": cpu_model(), "isa": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
                   "cuda": torch.version.cuda, "threads": 1}
    if Path("/proc/cpuinfo").is_file():
        info = Path("/proc/cpuinfo").read_text().split("\n\n")[0].splitlines()
        field = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in info)}
        if "model name" in field and "cpu family" in field:
            assert one["cpu"].startswith(field["model name"] + " (cpu family " + field["cpu family"] + ", model ")
    assert merge([one, None, dict(one), {**one, "threads": 2}]) == [one, {**one, "threads": 2}]


def test_every_manifest_records_the_machine_and_what_its_inputs_were_computed_on(tmp_path, threads):
    cache = ArtifactCache(tmp_path)
    threads(1)
    cache.get_or_create("a", {"k": 1}, lambda tmp: (tmp / "v").write_text("1"), lambda p: (p / "v").read_text())
    threads(2)

    def b(tmp: Path) -> None:  # computed from "a" under two threads
        cache.get_or_create("a", {"k": 1}, None, lambda p: (p / "v").read_text())
        (tmp / "v").write_text("2")

    cache.get_or_create("b", {"k": 1}, b, lambda p: (p / "v").read_text())
    a_entry, b_entry = cache.entry("a", {"k": 1}), cache.entry("b", {"k": 1})
    assert cache.manifest("a", {"k": 1})["machine"]["threads"] == 1
    assert cache.manifest("b", {"k": 1})["machine"]["threads"] == 2
    assert [m["threads"] for m in cache.computed_on(b_entry)] == [1, 2]
    assert cache.computed_on(a_entry) == [{**machine(), "threads": 1}]


def test_a_cache_mixing_thread_counts_reuses_the_model_and_the_results_json_says_so(tmp_path, threads,
                                                                                    monkeypatch):
    config = tiny_config()
    threads(1)
    first = Pipeline(config, cache=tmp_path)
    first.multiclass_model()
    entry = first.cache.entry("multiclass", first.multiclass_key())
    trained = json.loads((entry / "manifest.json").read_text())["machine"]
    assert trained == {**machine(), "threads": 1}

    threads(2)
    import repcam_core.running.pipeline as mod

    monkeypatch.setattr(mod, "fit", lambda *a, **k: pytest.fail("retrained: the thread count is in a key"))
    again = Pipeline(config, cache=tmp_path)
    assert again.cache.entry("multiclass", again.multiclass_key()) == entry
    data = json.loads(json.dumps(Experiment(again).run(["Baseline"]).to_json()))
    assert sorted(m["threads"] for m in data["computed_on"]) == [1, 2]  # model: 1 thread; maps: 2
    assert all(m["cpu"] == cpu_model() and m["torch"] == torch.__version__ for m in data["computed_on"])
