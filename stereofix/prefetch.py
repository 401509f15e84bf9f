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

Each worker owns a one-way pipe and takes every `jobs`-th file in turn, so results arrive in order
and a worker blocks on its pipe until its last result is read (memory stays bounded). There is no
helper thread: concurrent.futures' pool was tried first, and stopping it on Ctrl-C could hang for
good when a worker was killed halfway through sending a result.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Sequence
from multiprocessing.connection import Connection

from stereofix.inputs import DEFAULT_MODEL_FRAMES, Decoded, prepare
from stereofix.windows import MAX_WINDOWS

MAX_JOBS = 4  # each worker holds one file's windows (a few MB) and its own FFmpeg decoders

log = logging.getLogger("stereofix")


def default_jobs(n_files: int) -> int:
    """Workers worth starting: one per core (at most MAX_JOBS, at most one per file), or 0 where
    forking is not safe here."""
    if not can_fork():
        return 0
    return max(0, min(n_files, os.cpu_count() or 1, MAX_JOBS))


def can_fork() -> bool:
    return sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods() and "torch" not in sys.modules


def _die_with_parent(parent: int) -> None:
    """Have the kernel stop this worker when the parent dies, however it dies (Linux prctl)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # it died before the request was made
        os._exit(0)


def _work(conn: Connection, paths: list[str], model_frames, max_windows: int, parent: int, readers: list[Connection]) -> None:
    """A worker: decode `paths` in order, sending ("ok", outcome) or ("error", exception) for each."""
    # Ctrl-C reaches the whole process group; the parent alone decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)
    # The read ends the fork copied (this worker's own and its elder siblings'): only the parent may
    # hold them, so that a send fails instead of blocking for ever once the parent stops reading.
    for r in readers:
        r.close()
    for path in paths:
        try:
            message = ("ok", prepare(path, model_frames, max_windows=max_windows))
        except Exception as exc:  # noqa: BLE001 - the parent reports it for this file and goes on
            message = ("error", exc)
        try:
            conn.send(message)
        except BrokenPipeError:
            return  # the parent has stopped listening
        except Exception as exc:  # noqa: BLE001 - an exception that cannot be pickled
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    conn.close()


class Prefetcher:
    """Decodes `paths` ahead in `jobs` worker processes; `get(i)` gives file i's decode.

    Ask for the files in order (one asked for out of order drops the results of those its worker
    decoded before it). Entries that are None (standard input, spooled only when its
    turn comes) are not decoded ahead. Use as a context manager: leaving it stops the workers,
    finished or not.
    """

    def __init__(
        self,
        paths: Sequence[str | os.PathLike | None],
        jobs: int,
        *,
        model_frames: tuple[float, int] | None = DEFAULT_MODEL_FRAMES,
        max_windows: int = MAX_WINDOWS,
    ) -> None:
        self.model_frames = model_frames
        self.max_windows = max_windows
        ahead = [i for i, p in enumerate(paths) if p is not None]
        self.jobs = min(jobs, len(ahead)) if can_fork() else 0
        # Worker w decodes files pending[w], in that order; its results arrive in that order.
        self._pending: list[deque[int]] = [deque(ahead[w :: self.jobs]) for w in range(self.jobs)]
        self._owner = {i: k % self.jobs for k, i in enumerate(ahead)} if self.jobs else {}
        self._workers: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
        context = multiprocessing.get_context("fork") if self.jobs else None
        try:
            for w in range(self.jobs):
                mine = [str(paths[i]) for i in self._pending[w]]
                reader, writer = context.Pipe(duplex=False)
                readers = [r for _, r in self._workers] + [reader]
                proc = context.Process(target=_work, args=(writer, mine, model_frames, max_windows, os.getpid(), readers),
                                       daemon=True)
                proc.start()
                writer.close()  # the worker's end: once it exits, reading gives EOF instead of waiting
                self._workers.append((proc, reader))
        except BaseException:  # Ctrl-C while starting them: none may be left behind
            self.close()
            raise

    def __enter__(self) -> "Prefetcher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def get(self, i: int) -> Decoded | None:
        """File i decoded ahead, or None (not decoded ahead, or its worker died: decode it here).

        Raises what `prepare` raised for the file (InputError for a bad file).
        """
        w = self._owner.pop(i, None)
        if w is None or not self._workers:
            return None
        try:
            while True:  # files asked for out of order: the skipped ones' results are dropped
                status, payload = self._workers[w][1].recv()
                if self._pending[w].popleft() == i:
                    break
        except (EOFError, OSError):
            log.debug("a decoding worker died; decoding the remaining files in this process")
            self.close()
            return None
        if status == "error":
            raise payload
        return Decoded(self.model_frames, self.max_windows, payload)

    def close(self) -> None:
        """Stop the workers: those still decoding a file nobody will read are not waited for."""
        workers, self._workers = self._workers, []
        self._pending, self._owner = [], {}
        for proc, reader in workers:
            reader.close()
            if proc.is_alive():
                proc.terminate()
        for proc, _ in workers:
            proc.join(timeout=5)
