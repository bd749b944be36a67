"""What computed an artifact: the conditions under which its figures repeat bit for bit.

A trained model's bytes (and so every figure computed from it) depend on the code, the seed and
the configuration, which the cache keys hold, and also on things the keys deliberately leave out
so that a cache (or a prebuilt model) stays usable on any machine: the number of torch threads
(the order of float sums in a convolution's backward pass), the CPU type (its vector unit: torch
picks its kernels by the instruction set it finds, e.g. AVX2 or AVX512), and the torch build.
:func:`machine` records those in every manifest, and each results JSON
lists the distinct records of everything its figures were computed from (``computed_on``), so a
cache that mixes models trained with 1 and 2 threads says so. Recorded, never part of a key.
"""

from __future__ import annotations

import functools
import json
import platform
from typing import Any, Iterable, Mapping


def machine() -> dict[str, Any]:
    """``{"cpu": model, "isa": the instruction set torch's CPU kernels use, "torch": version,
    "cuda": CUDA version of the build (None: a CPU-only build), "threads": torch's intra-op
    threads}`` of this process, now (imports torch)."""
    import torch

    return {"cpu": cpu_model(), "isa": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
            "cuda": torch.version.cuda, "threads": torch.get_num_threads()}


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name with its family, model and stepping (Linux: ``/proc/cpuinfo``; a
    virtual machine may show only "AMD EPYC", which the numbers tell apart), else what the
    platform reports."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    break  # the first processor is enough
                key, _, value = line.partition(":")
                fields.setdefault(key.strip().lower(), value.strip())
    except OSError:
        pass
    name = fields.get("model name") or fields.get("hardware") or fields.get("cpu model")
    if not name:
        return platform.processor() or platform.machine() or "unknown"
    numbers = [f"{k} {fields[k]}" for k in ("cpu family", "model", "stepping") if fields.get(k)]
    return f"{name} ({', '.join(numbers)})" if numbers else name


def merge(records: Iterable[Mapping[str, Any] | None]) -> list[dict[str, Any]]:
    """The distinct records among ``records`` (None: not recorded, left out), in a stable order."""
    seen = {json.dumps(dict(r), sort_keys=True): dict(r) for r in records if r}
    return [seen[k] for k in sorted(seen)]
