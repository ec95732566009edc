"""The training set of exactly these sources and this spec: reused when on disk, else built.

Exploration wants the labelled snapshots of the data it is looking at, not whatever
training set happens to be newest in the workspace (it may come from other sources or an
older feature catalog). A written training set's manifest records the spec, the sources'
per-table fingerprints, their data end and the catalog version, so a file is reused only
when all four match; otherwise a fresh one is built and written beside the others.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from features.point_in_time.artifacts import manifest_path, read_training_set, write_training_set
from features.point_in_time.catalog import CATALOG_VERSION
from features.point_in_time.spec import TrainingSetSpec
from features.point_in_time.training_set import build_training_set
from features.settings import get_settings
from features.sources.loading import Sources

log = logging.getLogger(__name__)


def matching_training_set(sources: Sources, spec: TrainingSetSpec,
                          workspace: Path | None = None) -> Path | None:
    """The newest complete training set built from these sources with this spec, if any."""
    home = workspace if workspace is not None else get_settings().home
    folder = home / "training_sets" / spec.name
    wanted = {
        "spec": spec.model_dump(mode="json"),
        "catalog_version": CATALOG_VERSION,
        "data_end": sources.data_end.isoformat(),
        "fingerprints": sources.fingerprints(),
    }
    candidates = [p for p in folder.glob("*.parquet") if manifest_path(p).is_file()]
    for path in sorted(candidates, key=lambda p: manifest_path(p).stat().st_mtime_ns,
                       reverse=True):
        manifest = json.loads(manifest_path(path).read_text())
        found = {
            "spec": manifest.get("spec"),
            "catalog_version": manifest.get("catalog_version"),
            "data_end": manifest.get("sources", {}).get("data_end"),
            "fingerprints": manifest.get("sources", {}).get("fingerprints"),
        }
        if found == wanted:
            return path
    return None


def current_training_set(sources: Sources, spec: TrainingSetSpec | None = None,
                         workspace: Path | None = None
                         ) -> tuple[pd.DataFrame, dict[str, Any], Path]:
    """(frame, manifest, path) of the training set of `sources` and `spec` (default spec:
    monthly, the settings' grace days), read from the workspace or built and written."""
    spec = spec or TrainingSetSpec(grace_days=get_settings().grace_days)
    path = matching_training_set(sources, spec, workspace)
    if path is None:
        log.info("no training set of these sources with spec %r yet: building one",
                 spec.name)
        path = write_training_set(build_training_set(sources, spec), spec, sources,
                                  workspace=workspace)
    else:
        log.info("reusing the training set %s (same sources, spec and catalog)", path)
    frame, manifest = read_training_set(path)
    return frame, manifest, path
