"""Settings: environment overrides, lazy construction and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.errors import ConfigError
from features.settings import Settings, get_settings, settings_with, use_settings


def test_environment_sets_the_workspace(monkeypatch, tmp_path):
    use_settings(None)
    monkeypatch.setenv("CHURNLENS_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("CHURNLENS_GRACE_DAYS", "45")
    settings = get_settings()
    assert settings.home == tmp_path / "ws"
    assert settings.grace_days == 45
    assert settings.sources_dir == tmp_path / "ws" / "sources"


def test_data_overrides_the_sources_directory(tmp_path):
    settings = Settings(home=tmp_path, data=tmp_path / "crm")
    assert settings.sources_dir == tmp_path / "crm"


def test_bad_environment_value_names_the_variable(monkeypatch):
    use_settings(None)
    monkeypatch.setenv("CHURNLENS_GRACE_DAYS", "forever")
    with pytest.raises(ConfigError, match="CHURNLENS_GRACE_DAYS"):
        get_settings()


def test_unknown_variable_is_rejected(monkeypatch):
    use_settings(None)
    monkeypatch.setenv("CHURNLENS_GRACEDAYS", "10")
    with pytest.raises(ConfigError, match="CHURNLENS_GRACEDAYS"):
        get_settings()


def test_home_that_is_a_file_is_rejected(tmp_path):
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        settings_with(home=file)


def test_building_settings_creates_nothing(tmp_path):
    Settings(home=tmp_path / "not-yet")
    assert not (tmp_path / "not-yet").exists()
    assert isinstance(get_settings().home, Path)


def test_a_short_session_secret_is_rejected_without_echoing_it(monkeypatch):
    use_settings(None)
    monkeypatch.setenv("CHURNLENS_SESSION_SECRET", "hunter2")
    with pytest.raises(ConfigError, match="CHURNLENS_SESSION_SECRET") as caught:
        get_settings()
    assert "hunter2" not in str(caught.value)
