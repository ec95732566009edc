"""Shared fixtures: isolated settings, tiny source directories and an in-process CLI runner."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from tiny_sources import DATA_END, tiny_tables, write_tables

from features.settings import Settings, use_settings


@pytest.fixture
def tiny_dir(tmp_path: Path) -> Path:
    return write_tables(tmp_path / "sources", tiny_tables())


@pytest.fixture
def make_sources(tmp_path: Path) -> Callable[..., Path]:
    """Write tiny tables after applying `edit` to them; returns the directory."""
    def _make(edit: Callable[[dict[str, pd.DataFrame]], None] | None = None,
              fmt: str = "csv", data_end: str | None = DATA_END) -> Path:
        tables = tiny_tables()
        if edit is not None:
            edit(tables)
        return write_tables(tmp_path / "sources", tables, fmt, data_end)
    return _make


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Every test gets its own workspace; nothing reads the developer's environment."""
    for name in list(__import__("os").environ):
        if name.startswith("CHURNLENS_"):
            monkeypatch.delenv(name)
    settings = Settings(home=tmp_path / "workspace")
    use_settings(settings)
    yield settings
    use_settings(None)


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
            ) -> Callable[..., CliResult]:
    """Run `churnlens ARGS...` in-process through its real entry point."""
    from serving.cli import main

    def _run(*args: str) -> CliResult:
        monkeypatch.setattr("sys.argv", ["churnlens", *map(str, args)])
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)
    return _run
