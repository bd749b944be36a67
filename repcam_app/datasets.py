"""The datasets a browser may open when the app listens beyond localhost, and messages without
server paths.

The operator names datasets as ``[NAME=]SPEC`` entries (``$REPCAM_DATA_ROOTS``, comma-separated,
or the ``data_roots`` key of the app's configuration file: a list of specs or ``{name: spec}``);
SPEC is what ``--dataset`` takes (a VOC-layout directory, ``voc:DIR``, ``coco:DIR``, ``pets:DIR``). The browser
sees NAME (default: the directory's last component), never the path. A choice is checked by exact
equality with an entry's SPEC, so no spelling of a path (``../``, symlinks, ``~``) gets past it.

:func:`redact` replaces every absolute path outside the listed directories in a message shown in
the browser with ``<server path>``; paths inside them (a skipped image of a listed dataset) stay.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from repcam_core.data.sources import EMBEDDED, parse_dataset_spec
from repcam_core.errors import ConfigError, DatasetError

EMBEDDED_LABEL = "embedded (generated world)"
HIDDEN = "<server path>"
# an absolute (or ~) path not glued to a word, another path or a fraction ("3/15" stays)
_PATH = re.compile(r"(?<![\w./~-])(~?/[^\s'\"`,;()\[\]{}<>]+)")


@dataclass(frozen=True)
class DatasetChoice:
    """One entry of the select box: what the browser shows and the dataset spec behind it."""

    label: str
    spec: str


def parse_entry(entry: str) -> DatasetChoice:
    """``"NAME=SPEC"`` or ``"SPEC"`` -> a choice (NAME defaults to the directory's last component)."""
    name, sep, spec = entry.partition("=")
    if not sep or "/" in name or ":" in name:
        name, spec = "", entry
    name, spec = name.strip(), spec.strip()
    kind, path = parse_dataset_spec(spec)  # DatasetError for an empty spec
    if kind == EMBEDDED:
        return DatasetChoice(name or EMBEDDED_LABEL, EMBEDDED)
    label = name or Path(path.rstrip("/")).name or path
    kind_label = {"coco": " (COCO)", "pets": " (Oxford-IIIT Pet)"}.get(kind, "") if not name else ""
    return DatasetChoice(label + kind_label, spec)


def entries_from_file(value: object) -> list[str]:
    """The ``data_roots`` value of the app's configuration file -> ``[NAME=]SPEC`` entries."""
    if isinstance(value, Mapping):
        return [f"{name}={spec}" for name, spec in value.items()]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigError("'data_roots' must be a list of dataset specs or an object {name: spec}")


def dataset_choices(base_dataset: str, entries: Iterable[str]) -> list[DatasetChoice]:
    """The embedded world, the base configuration's dataset, then the operator's entries; one
    choice per spec, labels made unique."""
    out: list[DatasetChoice] = []
    for choice in [DatasetChoice(EMBEDDED_LABEL, EMBEDDED), parse_entry(base_dataset), *map(parse_entry, entries)]:
        if any(c.spec == choice.spec for c in out):
            continue
        label, n = choice.label, 2
        while any(c.label == label for c in out):
            label, n = f"{choice.label} ({n})", n + 1
        out.append(DatasetChoice(label, choice.spec))
    return out


def check_allowed(spec: str, choices: Sequence[DatasetChoice]) -> None:
    """Raise DatasetError (naming the allowed datasets, never ``spec``) unless ``spec`` is listed."""
    if not any(c.spec == spec for c in choices):
        raise DatasetError("this dataset is not on this server's list; choose one of: "
                           + ", ".join(c.label for c in choices))


def label_of(spec: str, choices: Sequence[DatasetChoice]) -> str:
    return next((c.label for c in choices if c.spec == spec), "(not on the list)")


def allowed_dirs(choices: Iterable[DatasetChoice]) -> list[str]:
    """The listed datasets' directories, as written (absolute) and with symlinks resolved."""
    dirs: set[str] = set()
    for c in choices:
        kind, path = parse_dataset_spec(c.spec)
        if kind != EMBEDDED:
            p = Path(path).expanduser()
            dirs |= {os.path.normpath(os.path.abspath(p)), os.path.realpath(p)}
    return sorted(dirs)


def _inside(path: str, dirs: Sequence[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in dirs)


def redact(text: str, dirs: Sequence[str]) -> str:
    """``text`` with every absolute path outside ``dirs`` replaced by ``<server path>``."""

    def one(m: re.Match[str]) -> str:
        raw = m.group(1)
        core = raw.rstrip(".:")
        path = os.path.normpath(os.path.expanduser(core))
        return raw if _inside(path, dirs) else HIDDEN + raw[len(core):]

    return _PATH.sub(one, text)
