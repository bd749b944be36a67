"""App test fixtures: the tiny configuration written to a JSON file and a cache trained once.

The app reads its base configuration from ``$REPCAM_APP_CONFIG`` and its cache from
``$REPCAM_CACHE``; both point here for the whole session (AppTest runs in this process, the
browser test passes them to the ``streamlit run`` subprocess).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest


def _tiny_config():
    from repcam_testing import tiny_config

    return tiny_config()


APP = str(Path(__file__).resolve().parents[2] / "app.py")
MODES = ["Baseline", "S-1+A+F", "Top1", "All"]


@pytest.fixture(scope="session")
def app_env(tmp_path_factory) -> dict[str, str]:
    """Environment of the app: tiny config + a cache with every tiny artifact already computed."""
    from repcam_core.running.experiment import Experiment
    from repcam_core.running.pipeline import Pipeline

    root = tmp_path_factory.mktemp("app")
    cache, cfg_path = root / "cache", root / "config.json"
    cfg = _tiny_config()
    cfg_path.write_text(json.dumps(cfg.to_dict()))
    exp = Experiment(Pipeline(cfg, cache=cache))
    exp.run(MODES)  # multi-class model, B, every binary model, pairwise table, modes
    env = {"REPCAM_APP_CONFIG": str(cfg_path), "REPCAM_CACHE": str(cache)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield env
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def serve_on():
    """``serve_on("0.0.0.0")``: make the in-process app believe it listens there (Streamlit's
    ``server.address``, which ``repcam-app --host`` sets); restored after the test."""
    from streamlit import config

    old = config.get_option("server.address")
    yield lambda address: config.set_option("server.address", address)
    config.set_option("server.address", old)


@pytest.fixture(autouse=True)
def _local_server(serve_on):
    """App tests run as on ``make app`` (127.0.0.1) unless they call ``serve_on`` themselves."""
    serve_on("127.0.0.1")


@pytest.fixture(autouse=True)
def no_ambient_warmup_or_workers(monkeypatch):
    """A shell that exported ``REPCAM_WARMUP``/``REPCAM_WORKER`` (e.g. after running the app) does
    not switch the AppTests' jobs to the warm-up or to worker processes; tests set them themselves."""
    from repcam_app import settings

    monkeypatch.delenv(settings.WARMUP_ENV, raising=False)
    monkeypatch.delenv(settings.WORKER_ENV, raising=False)
