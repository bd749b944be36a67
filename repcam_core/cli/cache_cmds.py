"""``repcam cache ACTION``: cache maintenance."""

from __future__ import annotations

import argparse


def cmd_cache_clean(args: argparse.Namespace) -> int:
    from repcam_core.cache import ArtifactCache

    cache = ArtifactCache(args.cache)
    print(f"removed {cache.clear_stale()} stale entr(ies) from {cache.root}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("cache", help="cache maintenance")
    c.add_argument("action", choices=["clean"], help="clean: remove partial and old-version entries")
    c.add_argument("--cache", default=None)
    c.set_defaults(fn=cmd_cache_clean)
