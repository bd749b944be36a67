"""``repcam-app``: start the Streamlit app on 127.0.0.1 (``--host 0.0.0.0`` to serve others).

Options other than ``--host`` and ``--port`` go to ``streamlit run`` unchanged. A host beyond
localhost prints one warning line naming the address and what it exposes.
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.request
from pathlib import Path
from typing import Sequence

from repcam_app import settings

APP = Path(__file__).resolve().parents[1] / "app.py"


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


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="repcam-app", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=settings.DEFAULT_HOST,
                        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: every interface)")
    parser.add_argument("--port", type=int, default=settings.DEFAULT_PORT, help="port (default 8501)")
    args, rest = parser.parse_known_args(list(argv))
    if any(a.split("=")[0] in ("--server.address", "--server.port") for a in rest):
        parser.error("use --host and --port instead of --server.address / --server.port")
    return args, rest


def streamlit_argv(argv: Sequence[str], app: Path = APP) -> list[str]:
    """``repcam-app`` arguments -> the ``streamlit run`` command line (host and port always explicit)."""
    args, rest = parse_args(argv)
    return ["streamlit", "run", str(app), "--server.address", args.host, "--server.port", str(args.port), *rest]


def exposure_warning(host: str, port: int) -> str | None:
    """The one-line warning for a host beyond localhost (None for loopback)."""
    if settings.is_loopback(host):
        return None
    token = "an access token is required" if settings.token() else f"no access token (set ${settings.TOKEN_ENV})"
    work = ("read-only demo: cached results only" if settings.read_only() else
            f"anyone can start training (at most {settings.max_jobs()} jobs at once) and upload images")
    return (f"repcam-app: warning: listening on {host}:{port}, reachable from other machines: they see the "
            f"datasets on the list (${settings.DATA_ROOTS_ENV}) and their results; {work}; {token}")


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not APP.is_file():
        print(f"repcam-app: error: {APP} not found (run from a source checkout)", file=sys.stderr)
        return 2
    try:  # bad operator settings fail here, not in the first browser session
        settings.max_jobs(), settings.uploads_per_minute()
    except ValueError as exc:
        print(f"repcam-app: error: {exc}", file=sys.stderr)
        return 2
    args, _ = parse_args(argv)
    warning = exposure_warning(args.host, args.port)
    if warning:
        print(warning, file=sys.stderr)
    import os

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: see repcam_core.cli.quiet_threads
    os.environ.setdefault(settings.WARMUP_ENV, "1")
    os.environ.setdefault(settings.WORKER_ENV, "1")
    if settings.warmup():  # train the explorer's first maps from the server's start, not the first visit
        from repcam_app.warmup import start_when_serving

        start_when_serving(f"http://127.0.0.1:{args.port}")
    from streamlit.web import cli as stcli

    sys.argv = streamlit_argv(argv)
    return int(stcli.main() or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
