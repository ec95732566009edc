"""A full disk while writing: a one-line error saying so, and nothing half-written.

A disk cannot be filled portably in a test (mounting a small tmpfs needs privileges CI
may not have), so the disk fills at the boundary the writers use: the Parquet or text
write writes part of its bytes, as a real write does before the device runs out, then
raises the OSError (errno ENOSPC) the operating system and pyarrow raise. The tests then
check what a user would find: the old files byte for byte, no temporary file, one line.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pandas as pd
import pytest

from features.atomic import atomic_write_text
from features.errors import DiskFullError

ORIGINAL_TO_PARQUET = pd.DataFrame.to_parquet
ORIGINAL_WRITE_TEXT = Path.write_text


def _no_space(path: object) -> OSError:
    return OSError(errno.ENOSPC, "No space left on device", str(path))


def _parquet_on_a_full_disk(frame: pd.DataFrame, path: object, *args: object,
                            **kwargs: object) -> None:
    """Write the first half of the Parquet bytes, then run out of space."""
    ORIGINAL_TO_PARQUET(frame, path, *args, **kwargs)
    written = Path(str(path)).read_bytes()
    Path(str(path)).write_bytes(written[:len(written) // 2])
    raise _no_space(path)


def _text_on_a_full_disk(self: Path, data: str, *args: object, **kwargs: object) -> int:
    ORIGINAL_WRITE_TEXT(self, data[:len(data) // 2], *args, **kwargs)
    raise _no_space(self)


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def _the_error_line(err: str) -> str:
    """The command's one error line, the last thing it printed (log lines come before)."""
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], err
    return errors[0]


def test_a_text_file_on_a_full_disk_keeps_its_old_content(tmp_path, monkeypatch):
    target = tmp_path / "keys" / "api-keys.txt"
    atomic_write_text(target, "old line\n")
    monkeypatch.setattr(Path, "write_text", _text_on_a_full_disk)
    with pytest.raises(DiskFullError) as raised:
        atomic_write_text(target, "new line\n" * 100)
    assert "is full (no space left on device)" in raised.value.message
    assert "api-keys.txt was not written" in raised.value.message
    assert f"disk holding {target.parent}" in raised.value.message
    monkeypatch.undo()
    assert _files(target.parent) == {"api-keys.txt": b"old line\n"}  # no temporary file


def test_a_new_text_file_on_a_full_disk_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(Path, "write_text", _text_on_a_full_disk)
    with pytest.raises(DiskFullError):
        atomic_write_text(tmp_path / "export.csv", "a,b\n1,2\n")
    monkeypatch.undo()
    assert _files(tmp_path) == {}


@pytest.mark.parametrize("fails", ["parquet", "manifest"])
def test_build_on_a_full_disk_is_one_line_and_keeps_the_old_training_set(
        fails, run_cli, tiny_dir, tmp_path, monkeypatch):
    out = tmp_path / "sets" / "train.parquet"
    built = run_cli("build", "--data", tiny_dir, "--out", out)
    assert built.code == 0, built.err
    before = _files(out.parent)
    assert set(before) == {"train.parquet", "train.manifest.json"}

    # Another training set (weekly snapshots) to the same file, on a full disk: whether
    # the Parquet file or its manifest hits it, the old pair stays as it was.
    if fails == "parquet":
        monkeypatch.setattr(pd.DataFrame, "to_parquet", _parquet_on_a_full_disk)
    else:
        monkeypatch.setattr(Path, "write_text", _text_on_a_full_disk)
    again = run_cli("build", "--data", tiny_dir, "--out", out, "--freq", "weekly")
    monkeypatch.undo()
    assert again.code != 0
    assert "Traceback" not in again.err + again.out
    error = _the_error_line(again.err)
    assert error.startswith(f"error: The disk holding {out.parent} is full"), error
    assert "train.parquet and train.manifest.json was not written" in error
    assert _files(out.parent) == before


def test_a_full_disk_outside_the_atomic_writers_is_still_one_line(run_cli, tmp_path,
                                                                 monkeypatch):
    """The simulator writes its dataset.json directly; the CLI still says the disk is full."""
    monkeypatch.setattr(Path, "write_text", _text_on_a_full_disk)
    made = run_cli("simulate", "--accounts", "20", "--start", "2024-01-01", "--end",
                   "2024-06-30", "--out", tmp_path / "demo")
    assert made.code != 0
    assert "Traceback" not in made.err + made.out
    error = _the_error_line(made.err)
    assert error.startswith("error: The disk holding"), error
    assert "No space left on device" in error
