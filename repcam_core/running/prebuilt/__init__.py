"""Shipped artifacts: the embedded default's trained multi-class model, its B and its clusters.

Like pretrained weights, the default configuration's multi-class model is trained once, by
``repcam prebuilt build`` (:mod:`repcam_core.running.prebuilt.build`), and shipped as package data in
``repcam_core/running/prebuilt/embedded-default/`` with what is cheap to ship beside it (B and the default
clustering) and a ``manifest.json`` saying where they came from (command, commit, date, torch,
threads, CPU) and what they gave there (accuracy, the Baseline under the three protocols). A
:class:`~repcam_core.running.pipeline.Pipeline` installs one into its cache when it would otherwise
compute it and its configuration matches (:func:`fill`, called by the Pipeline's own getters, so
the CLI, the app, its workers and Ray tasks all do it); :func:`install` installs every match at
once without training anything (what the app's warm-up does first). Binary models, maps and
results are never shipped: they are trained and computed here, from the installed model.

**Matching.** A cache key names its data by each split's fingerprint (the files' sizes and
*mtimes*), which differs on every machine that generates the world. So the manifest keys each
artifact by its *portable* key (:func:`portable_key`): the cache key with each fingerprint
replaced by a digest of the split's content (the image ids and each file's size and CRC-32, from
the world's own record ``files.json``, which every use checks). Equal portable keys mean the same
configuration on the same bytes; the artifact is then installed under the *local* key, so
everything downstream (binary models, maps, results, the app) finds it as if trained here.
Another world (another Pillow writing other JPEG bytes, another world version), another
configuration or a real dataset matches nothing, and the usual training runs.

**Consistency.** B is installed only over the shipped multi-class model (installed first when
missing) and the clusters only over the shipped B; a cache whose model was trained here computes
B from that model. Each installed entry holds ``shipped.json`` (the manifest's provenance), so
pages and ``repcam prebuilt show`` can say where it came from.

**Switches.** ``REPCAM_PREBUILT=0`` (or ``--no-prebuilt``) installs nothing: what is missing is
trained from scratch. A cache entry already there is used either way (shipped or trained: the
cache key says they were made by the same configuration from the same data), so compare the two
in fresh caches. ``REPCAM_PREBUILT=DIR`` uses another prebuilt directory
(``repcam prebuilt build --out DIR``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
import zlib
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Protocol

from repcam_core.errors import IntegrityWarning

if TYPE_CHECKING:
    from repcam_core.running.config import RunConfig
    from repcam_core.storage.cache import ArtifactCache


class Pipeline(Protocol):
    """What this module reads of a :class:`~repcam_core.running.pipeline.Pipeline` (which calls it:
    the pipeline fills its cache entries from the shipped artifacts)."""

    config: RunConfig
    cache: ArtifactCache
    prebuilt: Prebuilt | None

    @property
    def dataset(self) -> Any: ...  # the opened dataset: its root, class_names and split_ids(split)

    def fingerprint(self, split: str) -> str: ...

    def multiclass_key(self) -> dict[str, Any]: ...

    def similarity_key(self) -> dict[str, Any]: ...

    def clustering_key(self, n_clusters: int, min_size: int, seed: int) -> dict[str, Any]: ...


ENV = "REPCAM_PREBUILT"
DEFAULT_DIR = Path(__file__).resolve().parent / "embedded-default"
MANIFEST = "manifest.json"
PROVENANCE = "shipped.json"
"""Written into each installed cache entry: where the artifact came from."""
FORMAT = 1
KINDS = ("multiclass", "similarity", "clustering")
UPSTREAM = {"similarity": ("multiclass", "model"), "clustering": ("similarity", "similarity")}
"""kind -> (kind it is computed from, the key entry holding that one's key)."""
BUILD_COMMAND = "repcam prebuilt build"


class Prebuilt:
    """One prebuilt directory: ``manifest.json`` and one folder of files per kind."""

    def __init__(self, root: Path = DEFAULT_DIR) -> None:
        self.root = Path(root)
        self._manifest: dict[str, Any] | None = None

    @property
    def manifest(self) -> dict[str, Any]:
        """The manifest ({} when the directory holds none: nothing is shipped)."""
        if self._manifest is None:
            try:
                data = json.loads((self.root / MANIFEST).read_text())
                self._manifest = data if isinstance(data, dict) and data.get("format") == FORMAT else {}
            except (OSError, ValueError):
                self._manifest = {}
        return self._manifest

    def key(self, kind: str) -> dict[str, Any] | None:
        """The portable key of the shipped ``kind`` (None: not shipped)."""
        entry = (self.manifest.get("entries") or {}).get(kind)
        return entry.get("key") if isinstance(entry, dict) else None

    def matches(self, kind: str, portable: Mapping[str, Any] | None) -> bool:
        return portable is not None and self.key(kind) == normalised(portable)

    def provenance(self) -> dict[str, Any]:
        """Where the shipped artifacts came from (the manifest without its entries)."""
        return {k: v for k, v in self.manifest.items() if k not in ("entries",)}

    def copy_into(self, kind: str, tmp: Path) -> bool:
        """Copy the shipped ``kind``'s files into ``tmp`` (a cache entry being created) with
        :data:`PROVENANCE`; False (with one warning) when a shipped file is not what the manifest
        records, e.g. a damaged installation: the caller then trains instead."""
        files = self.manifest["entries"][kind]["files"]
        for name, (size, crc) in files.items():
            src = self.root / kind / name
            try:
                data = src.read_bytes()
            except OSError as exc:
                return _damaged(src, f"unreadable ({exc.strerror or exc})")
            if len(data) != size or f"{zlib.crc32(data):08x}" != crc:
                return _damaged(src, f"{len(data)} bytes, CRC-32 {zlib.crc32(data):08x}; the manifest records "
                                     f"{size} bytes, {crc}")
            (tmp / name).write_bytes(data)
        (tmp / PROVENANCE).write_text(json.dumps({"kind": kind, "from": str(self.root), **self.provenance()},
                                                 indent=2, sort_keys=True))
        return True


def _damaged(path: Path, problem: str) -> bool:
    warnings.warn(f"the shipped artifact {path} is damaged ({problem}); training it here instead "
                  f"(reinstall RepCAM, or run `{BUILD_COMMAND}`)", IntegrityWarning, stacklevel=3)
    return False


def from_env() -> Prebuilt | None:
    """The prebuilt directory ``$REPCAM_PREBUILT`` selects: the shipped one (unset or 1), none (0),
    or a directory."""
    value = os.environ.get(ENV, "").strip()
    if value.lower() in ("0", "false", "no", "off"):
        return None
    return Prebuilt() if value.lower() in ("", "1", "true", "yes", "on") else Prebuilt(Path(value).expanduser())


def resolve(choice: Prebuilt | bool | None) -> Prebuilt | None:
    """A Pipeline's ``prebuilt`` argument: None (``$REPCAM_PREBUILT``), False (none), True (the
    shipped one) or a :class:`Prebuilt`."""
    if choice is None:
        return from_env()
    if isinstance(choice, Prebuilt):
        return choice
    return Prebuilt() if choice else None


def normalised(key: Mapping[str, Any]) -> dict[str, Any]:
    """``key`` as it reads back from JSON (tuples as lists, ...), for comparisons."""
    return json.loads(json.dumps(dict(key), sort_keys=True, default=str))


# ------------------------------------------------------------------------- portable keys
@lru_cache(maxsize=16)
def _split_digest(record_path: str, stamp: tuple[int, int], class_names: tuple[str, ...], split: str,
                  ids: tuple[str, ...]) -> str | None:
    from repcam_core.storage.integrity import Damaged, read_sealed

    try:
        files = read_sealed(Path(record_path)).get("files") or {}
    except Damaged:
        return None
    digest = hashlib.sha256()
    digest.update("\n".join(class_names).encode())
    digest.update(f"\0{split}\0".encode())
    for image_id in ids:
        digest.update(image_id.encode())
        for rel in (f"JPEGImages/{image_id}.jpg", f"SegmentationClass/{image_id}.png"):
            record = files.get(rel)
            if record is None:
                return None
            digest.update(f"\0{record[0]}:{record[2]}".encode())
    return digest.hexdigest()[:16]


def content_digest(p: Pipeline, split: str) -> str | None:
    """16 hex digits over ``split``'s class names, ids and each file's size and CRC-32 (from the
    embedded world's ``files.json``); None for any other dataset."""
    from repcam_core.data.sources import EMBEDDED, parse_dataset_spec
    from repcam_core.data.world_files import RECORD

    if parse_dataset_spec(p.config.dataset)[0] != EMBEDDED:
        return None
    record = Path(p.dataset.root) / RECORD
    try:
        st = record.stat()
    except OSError:
        return None
    return _split_digest(str(record), (st.st_mtime_ns, st.st_size), tuple(p.dataset.class_names), split,
                         tuple(p.dataset.split_ids(split)))


def portable_key(p: Pipeline, key: Mapping[str, Any]) -> dict[str, Any] | None:
    """``key`` with the training and evaluation splits' fingerprints replaced by their content
    digests (``"content:<16 hex>"``); None when the data is not the embedded world."""
    swap = {}
    for split in dict.fromkeys([p.config.train_split, p.config.eval_split]):
        digest = content_digest(p, split)
        if digest is None:
            return None
        swap[p.fingerprint(split)] = f"content:{digest}"

    def walk(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(v) for v in value]
        return swap.get(value, value) if isinstance(value, str) else value

    return normalised(walk(key))


# ----------------------------------------------------------------------------- install
def is_shipped(entry: Path) -> bool:
    """Whether the cache entry at ``entry`` was installed from a prebuilt directory."""
    return (Path(entry) / PROVENANCE).is_file()


def fill(p: Pipeline, kind: str, key: Mapping[str, Any], tmp: Path) -> bool:
    """Write the shipped ``kind`` into ``tmp`` (the cache entry of ``key`` being created) when
    ``p`` installs prebuilt artifacts and ``key`` matches; B and the clusters only over the shipped
    artifact they were computed from (installed first when missing). False: compute it here."""
    shipped = p.prebuilt
    if shipped is None or not matches(p, kind, key):
        return False
    if kind in UPSTREAM:
        up_kind, field = UPSTREAM[kind]
        up_key = key[field]
        if not (install_one(p, up_kind, up_key) and is_shipped(p.cache.entry(up_kind, up_key))):
            return False  # computed here from a model trained here
        p.cache.note_use(up_kind, up_key)
    return shipped.copy_into(kind, tmp)


def matches(p: Pipeline, kind: str, key: Mapping[str, Any]) -> bool:
    """Whether ``p`` installs prebuilt artifacts and ships ``(kind, key)`` (reads no cache entry)."""
    shipped = p.prebuilt
    return shipped is not None and bool(shipped.key(kind)) and shipped.matches(kind, portable_key(p, key))


class _NoMatch(Exception):
    pass


def install_one(p: Pipeline, kind: str, key: Mapping[str, Any]) -> bool:
    """Whether the cache holds ``(kind, key)`` after installing it from the prebuilt directory when
    it is missing and matches (never trains)."""
    if p.cache.has(kind, key):
        return True
    if not matches(p, kind, key):  # before the entry's lock: a run training it here holds that lock for
        return False               # as long as the training takes, and nothing would be installed anyway

    def create(tmp: Path) -> None:
        if not fill(p, kind, key, tmp):
            raise _NoMatch

    try:
        p.cache.get_or_create(kind, key, create, lambda path: None)
    except _NoMatch:
        return False
    return True


def chain_keys(p: Pipeline) -> dict[str, dict[str, Any]]:
    """The cache keys of what may be shipped for ``p``'s configuration: its multi-class model (the
    Baseline's), its B and its default clustering."""
    cfg = p.config
    return {"multiclass": p.multiclass_key(), "similarity": p.similarity_key(),
            "clustering": p.clustering_key(cfg.n_clusters, cfg.min_cluster_size, cfg.seed)}


def install(p: Pipeline) -> list[str]:
    """Install every shipped artifact that matches ``p``'s configuration and is not in its cache
    yet, without training anything; returns the kinds the cache now holds from the prebuilt
    directory. A no-op (one ``stat`` of the manifest) when nothing matches."""
    if p.prebuilt is None or not p.prebuilt.manifest:
        return installed(p)
    keys = chain_keys(p)
    for kind in KINDS:
        install_one(p, kind, keys[kind])
    return installed(p, keys)


def installed(p: Pipeline, keys: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    """The kinds ``p``'s cache holds from a prebuilt directory (a ``stat`` each; installs nothing)."""
    keys = keys or chain_keys(p)
    return [kind for kind in KINDS if is_shipped(p.cache.entry(kind, keys[kind]))]


def copy_entry_files(src: Path, dst: Path) -> dict[str, list[Any]]:
    """Copy a cache entry's artifact files (not its manifest or inputs record) into ``dst``;
    returns each file's ``[size, crc32]``."""
    from repcam_core.storage.cache import INPUTS, MANIFEST as ENTRY_MANIFEST
    from repcam_core.storage.integrity import crc32_file

    dst.mkdir(parents=True, exist_ok=True)
    out = {}
    for path in sorted(src.iterdir()):
        if path.name in (ENTRY_MANIFEST, INPUTS, PROVENANCE) or not path.is_file():
            continue
        shutil.copyfile(path, dst / path.name)
        out[path.name] = [path.stat().st_size, crc32_file(path)]
    return out


def differences(p: Pipeline, shipped: Prebuilt | None = None) -> dict[str, list[str]]:
    """Per shipped kind, where its portable key differs from ``p``'s (empty: everything matches),
    as ``path: shipped -> here`` lines (what ``repcam prebuilt check`` and the stale test print)."""
    shipped = shipped or Prebuilt()
    keys = chain_keys(p)
    out: dict[str, list[str]] = {}
    for kind in KINDS:
        mine = portable_key(p, keys[kind])
        theirs = shipped.key(kind)
        if theirs is None:
            out[kind] = ["not shipped"]
        elif mine is None:
            out[kind] = ["this configuration's data is not the embedded world"]
        elif theirs != mine:
            out[kind] = _diff(theirs, mine)
    return out


def _diff(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [line for k in sorted(set(a) | set(b), key=str)
                for line in _diff(a.get(k, "<absent>"), b.get(k, "<absent>"), f"{path}.{k}" if path else str(k))]
    return [] if a == b else [f"{path}: {a!r} -> {b!r}"]
