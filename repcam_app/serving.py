"""The app's server seen from outside: whether it answers its health check yet, and stopping it.

Used by the launcher's warm-up (:mod:`repcam_app.warmup`), the browser tests and ``bench demo``.
It imports neither Streamlit nor RepCAM, so the launcher and the warm-up both sit above it.
"""

from __future__ import annotations

import subprocess
import time
import urllib.request


def wait_until_serving(url: str, timeout: float, poll: float = 0.2) -> bool:
    """Whether the Streamlit server at ``url`` answered its health check within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            return True
        except OSError:
            time.sleep(poll)
    return False


def stop(proc: subprocess.Popen, grace: float = 10) -> None:
    """End a server process started by a test or a benchmark: SIGTERM, then SIGKILL after
    ``grace`` seconds; returns once it has exited."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
