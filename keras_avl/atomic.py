"""Atomic file writes: a file is either absent or complete, never half-written."""

import contextlib
import errno
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path`; renames it onto `path` on success.

    On an exception the temporary file is removed and `path` is untouched.

    Example:

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    tmp = Path(tmp)
    tmp.chmod(0o666 & ~_umask())  # mkstemp's 0600 would make results owner-only
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path, text):
    """Writes `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


@contextlib.contextmanager
def disk_full_is_clear(writing, state):
    """A full disk inside the block: an `OSError(ENOSPC)` that says what was
    being written (`writing`) and what is left and how to go on (`state`);
    other errors pass unchanged.

    Example:

    >>> import errno
    >>> try:
    ...     with disk_full_is_clear("x.md", "x.md is untouched"):
    ...         raise OSError(errno.ENOSPC, "full")
    ... except OSError as error:
    ...     print(error.strerror)
    No space left on device while writing x.md ([Errno 28] full); x.md is untouched
    """
    try:
        yield
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        raise OSError(errno.ENOSPC, f"No space left on device while writing {writing} "
                                    f"({error}); {state}") from error

