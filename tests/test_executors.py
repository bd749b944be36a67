"""Pair work through executors: the local default, and Ray tasks on a local 2-CPU instance that
give bitwise the local run's artifacts and survive a worker dying mid-write."""

from __future__ import annotations

import glob
import os
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from repcam_testing import TINY_WORLD, tiny_config
from repcam_core.storage.cache import ArtifactCache
from repcam_core.errors import ConfigError
from repcam_core.running.executors import LocalExecutor, RayExecutor, make_executor
from repcam_core.running.experiment import Experiment
from repcam_core.running.pipeline import Pipeline

PAIRS = {(0, 1), (0, 2), (1, 3)}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """One dataset directory shared by every cache (the data fingerprint includes mtimes)."""
    from repcam_core.data.world import WorldConfig
    from repcam_core.data.world_files import generate_world

    return generate_world(tmp_path_factory.mktemp("exec") / "world", WorldConfig(**TINY_WORLD))


@pytest.fixture(scope="module")
def local_cache(world, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("local-cache")
    exp = Experiment(Pipeline(tiny_config(dataset=str(world)), cache=root), executor=LocalExecutor())
    exp.ensure_pairs(PAIRS)
    return root


@pytest.fixture(scope="module")
def ray_local():
    import ray  # pinned in requirements-dev.txt

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _tensors(root: Path, kind: str) -> dict[str, dict[str, torch.Tensor]]:
    out = {}
    for f in sorted(glob.glob(str(root / kind / "*" / "*.safetensors"))):
        out[f"{Path(f).parent.name}/{Path(f).name}"] = load_file(f)
    return out


def _assert_same_artifacts(a: Path, b: Path) -> None:
    # maps: both directions of each pair, on the evaluation and on the calibration split
    for kind, count in (("binary", len(PAIRS)), ("maps", 4 * len(PAIRS))):
        ta, tb = _tensors(a, kind), _tensors(b, kind)
        assert len(ta) == count and sorted(ta) == sorted(tb)
        for name in ta:
            assert ta[name].keys() == tb[name].keys()
            assert all(torch.equal(ta[name][k], tb[name][k]) for k in ta[name]), name


def test_make_executor_names_and_errors():
    assert isinstance(make_executor("local"), LocalExecutor)
    with pytest.raises(ConfigError, match="unknown executor 'dask'"):
        make_executor("dask")
    with pytest.raises(ConfigError, match="--ray-address needs --executor ray"):
        make_executor("local", "host:6379")


def test_ray_tasks_give_the_local_artifacts(world, local_cache, ray_local, tmp_path):
    exp = Experiment(Pipeline(tiny_config(dataset=str(world)), cache=tmp_path), executor=RayExecutor())
    exp.ensure_pairs(PAIRS)
    _assert_same_artifacts(local_cache, tmp_path)
    assert all(exp.has_pair_maps(a, b) and exp.has_pair_maps(b, a) for a, b in PAIRS)


def _die_once_mid_write(marker: str):
    def hook() -> None:
        import repcam_core.running.pipeline as pipeline

        original = pipeline._save_model

        def save_then_die(tmp, model, log):
            original(tmp, model, log)  # the model file is in the temporary entry ...
            if not os.path.exists(marker):
                open(marker, "w").close()
                os._exit(1)  # ... when the worker dies

        pipeline._save_model = save_then_die

    return hook


def test_a_worker_dying_mid_write_is_retried_and_leaves_no_partial_entry(world, local_cache, ray_local, tmp_path):
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    marker = tmp_path / "died"
    cache = tmp_path / "cache"
    exp = Experiment(Pipeline(tiny_config(dataset=str(world)), cache=cache),
                     executor=RayExecutor(max_retries=2, hook=_die_once_mid_write(str(marker))))
    exp.ensure_pairs(PAIRS)
    assert marker.exists()  # one worker did die
    # its half-written entry stayed a temporary directory, which the retry removed (under the
    # entry's lock, before writing the same entry) ...
    assert [p for p in (cache / "binary").iterdir() if ".tmp-" in p.name] == []
    entries = list((cache / "binary").iterdir())
    assert len(entries) == len(PAIRS) and all((p / "manifest.json").is_file() for p in entries)
    _assert_same_artifacts(local_cache, cache)  # ... and the retry published the right one
    assert ArtifactCache(cache).clear_stale() == 0
