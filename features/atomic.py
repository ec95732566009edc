"""Write a file whole or not at all: a temporary file beside the target, renamed into place.

A reader (or a crash) never sees half a training set, manifest, key file or export.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(target: Path, write: Callable[[Path], object]) -> None:
    """Call `write` on a temporary path in the target's directory, then rename it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                         suffix=".tmp")
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_text(target: Path, text: str, mode: int = 0o644) -> None:
    """`atomic_write` of a text file with the given permissions."""
    def write(path: Path) -> None:
        path.write_text(text, encoding="utf-8")
        path.chmod(mode)

    atomic_write(target, write)
