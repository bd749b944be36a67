"""Progress reporting without a UI dependency: the CLI plugs in tqdm, the app a Streamlit bar."""

from __future__ import annotations

import contextlib
import time
from typing import Callable, ContextManager, Iterator, Protocol


class Progress(Protocol):
    """``with progress.task("training pairs", total=190) as step: step(1)``."""

    def task(self, description: str, total: int) -> ContextManager[Callable[[int], None]]: ...


class NullProgress:
    """Reports nothing."""

    @contextlib.contextmanager
    def task(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        yield lambda n=1: None


class TqdmProgress:
    """A tqdm bar per task, on stderr."""

    def __init__(self, disable: bool = False) -> None:
        self.disable = disable

    @contextlib.contextmanager
    def task(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        from tqdm import tqdm

        with tqdm(total=total, desc=description, disable=self.disable, leave=True, dynamic_ncols=True) as bar:
            yield bar.update


class CallbackProgress:
    """Calls ``fn(description, done, total, elapsed_s)`` after every step (used by the app)."""

    def __init__(self, fn: Callable[[str, int, int, float], None]) -> None:
        self.fn = fn

    @contextlib.contextmanager
    def task(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        state = {"done": 0}
        start = time.monotonic()
        self.fn(description, 0, total, 0.0)

        def step(n: int = 1) -> None:
            state["done"] += n
            self.fn(description, state["done"], total, time.monotonic() - start)

        yield step
