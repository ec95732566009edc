"""Write files whole or not at all: temporary files beside the targets, renamed into place.

A reader (or a crash) never sees half a training set, manifest, key file or export. A
full disk is the usual way a write fails halfway; it becomes a `DiskFullError` that says
so, after the temporary files are removed and every target is left as it was.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from features.errors import DiskFullError

# No space left on the device, or the user's disk quota is used up: the same fix.
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_disk_full(exc: BaseException) -> bool:
    """Whether `exc` is a write refused for want of disk space (pyarrow sets errno too)."""
    return isinstance(exc, OSError) and exc.errno in DISK_FULL


def disk_full_error(directory: Path, what: str, *, untouched: bool = True) -> DiskFullError:
    """The message for a write to `directory` that ran out of space; `untouched` says
    whether the writer kept the files there as they were (the atomic writers do)."""
    outcome = ("the files there are as they were" if untouched else
               "a file being written there may be incomplete")
    return DiskFullError(
        f"The disk holding {directory} is full (no space left on device): {what} was not "
        f"written, and {outcome}. Free some space on that disk, or point churnlens at "
        f"another one (--home, --out), then run the command again.")


def file_stamp(path: Path) -> tuple[int, int, int] | None:
    """(inode, mtime, size) of a file, None when it is missing: what a reader compares to
    see that the file changed. The atomic writers replace a file, so its inode changes
    even when its size and time do not."""
    try:
        found = path.stat()
    except OSError:
        return None
    return (found.st_ino, found.st_mtime_ns, found.st_size)


def atomic_write(target: Path, write: Callable[[Path], object]) -> None:
    """Call `write` on a temporary path in the target's directory, then rename it."""
    atomic_write_all([(target, write)])


def atomic_write_all(files: Sequence[tuple[Path, Callable[[Path], object]]]) -> None:
    """Write every file to a temporary beside its target first, then rename them all.

    Files that belong together (a training set and its manifest) are then never half
    replaced: a write that fails, full disk or not, leaves every target as it was.
    """
    temporaries: list[Path] = []
    try:
        for target, write in files:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                            suffix=".tmp")
            os.close(handle)
            temporaries.append(Path(name))
            write(temporaries[-1])
        for (target, _), temporary in zip(files, temporaries, strict=True):
            os.replace(temporary, target)
    except BaseException as exc:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)
        if is_disk_full(exc):
            names = " and ".join(target.name for target, _ in files)
            raise disk_full_error(files[0][0].parent, names) from exc
        raise


def atomic_write_text(target: Path, text: str, mode: int = 0o644) -> None:
    """`atomic_write` of a text file with the given permissions."""
    def write(path: Path) -> None:
        path.write_text(text, encoding="utf-8")
        path.chmod(mode)

    atomic_write(target, write)
