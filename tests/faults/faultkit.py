"""Fault injection through the real ``repcam`` command on a tiny embedded world.

Every run here is ``repcam run --config CONFIG --modes Baseline,S-1+F,S-1+A+F --json`` (6 classes,
32 px, 3 + 2 epochs): it makes every kind of artifact (models, B, clustering, maps, results,
decoded splits, the world's images). The reference is one uninterrupted run in a fresh cache;
"identical" means the printed JSON, every result's full-precision IoU table and every model file's
bytes. Processes run through ``harness.py`` (same as ``python -m repcam_core.cli``, plus faults).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from repcam_testing import no_traceback, tiny_config

MODES = "Baseline,S-1+F,S-1+A+F"
HARNESS = Path(__file__).with_name("harness.py")
REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 600


@dataclass
class Run:
    rc: int
    out: str
    err: str
    seconds: float

    @property
    def result(self) -> dict:
        return json.loads(self.out.strip().splitlines()[-1])

    def errors(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("repcam: error:")]


def argv(config: Path, cache: Path, out: Path) -> list[str]:
    return ["run", "--config", str(config), "--cache", str(cache), "--out", str(out), "--modes", MODES, "--json",
            "--quiet"]


def start(args: list[str], faults: list[str] = (), env: dict | None = None, **popen) -> subprocess.Popen:
    """``repcam ARGS`` in a new process through the harness (``faults``: harness options)."""
    # One torch thread: bit-identical results need the same thread count in every run, and two
    # OpenMP threads spin badly on a busy 2-core machine (a cold run took 135 s instead of 9 s).
    env = {**(os.environ if env is None else env), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, str(HARNESS), *faults, "--", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO, env=env, **popen)


def finish(proc: subprocess.Popen, started: float) -> Run:
    out, err = proc.communicate(timeout=TIMEOUT)
    no_traceback(out, err)
    return Run(proc.returncode, out, err, time.monotonic() - started)


def run(args: list[str], faults: list[str] = (), **popen) -> Run:
    started = time.monotonic()
    return finish(start(args, faults, **popen), started)


def results_of(cache: Path) -> dict[str, list]:
    """Each cached result's full-precision per-image counts (evaluation and calibration splits), by mode."""
    from safetensors.numpy import load_file

    out = {}
    for path in (cache / "results").glob("*/result.json"):
        data = json.loads(path.read_text())
        counts = load_file(str(path.with_name("counts.safetensors")))
        out[data["mode"]] = {k: v.tolist() for k, v in sorted(counts.items())}
    return out


def model_crcs(cache: Path) -> list[str]:
    """CRC-32 of every model file (entry names hold the data's mtimes, so they differ between caches)."""
    return sorted(f"{p.parent.parent.name}:{zlib.crc32(p.read_bytes()):08x}"
                  for kind in ("multiclass", "binary") for p in (cache / kind).glob("*/model.safetensors"))


def entry_names(cache: Path) -> list[str]:
    return sorted(p.relative_to(cache).as_posix() for p in cache.glob("*/*") if p.parent.name not in (
        ".locks", ".quarantine"))


@dataclass
class Reference:
    cache: Path
    result: dict
    ious: dict
    models: list[str]
    seconds: float
    writes: list[Path]  # every file the run wrote under its cache, in order (harness --note-writes)

    def check(self, run: Run, cache: Path) -> None:
        """``run`` (on ``cache``) ended with exactly the reference's results and models."""
        assert run.rc == 0, run.err
        assert run.result == self.result
        assert results_of(cache) == self.ious
        assert model_crcs(cache) == self.models


@pytest.fixture(scope="session")
def fault_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("faults") / "config.json"
    path.write_text(json.dumps(tiny_config().to_dict()))
    return path


@pytest.fixture(scope="session")
def reference(fault_config, tmp_path_factory) -> Reference:
    """One uninterrupted run in a fresh cache (its wall time paces the kill moments)."""
    root = tmp_path_factory.mktemp("reference")
    notes = root / "writes.log"
    ref = run(argv(fault_config, root / "cache", root / "out"), note_writes(notes, root / "cache"))
    assert ref.rc == 0, ref.err
    return Reference(root / "cache", ref.result, results_of(root / "cache"), model_crcs(root / "cache"), ref.seconds,
                     [Path(line.split(" ", 1)[1]) for line in notes.read_text().splitlines() if line.startswith("open ")])


def note_writes(log: Path, cache: Path, kill_in: int | None = None) -> list[str]:
    """Harness options: note every file written under ``cache`` in ``log`` (and ``kill -9`` the run
    halfway through the ``kill_in``-th one)."""
    return ["--note-writes", str(log), "--disk-root", str(cache),
            *(["--kill-in-write", str(kill_in)] if kill_in is not None else [])]
