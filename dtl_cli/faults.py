"""What a run leaves when it ends, however it ends: `status.txt` in its run folder (`done`,
`failed: <line>` or `interrupted`), one line on stderr, and the exit status (2 for a user
error, 130 for Ctrl-C, 143 for SIGTERM).

SIGTERM is raised as an exception (`Interrupted`) like Ctrl-C's KeyboardInterrupt, so the
store's clean-up of half-built entries runs either way. Where another handler owns SIGTERM
(submitit ignores it and pre-empts with USR2, then exits), that handler is left alone and the
run's record is still written on the way out.
"""

from __future__ import annotations

import errno
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from dtl_cli.errors import DtlError

INTERRUPTED = "interrupted; nothing half-written was kept"
# Errors of the machine, not of dtl: the message names the path and the fix instead.
_DISK_ERRORS = {
    errno.ENOSPC: "no space left on the device: free some space or point {fix} at a larger disk",
    errno.EDQUOT: "disk quota exceeded: free some space or point {fix} at another disk",
    errno.EFBIG: "file-size limit reached: raise it (ulimit -f) or point {fix} elsewhere",
    errno.EACCES: "permission denied: make it writable or point {fix} elsewhere",
    errno.EPERM: "permission denied: make it writable or point {fix} elsewhere",
    errno.EROFS: "read-only file system: point {fix} at a writable folder",
}


class Interrupted(BaseException):
    """A termination signal, raised where the program was (not an error: like Ctrl-C)."""

    def __init__(self, signum: int):
        super().__init__(f"signal {signum}")
        self.signum = signum


def exit_status(err: BaseException) -> int:
    """The shell's status for a run stopped by `err`: 128 + the signal number."""
    return 128 + (err.signum if isinstance(err, Interrupted) else signal.SIGINT)


@contextmanager
def signals_as_exceptions() -> Iterator[None]:
    """Within: SIGTERM raises Interrupted in the main thread, unless something other than the
    default handler already owns SIGTERM (a launcher such as submitit)."""
    in_main = threading.current_thread() is threading.main_thread()
    if not in_main or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def raise_interrupted(signum, frame):
        raise Interrupted(signum)

    signal.signal(signal.SIGTERM, raise_interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def disk_error(err: OSError, fix: str, where: str) -> DtlError | None:
    """A one-line DtlError for a full disk, a size limit or a permission problem (None for
    other OS errors); `fix` names what to point elsewhere (e.g. "DTL_STORE"), `where` the
    folder written when the error does not name its file."""
    template = _DISK_ERRORS.get(err.errno)
    if template is None:
        return None
    target = err.filename or f"in {where}"
    return DtlError(f"cannot write {target}: {template.format(fix=fix)}")


@contextmanager
def recorded(run_dir: Path, where: str, fix: str = "DTL_STORE or DTL_OUTPUT") -> Iterator[None]:
    """Write `status.txt` in `run_dir` for however the block ends, then let it end so.

    A disk error (see `disk_error`) becomes a DtlError; every other exception is re-raised
    as it was, after the record.
    """
    try:
        yield
    except DtlError as err:
        _write_status(run_dir, f"failed: {err}")
        raise
    except OSError as err:
        user = disk_error(err, fix, where)
        _write_status(run_dir, f"failed: {user or _one_line(err)}")
        if user is None:
            raise
        raise user from None
    except (KeyboardInterrupt, Interrupted, SystemExit):
        _write_status(run_dir, "interrupted")
        raise
    except BaseException as err:  # a bug in dtl or a library: record it, keep the traceback
        _write_status(run_dir, f"failed: {_one_line(err)}")
        raise
    _write_status(run_dir, "done")


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _write_status(run_dir: Path, text: str) -> None:
    # The record must never hide what happened, so a full disk here is let pass.
    with suppress(OSError):
        (run_dir / "status.txt").write_text(text + "\n", encoding="utf-8")
