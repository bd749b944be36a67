"""Cached core objects (one Pipeline per configuration and process) and the error guard.

The app's base configuration is ``RunConfig()`` (the embedded default) unless
``REPCAM_APP_CONFIG`` names a JSON file of ``RunConfig.to_dict()``; the cache directory is
``REPCAM_CACHE`` (see :func:`repcam_core.cache.default_cache_dir`). Tests and the browser test
inject a tiny configuration and a temporary cache through these two variables.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Iterator

import streamlit as st

from repcam_app import state
from repcam_app.jobs import ROUTED_PROGRESS
from repcam_core.cache import ArtifactCache, default_cache_dir
from repcam_core.config import RunConfig, config_hash, load_config_file
from repcam_core.errors import RepCAMError
from repcam_core.pipeline import Pipeline

CONFIG_ENV = "REPCAM_APP_CONFIG"


@contextlib.contextmanager
def guard() -> Iterator[None]:
    """Show a RepCAM error as an in-page message and stop this run (never a traceback)."""
    try:
        yield
    except RepCAMError as exc:
        st.error(str(exc))
        st.stop()


def base_config() -> RunConfig:
    """The configuration the app starts from (``$REPCAM_APP_CONFIG`` or the embedded default);
    a file that cannot be used shows one message and stops the page."""
    path = os.environ.get(CONFIG_ENV)
    if not path:
        return RunConfig()
    with guard():
        return _config_from_file(path, os.path.getmtime(path) if os.path.exists(path) else 0.0)


@st.cache_data(show_spinner=False, max_entries=4)
def _config_from_file(path: str, _mtime: float) -> RunConfig:
    return load_config_file(path, what=f"app configuration (${CONFIG_ENV})")


def cache_root() -> Path:
    return default_cache_dir()


def current_config() -> RunConfig:
    """The base configuration with the dataset, backbone and device chosen on the Home page."""
    ss = st.session_state
    with guard():
        return base_config().with_(dataset=str(ss[state.DATASET]).strip() or "embedded",
                                   backbone=ss[state.BACKBONE], device=ss[state.DEVICE])


def config_key(config: RunConfig) -> str:
    return config_hash(config.to_dict())


@st.cache_resource(show_spinner=False, max_entries=4)
def _pipeline(config_json: str, root: str) -> Pipeline:
    return Pipeline(RunConfig.from_dict(json.loads(config_json)), ArtifactCache(root), ROUTED_PROGRESS)


def pipeline(config: RunConfig | None = None) -> Pipeline:
    """The process-wide Pipeline of ``config`` (default: the current one); at most 4 are kept.

    Its dataset is opened here so a bad path shows its DatasetError in the page.
    """
    config = config or current_config()
    with guard():
        p = _pipeline(json.dumps(config.to_dict(), sort_keys=True), str(cache_root()))
        p.class_names  # noqa: B018 - opens the dataset (raises DatasetError for a bad path)
    return p
