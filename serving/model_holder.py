"""The model the service scores with, swapped whole so no request sees half a reload.

A request takes the current `LoadedModel` once and uses it to the end, so requests in
flight finish on the model they started with while a reload installs the next one. A
reload that fails keeps the old model serving and remembers the error for /readyz.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from training.model import ChurnRiskModel

log = logging.getLogger(__name__)

# Loads (model, version) of the champion; `current_version` only asks which version
# the champion alias points at (cheap, for polling).
Loader = Callable[[], tuple[ChurnRiskModel, str]]
VersionProbe = Callable[[], str | None]


@dataclass(frozen=True)
class LoadedModel:
    model: ChurnRiskModel
    version: str
    loaded_at: dt.datetime
    info: dict[str, Any] = field(default_factory=dict)


class ModelHolder:
    def __init__(self, loader: Loader, probe: VersionProbe | None = None) -> None:
        self._loader = loader
        self._probe = probe
        self._current: LoadedModel | None = None
        self._lock = threading.Lock()
        self.last_error: str | None = None
        self.last_attempt: dt.datetime | None = None

    @property
    def current(self) -> LoadedModel | None:
        return self._current

    def reload(self) -> LoadedModel | None:
        """Load the champion and swap it in; on failure keep serving the old model."""
        with self._lock:
            self.last_attempt = dt.datetime.now(dt.UTC)
            try:
                model, version = self._loader()
            except Exception as exc:  # any loader failure must leave the old model serving
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.error("model reload failed, still serving %s: %s",
                          f"v{self._current.version}" if self._current else "no model",
                          self.last_error)
                return self._current
            self._current = LoadedModel(model, version, self.last_attempt)
            self.last_error = None
            log.info("serving model version %s", version)
            return self._current

    def poll(self) -> bool:
        """Reload when the champion alias moved; True if a new version was installed."""
        if self._probe is None:
            return False
        try:
            wanted = self._probe()
        except Exception as exc:  # an unreachable registry must not stop the service
            self.last_error = f"cannot check the champion alias: {exc}"
            log.warning("%s", self.last_error)
            return False
        current = self._current.version if self._current else None
        if wanted is None or wanted == current:
            return False
        log.info("champion alias moved from %s to v%s; reloading", current, wanted)
        loaded = self.reload()
        return loaded is not None and loaded.version == wanted


def registry_loader() -> tuple[Loader, VersionProbe]:
    """Load and probe the champion in the MLflow registry of the active settings."""
    from training.registry import champion_version, load_version
    from training.tracking import mlflow_client

    def load() -> tuple[ChurnRiskModel, str]:
        return load_version(mlflow_client())

    def probe() -> str | None:
        found = champion_version(mlflow_client())
        return str(found.version) if found is not None else None

    return load, probe
