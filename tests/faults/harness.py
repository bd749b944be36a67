"""Run ``repcam`` with faults injected: ``python harness.py [OPTIONS] -- REPCAM ARGS...``.

``--count-fits LOG``: append one line to LOG per model training (``Pipeline``'s calls of ``fit``).
``--disk-bytes N --disk-root DIR``: a disk that fills up: every write under DIR goes through a
meter, and once N bytes have been written, writes fail with ``OSError(ENOSPC)`` (the bytes that
still fit are written first, as on a real full disk). Python-level writes only, which is where
RepCAM writes (safetensors files go through Python, see ``integrity.save_tensors``).
``--note-writes LOG --disk-root DIR``: append ``open PATH`` to LOG when a file under DIR is opened
for writing and ``close PATH`` when it is closed (lock files left out), so LOG shows which writes
were in progress at any moment. ``--kill-in-write N`` (with ``--note-writes``): in the N-th such
file (1-based), at its first write, write half of the bytes, note ``kill PATH BYTES`` and
``kill -9`` this process: a kill that certainly interrupts a write in progress.
"""

from __future__ import annotations

import argparse
import builtins
import errno
import io
import os
import signal
import sys
from pathlib import Path
from typing import Callable


class Tree:
    """The files under one directory (the cache)."""

    def __init__(self, root: Path) -> None:
        self.root = os.path.realpath(root)

    def covers(self, path: str) -> bool:
        return os.path.realpath(path).startswith(self.root + os.sep)


class FullDisk(Tree):
    """Byte budget shared by every metered file of this process."""

    def __init__(self, budget: int, root: Path) -> None:
        super().__init__(root)
        self.left = budget


class WrappedFile:
    """A file object whose ``write`` a subclass intercepts; everything else goes to the file."""

    def __init__(self, fh) -> None:
        self._fh = fh

    def __getattr__(self, name):
        return getattr(self._fh, name)

    def __iter__(self):
        return iter(self._fh)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._fh.__exit__(*exc)


class MeteredFile(WrappedFile):
    def __init__(self, fh, disk: FullDisk) -> None:
        super().__init__(fh)
        self._disk = disk

    def write(self, data):
        n = len(data)
        if n > self._disk.left:
            fit, self._disk.left = self._disk.left, 0
            if fit:
                self._fh.write(data[:fit])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._disk.left -= n
        return self._fh.write(data)


class WriteNotes:
    """The log of files opened for writing (``open PATH`` ... ``close PATH``), and the kill."""

    def __init__(self, log: str, kill_in: int | None) -> None:
        self.fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        self.opened, self.kill_in = 0, kill_in

    def note(self, line: str) -> None:
        os.write(self.fd, (line + "\n").encode())


class NotedFile(WrappedFile):
    def __init__(self, fh, path: str, notes: WriteNotes) -> None:
        super().__init__(fh)
        self._path, self._notes, self._closed = path, notes, False
        notes.opened += 1
        self._kill = notes.kill_in == notes.opened
        notes.note(f"open {path}")

    def write(self, data):
        if self._kill and len(data):
            half = len(data) // 2
            self._fh.write(data[:half])
            self._fh.flush()  # the half is in the file (the kernel keeps it past the kill)
            self._notes.note(f"kill {self._path} {half}")
            os.kill(os.getpid(), signal.SIGKILL)
        return self._fh.write(data)

    def close(self):
        self._noted_close()
        return self._fh.close()

    def __exit__(self, *exc):
        self._noted_close()
        return self._fh.__exit__(*exc)

    def _noted_close(self) -> None:
        if self._kill:  # opened and closed without a write: kill it before it is complete
            self._notes.note(f"kill {self._path} 0")
            os.kill(os.getpid(), signal.SIGKILL)
        if not self._closed:
            self._closed = True
            self._notes.note(f"close {self._path}")


def wrap_writes(covers: Callable[[str], bool], wrap: Callable) -> None:
    """Files opened for writing at a path ``covers`` accepts are returned as ``wrap(fh, path)``
    (``open``, ``io.open``, ``os.fdopen``: Python-level writes, where RepCAM writes)."""
    real_open, real_fdopen = io.open, os.fdopen

    def writing(mode: str) -> bool:
        return any(c in mode for c in "wax+")

    def wrapped_open(file, mode="r", *args, **kwargs):
        fh = real_open(file, mode, *args, **kwargs)
        if isinstance(file, (str, bytes, os.PathLike)) and writing(mode) and covers(os.fsdecode(file)):
            return wrap(fh, os.fsdecode(file))
        return fh

    def wrapped_fdopen(fd, mode="r", *args, **kwargs):
        fh = real_fdopen(fd, mode, *args, **kwargs)
        path = os.readlink(f"/proc/self/fd/{fd}")
        if writing(mode) and covers(path):
            return wrap(fh, path)
        return fh

    io.open = builtins.open = wrapped_open
    os.fdopen = wrapped_fdopen


def install_full_disk(disk: FullDisk) -> None:
    wrap_writes(disk.covers, lambda fh, path: MeteredFile(fh, disk))


def install_write_notes(tree: Tree, notes: WriteNotes) -> None:
    def covers(path: str) -> bool:  # lock files are held open, not written
        return tree.covers(path) and f"{os.sep}.locks{os.sep}" not in path

    wrap_writes(covers, lambda fh, path: NotedFile(fh, path, notes))


def install_fit_counter(log: str) -> None:
    import repcam_core.running.pipeline as pipeline

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
    parser.add_argument("--note-writes", default=None)
    parser.add_argument("--kill-in-write", type=int, default=None)
    argv = sys.argv[1:]
    cut = argv.index("--")
    opts = parser.parse_args(argv[:cut])
    if opts.count_fits:
        install_fit_counter(opts.count_fits)
    if opts.disk_bytes is not None:
        install_full_disk(FullDisk(opts.disk_bytes, Path(opts.disk_root)))
    if opts.note_writes:
        install_write_notes(Tree(Path(opts.disk_root)), WriteNotes(opts.note_writes, opts.kill_in_write))
    from repcam_core.cli import main as repcam

    return repcam(argv[cut + 1:])


if __name__ == "__main__":
    sys.exit(main())
