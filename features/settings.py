"""Typed churnlens settings, read from `CHURNLENS_*` environment variables.

Settings are built lazily through `get_settings()` so that importing a module never
reads the environment or touches the disk; tests and the CLI's `--home` option swap
them with `use_settings()` instead of patching the environment.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from features.errors import ConfigError


class Settings(BaseSettings):
    """Where churnlens keeps its state and the knobs shared by every stage."""

    model_config = SettingsConfigDict(env_prefix="CHURNLENS_", extra="forbid")

    home: Path = Field(
        default=Path("workspace"),
        description="Workspace directory holding sources, training sets, MLflow and scores.",
    )
    data: Path | None = Field(
        default=None,
        description="Source-table directory; defaults to <home>/sources.",
    )
    grace_days: int = Field(
        default=30,
        ge=0,
        le=365,
        description="Most days after a term's end within which a new term still counts as "
                    "renewal; a term's own grace is a quarter of its length, at least 7 days.",
    )

    score_store_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the score store; defaults to SQLite at <home>/scores.db "
                    "(postgresql://user:pass@host/db for PostgreSQL).",
    )
    api_keys: SecretStr | None = Field(
        default=None,
        description='API keys with roles, "role:key,role:key" (roles: scorer, viewer, admin).',
    )
    api_keys_file: Path | None = Field(
        default=None,
        description='File of hashed API keys, one "role:sha256-hex" per line '
                    "(`churnlens keys hash` makes the lines).",
    )
    session_secret: SecretStr | None = Field(
        default=None, min_length=32,
        description="Secret that signs CSM page sessions (32+ characters, e.g. from "
                    "`openssl rand -hex 32`); set it so sessions survive restarts. When "
                    "unset, `churnlens serve` draws one per start, shared by its workers.",
    )
    host: str = Field(default="127.0.0.1", description="Address `churnlens serve` listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `churnlens serve` uses.")
    workers: int = Field(default=1, ge=1, le=64, description="uvicorn worker processes.")
    reload_interval: float = Field(
        default=30.0, ge=0,
        description="Seconds between checks of the champion alias (0: only on admin reload).",
    )
    dask_scheduler: str = Field(
        default="none",
        description="Default --cluster of build, score and train: none, local[:N] or "
                    "tcp://HOST:8786 (a Dask scheduler).",
    )
    band_high: float = Field(default=0.30, gt=0, lt=1,
                             description="Calibrated probability from which risk is high.")
    band_medium: float = Field(default=0.15, gt=0, lt=1,
                               description="Calibrated probability from which risk is medium.")

    @model_validator(mode="after")
    def _bands_in_order(self) -> Settings:
        if self.band_medium >= self.band_high:
            raise ValueError(f"band_medium ({self.band_medium}) must be below band_high "
                             f"({self.band_high})")
        return self

    @field_validator("home")
    @classmethod
    def _home_is_not_a_file(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError(f"{value} is a file; the workspace must be a directory")
        return value

    @property
    def sources_dir(self) -> Path:
        """The directory source tables are read from unless a command gets `--data`."""
        return self.data if self.data is not None else self.home / "sources"

    @property
    def training_sets_dir(self) -> Path:
        return self.home / "training_sets"

    @property
    def mlflow_dir(self) -> Path:
        return self.home / "mlflow"

    @property
    def score_store(self) -> str:
        """The score store's SQLAlchemy URL (SQLite in the workspace unless set)."""
        if self.score_store_url:
            return self.score_store_url
        return f"sqlite:///{(self.home / 'scores.db').resolve()}"


_override: Settings | None = None


@lru_cache(maxsize=1)
def _settings_from_environment() -> Settings:
    known = {f"CHURNLENS_{name.upper()}" for name in Settings.model_fields}
    unknown = sorted(k for k in os.environ if k.startswith("CHURNLENS_") and k not in known)
    if unknown:
        raise ConfigError(
            f"Unknown setting(s) {', '.join(unknown)}; churnlens reads "
            f"{', '.join(sorted(known))}. Fix the name or unset the variable."
        )
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"CHURNLENS_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(
            f"Invalid churnlens settings: {problems}. Fix the variable(s) and retry."
        ) from None


def get_settings() -> Settings:
    """The active settings: an explicit override if one is set, else the environment's."""
    return _override if _override is not None else _settings_from_environment()


def use_settings(settings: Settings | None) -> None:
    """Make `settings` the active settings (None returns to the environment's)."""
    global _override
    _override = settings
    _settings_from_environment.cache_clear()


def settings_with(**changes: object) -> Settings:
    """The active settings with some fields replaced, validated like the originals."""
    base = get_settings().model_dump(exclude_unset=False)
    base.update({k: v for k, v in changes.items() if v is not None})
    try:
        return Settings.model_validate(base)
    except ValidationError as exc:
        problems = "; ".join(f"{err['loc'][0]}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"Invalid churnlens settings: {problems}.") from None
