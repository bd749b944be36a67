"""``repcam cache verify [--repair]``: every item of a cache checked in full against its record.

Checked, each file's size and CRC-32 (:mod:`repcam_core.storage.integrity`):

* artifact entries ``ROOT/<kind>/<key>/`` against their ``manifest.json`` (itself sealed);
* decoded splits ``ROOT/decoded/*.npz``: the CRC-32 the zip stores for every array;
* embedded worlds ``ROOT/datasets/world-*`` against their ``files.json``.

Reported but not counted as damage: *leftovers* (``.tmp-`` items of interrupted writers; a run
that writes the same item removes them), entries without an integrity record (written before
records existed), entries of another cache schema (``repcam cache clean`` removes those) and what
the quarantine holds. ``repair`` moves damaged entries and decoded splits to the quarantine (they
are recomputed when next needed), re-renders damaged world files in place and removes leftovers
that no live writer holds.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from repcam_core.storage.cache import MANIFEST, ArtifactCache
from repcam_core.data.decoded_files import problem as decoded_problem
from repcam_core.errors import CacheVersionError, IntegrityWarning, RepCAMError
from repcam_core.storage.integrity import (QUARANTINE, Damaged, cache_lock, leftover_target, quarantine, read_sealed,
                                           remove_leftover)

DECODED, DATASETS = "decoded", "datasets"


@dataclass
class Finding:
    """One damaged item or leftover: its path relative to the cache, what is wrong, what was done."""

    item: str
    problem: str
    action: str = ""


@dataclass
class VerifyReport:
    root: str
    checked: dict[str, int] = field(default_factory=dict)  # "binary" / "decoded splits" / "world files" -> count
    damaged: list[Finding] = field(default_factory=list)
    leftovers: list[Finding] = field(default_factory=list)
    unrecorded: list[str] = field(default_factory=list)
    other_schema: list[str] = field(default_factory=list)
    quarantined: int = 0

    @property
    def unrepaired(self) -> list[Finding]:
        return [f for f in self.damaged if not f.action]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": not self.unrepaired}


def verify_cache(root: str | Path, repair: bool = False) -> VerifyReport:
    """Check every item under the cache ``root`` (see the module doc); with ``repair``, fix what can be."""
    cache = ArtifactCache(root)
    report = VerifyReport(str(cache.root))
    counts: Counter[str] = Counter()
    with warnings.catch_warnings():  # the report names each item once; no second line per move
        warnings.simplefilter("ignore", IntegrityWarning)
        for folder in sorted(p for p in cache.root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for item in sorted(folder.iterdir()):
                if leftover_target(item) is not None:
                    report.leftovers.append(_leftover(cache.root, item, repair))
                elif folder.name == DECODED and item.suffix == ".npz":
                    counts["decoded splits"] += 1
                    _verify_decoded(cache.root, item, report, repair)
                elif folder.name == DATASETS and item.is_dir() and item.name.startswith("world-"):
                    counts["world files"] += _verify_world(cache.root, item, report, repair) or 0
                elif folder.name not in (DECODED, DATASETS) and item.is_dir():
                    counts[folder.name] += 1
                    _verify_entry(cache, item, report, repair)
    quarantine_dir = cache.root / QUARANTINE
    report.quarantined = sum(1 for p in quarantine_dir.rglob("*~*")) if quarantine_dir.is_dir() else 0
    report.checked = dict(sorted(counts.items()))
    return report


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _verify_entry(cache: ArtifactCache, entry: Path, report: VerifyReport, repair: bool) -> None:
    try:
        if not (entry / MANIFEST).is_file():
            raise Damaged(entry, "no manifest.json")
        cache.check(entry, deep=True, inputs=False)
    except CacheVersionError:
        report.other_schema.append(_rel(cache.root, entry))
        return
    except Damaged as damage:
        finding = Finding(_rel(cache.root, entry), damage.problem)
        if repair:
            with cache_lock(cache.root, entry):
                try:  # a run may have healed it while we waited for the lock
                    cache.check(entry, deep=True, inputs=False)
                    finding.action = "recomputed meanwhile"
                except Damaged as again:
                    quarantine(entry, cache.root, again.problem, "it is recomputed when next needed")
                    finding.action = "moved to the quarantine"
        report.damaged.append(finding)
        return
    if "files" not in json.loads((entry / MANIFEST).read_text()):
        report.unrecorded.append(_rel(cache.root, entry))


def _verify_decoded(root: Path, path: Path, report: VerifyReport, repair: bool) -> None:
    problem = decoded_problem(path)
    if problem is None:
        return
    finding = Finding(_rel(root, path), problem)
    if repair:
        with cache_lock(root, path):
            again = decoded_problem(path)  # a run may have decoded it again meanwhile
            if again is not None and path.exists():
                quarantine(path, root, again, "decoded again when next needed")
        finding.action = "moved to the quarantine" if again is not None else "decoded again meanwhile"
    report.damaged.append(finding)


def _verify_world(root: Path, world: Path, report: VerifyReport, repair: bool) -> int:
    """Check one embedded world; returns how many files it records."""
    from repcam_core.data.world_files import RECORD, world_problems

    if not (world / RECORD).is_file():
        report.unrecorded.append(_rel(root, world))
        return 0
    try:
        record = read_sealed(world / RECORD)
        problems = world_problems(world, deep=True)
    except Damaged as damage:
        record, problems = None, {RECORD: damage.problem}
    findings = [Finding(_rel(root, world / rel), problem) for rel, problem in problems.items()]
    if findings and repair:
        action = _repair_world(root, world, record)
        for f in findings:
            f.action = action
    report.damaged += findings
    return len(record["files"]) if record else 0


def _repair_world(root: Path, world: Path, record: dict[str, Any] | None) -> str:
    from repcam_core.data.world import WorldConfig
    from repcam_core.data.world_files import heal_world

    config = (record or {}).get("config")
    if config is None:  # the record is damaged: world.json names the configuration too
        try:
            config = json.loads((world / "world.json").read_text())["config"]
        except (OSError, ValueError, KeyError, TypeError):
            config = None
    try:
        heal_world(world, WorldConfig.from_dict(config), root, deep=True)
        return "rendered again"
    except (RepCAMError, TypeError, AttributeError):
        quarantine(world, root, "files.json and world.json damaged", "it is generated again when next needed")
        return "world moved to the quarantine"


def _leftover(root: Path, item: Path, repair: bool) -> Finding:
    finding = Finding(_rel(root, item), "left by an interrupted write")
    if repair:
        finding.action = "removed" if remove_leftover(root, item) else "kept: being written now"
    return finding


def format_report(report: VerifyReport) -> list[str]:
    """The report as lines for a terminal (``repcam cache verify`` prints them)."""
    checked = ", ".join(f"{n} {kind}" for kind, n in report.checked.items()) or "nothing"
    lines = [f"verified {report.root}: {checked}"]
    for f in report.damaged:
        lines.append(f"damaged   {f.item}: {f.problem}" + (f" -> {f.action}" if f.action else ""))
    for f in report.leftovers:
        lines.append(f"leftover  {f.item}: {f.problem}" + (f" -> {f.action}" if f.action else ""))
    if report.unrecorded:
        lines.append(f"note: {len(report.unrecorded)} item(s) have no integrity record (written by an older RepCAM)")
    if report.other_schema:
        lines.append(f"note: {len(report.other_schema)} entr(ies) of another cache schema; `repcam cache clean` "
                     f"removes them")
    if report.quarantined:
        lines.append(f"note: {report.quarantined} item(s) in {Path(report.root) / QUARANTINE} (why: log.jsonl there)")
    if report.unrepaired:
        lines.append(f"result: {len(report.unrepaired)} damaged item(s); `repcam cache verify --repair` moves them "
                     f"to the quarantine (recomputed when next needed) and removes leftovers")
    elif report.damaged:
        lines.append(f"result: {len(report.damaged)} damaged item(s) repaired")
    else:
        extra = f"; {len(report.leftovers)} leftover(s)" if report.leftovers else ""
        lines.append(f"result: everything intact{extra}")
    return lines
