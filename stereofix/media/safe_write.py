"""Crash-safe output files: write to a temporary file beside the target, then rename over it.

The target (an in-place original or an existing output) is never opened for writing: until the
final `os.replace` it is byte-identical, and after it the new file is complete and fsynced. On any
failure, including KeyboardInterrupt and SIGTERM (turned into an exception while a write is under
way), the temporary file is removed. Only SIGKILL or a power cut can leave one behind; its name
(`.NAME.stereofix-PID-XXXX.tmp.EXT`) says what it is.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from stereofix.errors import OutputError

TEMP_MARKER = ".stereofix-"  # part of every temporary file name, so leftovers are easy to find


class TerminatedError(BaseException):
    """SIGTERM arrived while a file was being written (BaseException, like KeyboardInterrupt)."""


@contextlib.contextmanager
def _sigterm_as_exception() -> Iterator[None]:
    """Turn SIGTERM into an exception so cleanup runs; only from the main thread, only over SIG_DFL."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:
        yield
        return

    def _raise(signum, frame):  # noqa: ARG001 - signal handler signature
        raise TerminatedError("terminated by SIGTERM")

    signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def temp_path_for(target: Path) -> Path:
    """A fresh, empty temporary file in the target's directory, with the target's suffix."""
    fd, name = tempfile.mkstemp(
        prefix=f".{target.stem}{TEMP_MARKER}{os.getpid()}-",
        suffix=f".tmp{target.suffix}",
        dir=str(target.parent),
    )
    os.close(fd)
    return Path(name)


def _fsync_path(path: Path) -> None:
    fd = os.open(str(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(str(path), os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # some platforms cannot open directories; the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def os_error_message(exc: OSError, path: Path) -> str:
    """One line for the user, naming the common causes."""
    if exc.errno == errno.ENOSPC:
        return f"disk full while writing {path}"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"permission denied: cannot write {path}"
    return f"cannot write {path}: {exc.strerror or exc}"


@contextlib.contextmanager
def atomic_output(target: Path, *, mode_from: Path | None = None, keep_mtime_from: Path | None = None) -> Iterator[Path]:
    """Yield a temporary path; on clean exit fsync it and rename it over `target`.

    Args:
        target: the final path (may exist; it is replaced only at the very end).
        mode_from: copy this file's permission bits onto the result (the original, for in-place).
        keep_mtime_from: copy this file's access/modification times onto the result.

    Raises:
        OutputError: the directory is not writable, the disk is full, or the rename fails.
    """
    target = Path(target)
    if not target.parent.is_dir():
        raise OutputError(f"output folder does not exist: {target.parent}")
    with _sigterm_as_exception():
        try:
            tmp = temp_path_for(target)
        except OSError as exc:
            raise OutputError(os_error_message(exc, target.parent)) from None
        try:
            yield tmp
            if mode_from is not None:
                os.chmod(tmp, stat.S_IMODE(os.stat(mode_from).st_mode))
            elif not target.exists():
                # mkstemp creates 0600; a new output gets the usual umask-derived mode instead.
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(tmp, 0o666 & ~umask)
            else:
                os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
            if keep_mtime_from is not None:
                st = os.stat(keep_mtime_from)
                os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
            _fsync_path(tmp)
            os.replace(tmp, target)
            _fsync_dir(target.parent)
        except OSError as exc:
            raise OutputError(os_error_message(exc, target)) from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
