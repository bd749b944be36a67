"""Where pair work runs: in this process (the default) or as Ray tasks on a cluster.

A pair task trains (or loads) the binary model of one class pair and caches both directions'
maps (on the evaluation split and, when the calibrated protocol is on, the calibration split). Tasks are independent and write their artifacts straight into the cache directory, whose
entries are published atomically under a file lock, so workers on several machines can share
one directory (a network file system) and a task killed half-way leaves only a temporary
``.tmp-`` directory (removed by ``repcam cache clean``), never a half-written entry. A Ray task
rebuilds the pipeline from the configuration dict and the cache path, so it computes exactly
what the local run would.

Ray is an optional extra (``pip install 'ray[default]'``), imported only when used.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from repcam_core.errors import ConfigError
from repcam_core.running.experiment import Executor, Experiment, LocalExecutor, Pair

EXECUTORS = ("local", "ray")


def pair_task(config: dict[str, Any], cache_root: str, a: int, b: int, threads: int | None = None,
              hook: Callable[[], None] | None = None) -> Pair:
    """One pair's binary model and both directions' maps, from a configuration dict and a cache
    path (what a Ray worker runs). ``hook`` runs first (tests use it to kill a worker)."""
    import torch

    from repcam_core.running.config import RunConfig
    from repcam_core.running.pipeline import Pipeline

    if hook is not None:
        hook()
    if threads:
        torch.set_num_threads(threads)
    pipeline = Pipeline(RunConfig.from_dict(config), cache=cache_root)
    experiment = Experiment(pipeline)
    experiment.pair_all_maps(a, b)
    return a, b


class RayExecutor:
    """Pair tasks as Ray tasks, one GPU each when the cluster has GPUs.

    Args:
        address: a Ray cluster address (``ray://host:10001``, ``host:6379``, ``auto``), or
            ``None``/``"local"`` to start a local instance.
        max_retries: how often a task whose worker died is run again.
        num_cpus: CPUs asked for per task.
        init_kwargs: extra ``ray.init`` arguments (e.g. ``num_cpus`` for a local instance).
        match_threads: run each task with the driver's torch thread count, so CPU results are
            bitwise the local run's (on by default for local instances).
        hook: called at the start of each task (for tests).
    """

    label = "ray"

    def __init__(self, address: str | None = None, *, max_retries: int = 3, num_cpus: float = 1,
                 init_kwargs: dict[str, Any] | None = None, match_threads: bool | None = None,
                 hook: Callable[[], None] | None = None) -> None:
        self.address = None if address in (None, "", "local") else address
        self.max_retries = max_retries
        self.num_cpus = num_cpus
        self.init_kwargs = dict(init_kwargs or {})
        self.match_threads = self.address is None if match_threads is None else match_threads
        self.hook = hook

    def _ray(self):
        ray = import_ray()
        if not ray.is_initialized():
            kwargs = {"ignore_reinit_error": True, "include_dashboard": False, "log_to_driver": False,
                      **self.init_kwargs}
            if self.address is not None:
                kwargs["address"] = self.address
            try:
                ray.init(**kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ConfigError(f"cannot connect to the Ray cluster at {self.address or 'a new local instance'}: "
                                  f"{exc}") from exc
        return ray

    def run_pairs(self, experiment: Experiment, pairs: Sequence[Pair], step: Callable[[int], None]) -> None:
        import torch

        p = experiment.p
        # What every task needs, made once here so the workers load it instead of racing for it.
        p.train_split, p.eval_split  # noqa: B018  (decoded once, cached for the workers)
        if p.config.train.binary_init == "multiclass":
            p.multiclass_model()
        ray = self._ray()
        gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        task = ray.remote(pair_task).options(num_cpus=self.num_cpus, num_gpus=gpus,
                                             max_retries=self.max_retries, retry_exceptions=False)
        threads = torch.get_num_threads() if self.match_threads else None
        config, root = p.config.to_dict(), str(p.cache.root.resolve())
        refs = [task.remote(config, root, a, b, threads, self.hook) for a, b in pairs]
        try:
            while refs:
                done, refs = ray.wait(refs, num_returns=1)
                ray.get(done)
                step(1)
        except Exception as exc:
            for ref in refs:
                ray.cancel(ref, force=True)
            if _is_ray_error(ray, exc):
                raise ConfigError(f"a Ray pair task failed: {exc}") from exc
            raise


def _is_ray_error(ray: Any, exc: BaseException) -> bool:
    return isinstance(exc, getattr(ray.exceptions, "RayError", ()))


def import_ray():
    """The ``ray`` module, or ConfigError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError("the Ray executor needs Ray: pip install 'ray[default]' (or use --executor local)") from None
    return ray


def make_executor(name: str = "local", address: str | None = None, **kwargs: Any) -> Executor:
    """``local`` or ``ray`` (``address`` as for :class:`RayExecutor`)."""
    if name == "local":
        if address:
            raise ConfigError("--ray-address needs --executor ray")
        return LocalExecutor()
    if name == "ray":
        import_ray()
        return RayExecutor(address, **kwargs)
    raise ConfigError(f"unknown executor {name!r}; choose one of: {', '.join(EXECUTORS)}")
