"""Decode files' windows in worker processes while this process loads the model and judges.

Why: on a 2-core machine `check` of one long 1080p file is about 1.5 s of importing torch and
2.5 s of decoding its windows, one after the other. A worker forked before torch is imported
decodes while this process imports it, and over a batch the workers decode the next files while
the model judges this one. Threads would not do: PyAV's decoding and the import both hold the GIL
(measured: no gain).

Workers are forked, and only while this process has not imported torch: a fork of a process whose
libraries have started threads can deadlock in the child. Elsewhere (no fork, torch already loaded,
`jobs` 0) everything is decoded in this process, with the same result: the workers run the very
`inputs.prepare` that `infer.check` would, for the default audio stream and orientation.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from stereofix.inputs import DEFAULT_MODEL_FRAMES, Decoded, prepare
from stereofix.windows import MAX_WINDOWS

MAX_JOBS = 4  # each worker holds one file's windows (a few MB) and its own FFmpeg decoder

log = logging.getLogger("stereofix")


def default_jobs(n_files: int) -> int:
    """Workers worth starting: one per core (at most MAX_JOBS, at most one per file), or 0 where
    forking is not safe here."""
    if not can_fork():
        return 0
    return max(0, min(n_files, os.cpu_count() or 1, MAX_JOBS))


def can_fork() -> bool:
    return sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods() and "torch" not in sys.modules


def _ignore_interrupt() -> None:
    # Ctrl-C reaches the whole process group; the parent alone decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Prefetcher:
    """Decodes `paths` ahead, `jobs` files at a time, in order; `get(i)` gives file i's decode.

    Entries that are None (standard input, spooled only when its turn comes) are not decoded ahead.
    Use as a context manager: leaving it stops the workers, finished or not.
    """

    def __init__(
        self,
        paths: Sequence[str | os.PathLike | None],
        jobs: int,
        *,
        model_frames: tuple[float, int] | None = DEFAULT_MODEL_FRAMES,
        max_windows: int = MAX_WINDOWS,
    ) -> None:
        self.paths = list(paths)
        self.model_frames = model_frames
        self.max_windows = max_windows
        self.jobs = jobs if can_fork() else 0
        self._futures: dict[int, Future] = {}
        self._next = 0
        self._pool: ProcessPoolExecutor | None = None
        if self.jobs > 0 and any(p is not None for p in self.paths):
            self._pool = ProcessPoolExecutor(self.jobs, multiprocessing.get_context("fork"), initializer=_ignore_interrupt)
            # The first submissions fork the workers: now, before the caller imports torch.
            self._fill(0)

    def __enter__(self) -> "Prefetcher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _fill(self, current: int) -> None:
        """Keep `jobs` files beyond `current` in flight (bounded memory: finished ones wait for get)."""
        while self._pool is not None and self._next < len(self.paths) and self._next <= current + self.jobs:
            i, path = self._next, self.paths[self._next]
            self._next += 1
            if path is not None:
                self._futures[i] = self._pool.submit(prepare, path, self.model_frames, max_windows=self.max_windows)

    def get(self, i: int) -> Decoded | None:
        """File i decoded ahead, or None (not decoded ahead, or the worker died: decode it in-process).

        Raises what `prepare` raised for the file (InputError for a bad file).
        """
        self._fill(i)
        future = self._futures.pop(i, None)
        if future is None:
            return None
        try:
            outcome = future.result()
        except BrokenProcessPool:
            log.debug("a decoding worker died; decoding the remaining files in this process")
            self.close()
            return None
        return Decoded(self.model_frames, self.max_windows, outcome)

    def close(self) -> None:
        if self._pool is None:
            return
        pool, self._pool = self._pool, None
        for f in self._futures.values():
            f.cancel()
        self._futures.clear()
        # Workers still decoding a file nobody will read are stopped rather than waited for.
        for proc in list(getattr(pool, "_processes", {}).values()):
            if proc.is_alive():
                proc.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
