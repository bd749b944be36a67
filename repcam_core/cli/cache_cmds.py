"""``repcam cache clean | verify``: cache maintenance."""

from __future__ import annotations

import argparse
import json

EXIT_DAMAGED = 1
"""``repcam cache verify``: damaged items were found and not repaired."""


def cmd_cache(args: argparse.Namespace) -> int:
    if args.action == "verify":
        return cmd_cache_verify(args)
    from repcam_core.storage.cache import ArtifactCache

    cache = ArtifactCache(args.cache)
    print(f"removed {cache.clear_stale()} stale entr(ies) from {cache.root}")
    return 0


def cmd_cache_verify(args: argparse.Namespace) -> int:
    from pathlib import Path

    from repcam_core.running.verify import format_report, verify_cache
    from repcam_core.errors import ConfigError

    root = Path(args.cache).expanduser() if args.cache else _default()
    if not root.is_dir():
        raise ConfigError(f"no cache directory at {root} (nothing to verify)")
    report = verify_cache(root, repair=args.repair)
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        print("\n".join(format_report(report)))
    return EXIT_DAMAGED if report.unrepaired else 0


def _default():
    from repcam_core.storage.cache import default_cache_dir

    return default_cache_dir()


def register(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("cache", help="cache maintenance: clean, verify [--repair]",
                       description="clean: remove partial and old-version entries. verify: check every file of "
                                   "the cache against its recorded size and CRC-32; exit status 1 when damaged "
                                   "items remain (--repair moves them to CACHE/.quarantine, where nothing is "
                                   "lost, and they are recomputed when next needed).")
    c.add_argument("action", choices=["clean", "verify"],
                   help="clean: remove partial and old-version entries; verify: check every file")
    c.add_argument("--cache", default=None)
    c.add_argument("--repair", action="store_true", help="verify: quarantine damaged items, remove leftovers")
    c.add_argument("--json", action="store_true", help="verify: print the report as one JSON object")
    c.set_defaults(fn=cmd_cache)
