"""``repcam``: the same core, headless, for batch experiments.

Every experiment command shares the options that make a :class:`RunConfig` (``common.py``);
each command family lives in its own module with a ``register(subparsers)`` function, and
:func:`make_parser` asks each of :data:`COMMAND_MODULES` in turn. Artifacts go to the cache
(``--cache``, default the user's cache directory) so a rerun recomputes nothing and an
interrupted run resumes. User errors print one line and exit 2; never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from typing import Any, Sequence

from repcam_core.cli.common import build_config
from repcam_core.errors import RepCAMError
from repcam_core.storage.integrity import STORAGE_ERRNOS

EXIT_USER_ERROR = 2

COMMAND_MODULES: tuple[str, ...] = (
    "repcam_core.cli.data_cmds",        # demo-data, weights
    "repcam_core.cli.experiment_cmds",  # similarity, cluster, pairs, run
    "repcam_core.cli.reproduce_cmd",    # reproduce
    "repcam_core.cli.figure_cmd",       # figure
    "repcam_core.cli.cache_cmds",       # cache
    "repcam_core.cli.prebuilt_cmd",     # prebuilt
)
"""Modules that add sub-commands (each has ``register(subparsers)``); order = ``--help`` order."""


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="repcam", description="RepCAM: class activation maps by representative "
                                     "class selection and multi-layer fusion (the same core as the app, headless).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    quiet_threads()
    parser = make_parser()
    args = parser.parse_args(argv)
    if getattr(args, "no_prebuilt", False):  # every Pipeline of this command and its workers
        import os

        from repcam_core.running.prebuilt import ENV

        os.environ[ENV] = "0"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = _show_warning
            return int(args.fn(args))
    except RepCAMError as exc:
        print(f"repcam: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("repcam: interrupted; finished artifacts are cached, run the same command to resume", file=sys.stderr)
        return 130
    except OSError as exc:  # a write the storage refused outside the cache (--out on a full disk, ...)
        if exc.errno not in STORAGE_ERRNOS:
            raise
        where = f" {exc.filename}" if exc.filename else ""
        print(f"repcam: error: cannot write{where}: {exc.strerror}", file=sys.stderr)
        return EXIT_USER_ERROR


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
                  line: str | None = None) -> None:
    """Warnings (e.g. a skipped unreadable image) as one line on stderr, no source location."""
    print(f"repcam: warning: {message}", file=sys.stderr)


def quiet_threads() -> None:
    """Idle OpenMP threads sleep instead of spinning (``OMP_WAIT_POLICY=PASSIVE``), unless the
    user chose otherwise; must run before torch is imported. With spinning threads, any other busy
    process on a small machine (a second run, the app's server, a browser) made torch's two
    threads wait on each other's barriers: tinynet training fell from ~170 to ~20 images/s on the
    2-core machine (bench/RESULTS.md); sleeping threads cost little when the machine is quiet."""
    import os

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


__all__ = ["main", "quiet_threads", "make_parser", "build_config", "EXIT_USER_ERROR"]
