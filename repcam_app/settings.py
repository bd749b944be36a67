"""The app's operator settings: every environment variable, its default, and where the server listens.

| variable | default | effect |
|---|---|---|
| ``REPCAM_APP_CONFIG`` | unset | JSON file: a ``RunConfig.to_dict()`` or part of one (the rest from its ``preset``), plus the app key ``data_roots`` |
| ``REPCAM_CACHE`` | ``~/.cache/repcam`` | the artifact cache (read by :func:`repcam_core.storage.cache.default_cache_dir`) |
| ``REPCAM_DATA_ROOTS`` | unset | datasets offered when the app is exposed (comma-separated ``[NAME=]SPEC``) |
| ``REPCAM_APP_TOKEN`` | unset | every browser session must enter this token first |
| ``REPCAM_MAX_JOBS`` | 2 | background jobs running at once per server; the rest wait in a queue |
| ``REPCAM_UPLOADS_PER_MINUTE`` | 10 | new images one browser session may upload per minute |
| ``REPCAM_READ_ONLY`` | unset | ``1``: serve what the cache holds; no job (training, evaluation) starts |
| ``REPCAM_WARMUP`` | ``1`` under ``repcam-app``/``make app``, else unset | train what the explorer shows first in the background from the server's start (:mod:`repcam_app.warmup`) |
| ``REPCAM_WORKER`` | ``1`` under ``repcam-app``/``make app``, else unset | training and evaluation jobs run in worker processes at a lower CPU priority, not in the server's threads (:mod:`repcam_app.offload`) |

Whether the server is *exposed* comes from Streamlit's own ``server.address`` option (set by
``repcam-app --host``, ``streamlit run --server.address`` or ``.streamlit/config.toml``): only an
explicit loopback address counts as local. Unset means Streamlit listens on every interface, so it
counts as exposed.
"""

from __future__ import annotations

import ipaddress
import os

import streamlit as st

from repcam_core.errors import ConfigError

CONFIG_ENV = "REPCAM_APP_CONFIG"
DATA_ROOTS_ENV = "REPCAM_DATA_ROOTS"
TOKEN_ENV = "REPCAM_APP_TOKEN"
MAX_JOBS_ENV = "REPCAM_MAX_JOBS"
UPLOADS_ENV = "REPCAM_UPLOADS_PER_MINUTE"
READ_ONLY_ENV = "REPCAM_READ_ONLY"
WARMUP_ENV = "REPCAM_WARMUP"
WORKER_ENV = "REPCAM_WORKER"

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8501
DEFAULT_MAX_JOBS = 2
DEFAULT_UPLOADS_PER_MINUTE = 10
DATA_ROOTS_KEY = "data_roots"
"""The app-level key of the ``REPCAM_APP_CONFIG`` file (a list of specs or ``{name: spec}``)."""


def is_loopback(host: str | None) -> bool:
    """True only for an explicit loopback address (``127.x.x.x``, ``::1``, ``localhost``)."""
    if not host:
        return False
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listen_address() -> str | None:
    """Streamlit's ``server.address`` in this process (None when unset: every interface)."""
    return st.get_option("server.address") or None


def exposed() -> bool:
    """True unless the server listens on a loopback address only."""
    return not is_loopback(listen_address())


def token() -> str | None:
    """The access token every session must enter, or None (no gate)."""
    return os.environ.get(TOKEN_ENV) or None


def flag(name: str, default: str = "") -> bool:
    """An on/off environment variable: ``1``, ``true``, ``yes`` or ``on`` (any case) is on."""
    return os.environ.get(name, default).strip().lower() in ("1", "true", "yes", "on")


def read_only() -> bool:
    return flag(READ_ONLY_ENV)


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"${name} must be a positive integer, got {raw!r}") from None
    if value < 1:
        raise ConfigError(f"${name} must be a positive integer, got {raw!r}")
    return value


def max_jobs() -> int:
    return _positive_int(MAX_JOBS_ENV, DEFAULT_MAX_JOBS)


def uploads_per_minute() -> int:
    return _positive_int(UPLOADS_ENV, DEFAULT_UPLOADS_PER_MINUTE)


def data_roots_env() -> list[str]:
    """The raw ``[NAME=]SPEC`` entries of ``$REPCAM_DATA_ROOTS`` (comma-separated)."""
    return [e.strip() for e in os.environ.get(DATA_ROOTS_ENV, "").split(",") if e.strip()]


def warmup() -> bool:
    """Whether the server trains the explorer's first maps in the background from its start."""
    return flag(WARMUP_ENV) and not read_only()


def worker() -> bool:
    """Whether heavy jobs run in worker processes (:mod:`repcam_app.offload`) instead of server threads."""
    return flag(WORKER_ENV)
