"""Run ``repcam`` with faults injected: ``python harness.py [OPTIONS] -- REPCAM ARGS...``.

``--count-fits LOG``: append one line to LOG per model training (``Pipeline``'s calls of ``fit``).
``--disk-bytes N --disk-root DIR``: a disk that fills up: every write under DIR goes through a
meter, and once N bytes have been written, writes fail with ``OSError(ENOSPC)`` (the bytes that
still fit are written first, as on a real full disk). Python-level writes only, which is where
RepCAM writes (safetensors files go through Python, see ``integrity.save_tensors``).
"""

from __future__ import annotations

import argparse
import builtins
import errno
import io
import os
import sys
from pathlib import Path


class FullDisk:
    """Byte budget shared by every metered file of this process."""

    def __init__(self, budget: int, root: Path) -> None:
        self.left, self.root = budget, os.path.realpath(root)

    def covers(self, path: str) -> bool:
        return os.path.realpath(path).startswith(self.root + os.sep)


class MeteredFile:
    def __init__(self, fh, disk: FullDisk) -> None:
        self._fh, self._disk = fh, disk

    def write(self, data):
        n = len(data)
        if n > self._disk.left:
            fit, self._disk.left = self._disk.left, 0
            if fit:
                self._fh.write(data[:fit])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._disk.left -= n
        return self._fh.write(data)

    def __getattr__(self, name):
        return getattr(self._fh, name)

    def __iter__(self):
        return iter(self._fh)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._fh.__exit__(*exc)


def install_full_disk(disk: FullDisk) -> None:
    real_open, real_fdopen = io.open, os.fdopen

    def writing(mode: str) -> bool:
        return any(c in mode for c in "wax+")

    def metered_open(file, mode="r", *args, **kwargs):
        fh = real_open(file, mode, *args, **kwargs)
        if isinstance(file, (str, bytes, os.PathLike)) and writing(mode) and disk.covers(os.fsdecode(file)):
            return MeteredFile(fh, disk)
        return fh

    def metered_fdopen(fd, mode="r", *args, **kwargs):
        fh = real_fdopen(fd, mode, *args, **kwargs)
        if writing(mode) and disk.covers(os.readlink(f"/proc/self/fd/{fd}")):
            return MeteredFile(fh, disk)
        return fh

    io.open = builtins.open = metered_open
    os.fdopen = metered_fdopen


def install_fit_counter(log: str) -> None:
    import repcam_core.pipeline as pipeline

    real_fit = pipeline.fit

    def counted_fit(*args, **kwargs):
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, f"{os.getpid()} fit\n".encode())
        os.close(fd)
        return real_fit(*args, **kwargs)

    pipeline.fit = counted_fit


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count-fits", default=None)
    parser.add_argument("--disk-bytes", type=int, default=None)
    parser.add_argument("--disk-root", default=None)
    argv = sys.argv[1:]
    cut = argv.index("--")
    opts = parser.parse_args(argv[:cut])
    if opts.count_fits:
        install_fit_counter(opts.count_fits)
    if opts.disk_bytes is not None:
        install_full_disk(FullDisk(opts.disk_bytes, Path(opts.disk_root)))
    from repcam_core.cli import main as repcam

    return repcam(argv[cut + 1:])


if __name__ == "__main__":
    sys.exit(main())
