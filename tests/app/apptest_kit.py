"""What every AppTest here shares: open a page of the real app with injected session state, and
check that a run drew no exception and no error. (A plain module with a unique name: importing
from a sibling test module or a ``conftest`` is ambiguous once several are on ``sys.path``.)"""

from __future__ import annotations

import json
import socket
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 120
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def open_page(page: str, **session) -> AppTest:
    """``app_pages/<page>.py`` run once through ``app.py`` with ``session`` set first."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for k, v in session.items():
        at.session_state[k] = v
    at.switch_page(f"app_pages/{page}.py")
    return at.run()


def ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def serve_config(cfg, tmp_path: Path, monkeypatch) -> None:
    """Point the app at ``cfg`` (written to ``tmp_path/config.json``) and the cache ``tmp_path/cache``."""
    (tmp_path / "config.json").write_text(json.dumps(cfg.to_dict()))
    monkeypatch.setenv("REPCAM_APP_CONFIG", str(tmp_path / "config.json"))
    monkeypatch.setenv("REPCAM_CACHE", str(tmp_path / "cache"))
