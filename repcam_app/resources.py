"""Cached core objects (one Pipeline per configuration and process) and the error guard.

The app's base configuration is ``RunConfig()`` (the embedded default) unless
``REPCAM_APP_CONFIG`` names a JSON file of ``RunConfig.to_dict()``; the cache directory is
``REPCAM_CACHE`` (see :func:`repcam_core.storage.cache.default_cache_dir`). Tests and the browser test
inject a tiny configuration and a temporary cache through these two variables. The file may also
hold the app-level key ``data_roots`` (see :mod:`repcam_app.datasets`), kept out of the RunConfig.

When the server listens beyond localhost (:func:`repcam_app.settings.exposed`), the dataset must
be on the operator's list (checked here, where the configuration is built, so no page or injected
session state can skip it) and every message goes through :func:`safe` (no server path).
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Iterator

import streamlit as st

from repcam_app import settings, state
from repcam_app.datasets import DatasetChoice, allowed_dirs, check_allowed, dataset_choices, entries_from_file, redact
from repcam_app.jobs import ROUTED_PROGRESS
from repcam_app.presets import app_config
from repcam_core.storage.cache import ArtifactCache, config_hash, default_cache_dir
from repcam_core.running.config import RunConfig, config_from_data, read_config_json
from repcam_core.errors import ConfigError, RepCAMError
from repcam_core.running.pipeline import Pipeline

CONFIG_ENV = settings.CONFIG_ENV


def safe(message: str) -> str:
    """``message`` as the browser may see it: server paths outside the listed datasets hidden when
    the app listens beyond localhost, unchanged on localhost."""
    return redact(message, allowed_dirs(dataset_list())) if settings.exposed() else message


@contextlib.contextmanager
def guard() -> Iterator[None]:
    """Show a RepCAM error as an in-page message and stop this run (never a traceback)."""
    try:
        yield
    except RepCAMError as exc:
        st.error(safe(str(exc)))
        st.stop()


def _app_file() -> tuple[RunConfig, tuple[str, ...]]:
    """The base RunConfig and the ``data_roots`` entries of ``$REPCAM_APP_CONFIG``."""
    path = os.environ.get(CONFIG_ENV)
    if not path:
        return RunConfig(), ()
    try:
        return _read_app_file(path, os.path.getmtime(path) if os.path.exists(path) else 0.0)
    except RepCAMError as exc:
        message = str(exc)
        st.error(redact(message, []) if settings.exposed() else message)
        st.stop()


@st.cache_data(show_spinner=False, max_entries=4)
def _read_app_file(path: str, mtime: float) -> tuple[RunConfig, tuple[str, ...]]:
    """Cached per (path, mtime): an edited file is read again."""
    return read_app_file(path)


def read_app_file(path: str) -> tuple[RunConfig, tuple[str, ...]]:
    """The configuration and the operator's dataset roots in the app configuration file ``path``
    (ConfigError naming the file when it is malformed)."""
    what = f"app configuration (${CONFIG_ENV})"
    raw = read_config_json(path, what)
    if not isinstance(raw, dict):
        raise ConfigError(f"the {what} {path}: expected a JSON object (RunConfig.to_dict(), optionally with "
                          f"'{settings.DATA_ROOTS_KEY}')")
    roots = entries_from_file(raw.pop(settings.DATA_ROOTS_KEY)) if settings.DATA_ROOTS_KEY in raw else []
    return config_from_data(raw, path, what), tuple(roots)


def base_config() -> RunConfig:
    """The configuration the app starts from (``$REPCAM_APP_CONFIG`` or the embedded default)."""
    return _app_file()[0]


def dataset_list() -> list[DatasetChoice]:
    """What an exposed app offers: the embedded world, the base dataset, the operator's entries
    (the configuration file's ``data_roots``, then ``$REPCAM_DATA_ROOTS``)."""
    base, roots = _app_file()
    try:
        return dataset_choices(base.dataset, [*roots, *settings.data_roots_env()])
    except RepCAMError as exc:
        st.error(f"the operator's dataset list is invalid: {redact(str(exc), [])}")
        st.stop()


def cache_root() -> Path:
    return default_cache_dir()


def current_config() -> RunConfig:
    """The base configuration, or the preset chosen on the Home page (:mod:`repcam_app.presets`),
    with the dataset, backbone and device chosen there and the clustering algorithm chosen on the
    Clustering page."""
    ss = st.session_state
    dataset = str(ss[state.DATASET]).strip() or "embedded"
    with guard():
        if settings.exposed():
            check_allowed(dataset, dataset_list())
        return app_config(base_config(), ss.get(state.PRESET) or base_config().preset, dataset,
                          ss[state.BACKBONE], ss[state.DEVICE], ss.get(state.CLUSTERING))


def config_key(config: RunConfig) -> str:
    return config_hash(config.to_dict())


@st.cache_resource(show_spinner=False, max_entries=4)
def _pipeline(config_json: str, root: str) -> Pipeline:
    return Pipeline(RunConfig.from_dict(json.loads(config_json)), ArtifactCache(root), ROUTED_PROGRESS)


def pipeline(config: RunConfig | None = None) -> Pipeline:
    """The process-wide Pipeline of ``config`` (default: the current one); at most 4 are kept.

    Its dataset is opened here so a bad path shows its DatasetError in the page (not the embedded
    world while it is generated on a first start: :func:`repcam_app.widgets.dataset_ready` says so;
    a read-only demo starts no job, so its page generates the world here, as data).
    """
    config = config or current_config()
    with guard():
        p = _pipeline(json.dumps(config.to_dict(), sort_keys=True), str(cache_root()))
        if settings.read_only() or not p.dataset_pending:
            p.class_names  # noqa: B018 - opens the dataset (raises DatasetError for a bad path)
    return p
