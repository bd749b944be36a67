"""``repcam-app``: start the Streamlit app on 127.0.0.1 (``--host 0.0.0.0`` to serve others).

Options other than ``--host`` and ``--port`` go to ``streamlit run`` unchanged. A host beyond
localhost prints one warning line naming the address and what it exposes.

It serves from any working directory. The app's files (``app.py``, ``app_pages/``,
``.streamlit/config.toml``, ``assets/``) sit at the root of a source checkout; an installed package
carries them in ``repcam_app/site/`` (setup.py maps them there), and :func:`find_app` takes that
copy first, then the checkout's. Streamlit reads ``.streamlit/config.toml`` from the working
directory (recent versions also from the main script's folder), so the launcher passes the app's
own configuration as ``--section.key value`` options (:func:`config_flags`), except the options
given on the command line or as ``STREAMLIT_*`` environment variables: Streamlit's own precedence.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tomllib
from pathlib import Path
from typing import Any, Mapping, Sequence

from repcam_app import settings

PACKAGED = Path(__file__).resolve().parent / "site"
"""Where an installed package keeps the app's files."""
CHECKOUT = Path(__file__).resolve().parents[1]
"""A source checkout's root, where the app's files live in the repository."""
CONFIG = Path(".streamlit", "config.toml")
"""The app's Streamlit configuration, relative to the folder of ``app.py``."""
SET_BY_LAUNCHER = frozenset({"server.address", "server.port"})
"""Options the launcher always sets itself (from ``--host`` and ``--port``)."""


def find_app(roots: Sequence[Path] | None = None) -> Path | None:
    """The first ``app.py`` among ``roots`` (default: the installed copy, then a checkout's), or None."""
    roots = (PACKAGED, CHECKOUT) if roots is None else roots
    return next((root / "app.py" for root in roots if (root / "app.py").is_file()), None)


def config_options(path: Path) -> dict[str, Any]:
    """A Streamlit ``config.toml`` as ``{"section.key": value}`` (nested tables joined by dots;
    an absent file gives no options)."""
    if not path.is_file():
        return {}

    def flatten(table: Mapping[str, Any], prefix: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in table.items():
            key = f"{prefix}{name}"
            out.update(flatten(value, key + ".") if isinstance(value, dict) else {key: value})
        return out

    with path.open("rb") as f:
        return flatten(tomllib.load(f), "")


def env_var(key: str) -> str:
    """The environment variable that sets Streamlit option ``key`` (``server.maxUploadSize`` ->
    ``STREAMLIT_SERVER_MAX_UPLOAD_SIZE``), named as Streamlit names it."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", key.replace(".", "_"))
    return "STREAMLIT_" + re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).upper()


def _flag_value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise TypeError(f"{key}: a {type(value).__name__} cannot be passed as a streamlit run option")


def config_flags(options: Mapping[str, Any], given: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    """``options`` as ``streamlit run`` flags, leaving out those ``given`` on the command line
    (``--key value`` or ``--key=value``), those set in ``environ`` (``STREAMLIT_*``) and the ones the
    launcher sets itself."""
    named = {arg[2:].split("=", 1)[0] for arg in given if arg.startswith("--")}
    flags: list[str] = []
    for key, value in options.items():
        if key not in SET_BY_LAUNCHER and key not in named and env_var(key) not in environ:
            flags += [f"--{key}", _flag_value(key, value)]
    return flags


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="repcam-app", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=settings.DEFAULT_HOST,
                        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: every interface)")
    parser.add_argument("--port", type=int, default=settings.DEFAULT_PORT, help="port (default 8501)")
    args, rest = parser.parse_known_args(list(argv))
    if any(a.split("=")[0] in ("--server.address", "--server.port") for a in rest):
        parser.error("use --host and --port instead of --server.address / --server.port")
    return args, rest


def streamlit_argv(argv: Sequence[str], app: Path, environ: Mapping[str, str] | None = None) -> list[str]:
    """``repcam-app`` arguments -> the ``streamlit run`` command line for ``app`` (host and port
    always explicit; then the app's configuration, as :func:`config_flags` leaves it; then the
    options given)."""
    args, rest = parse_args(argv)
    config = config_flags(config_options(app.parent / CONFIG), rest, os.environ if environ is None else environ)
    return ["streamlit", "run", str(app), "--server.address", args.host, "--server.port", str(args.port),
            *config, *rest]


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
    app = find_app()
    if app is None:
        print(f"repcam-app: error: app.py is in neither {PACKAGED} (an installed package) nor {CHECKOUT} "
              "(a source checkout); reinstall repcam", file=sys.stderr)
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
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: see repcam_core.cli.quiet_threads
    os.environ.setdefault(settings.WARMUP_ENV, "1")
    os.environ.setdefault(settings.WORKER_ENV, "1")
    if settings.warmup():  # train the explorer's first maps from the server's start, not the first visit
        from repcam_app.warmup import start_when_serving

        start_when_serving(f"http://127.0.0.1:{args.port}")
    from streamlit.web import cli as stcli

    sys.argv = streamlit_argv(argv, app)
    print(f"repcam-app: serving {app}", flush=True)
    return int(stcli.main() or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
