"""Training sets on disk: content-addressed Parquet plus a manifest that says what it is.

`training_sets/<name>/<content-hash>.parquet` holds the frame; `<content-hash>.manifest.json`
beside it holds the spec, the sources' fingerprints, row and label counts, the label rate
per month, the key and model features, categorical levels and the catalog version. Both
are written to temporary files and only then renamed, the manifest last, so a reader never
sees half a file: a Parquet file without its manifest is an interrupted write.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from features.atomic import atomic_write_all
from features.errors import SourceNotFoundError
from features.point_in_time.catalog import CATALOG_VERSION, key_features_in
from features.point_in_time.spec import TrainingSetSpec
from features.point_in_time.spine import IDENTITY_COLUMNS
from features.settings import get_settings
from features.sources.loading import Sources

MANIFEST_SUFFIX = ".manifest.json"


def content_hash(frame: pd.DataFrame) -> str:
    """A hash of the values, column names and dtypes: equal frames give equal names."""
    digest = hashlib.sha256()
    digest.update(json.dumps([[c, str(t)] for c, t in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def manifest_path(parquet: Path) -> Path:
    return parquet.with_name(parquet.name.removesuffix(".parquet") + MANIFEST_SUFFIX)


def write_training_set(frame: pd.DataFrame, spec: TrainingSetSpec, sources: Sources, *,
                       workspace: Path | None = None, out: Path | None = None) -> Path:
    """Write the frame and its manifest; returns the Parquet file's path.

    `out` names the file; otherwise it goes to
    `<workspace>/training_sets/<spec.name>/<content-hash>.parquet`, the workspace
    defaulting to the active settings' home.
    """
    digest = content_hash(frame)
    if out is None:
        home = workspace if workspace is not None else get_settings().home
        out = home / "training_sets" / spec.name / f"{digest}.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    manifest = build_manifest(frame, spec, sources, digest)
    # Both written before either is renamed: a full disk leaves the old pair, or none.
    atomic_write_all([
        (out, lambda path: frame.to_parquet(path, index=False)),
        (manifest_path(out),
         lambda path: path.write_text(json.dumps(manifest, indent=2) + "\n")),
    ])
    return out


def read_training_set(path: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The frame and manifest written by `write_training_set`."""
    meta = manifest_path(path)
    if not path.is_file() or not meta.is_file():
        raise SourceNotFoundError(
            f"no complete training set at {path} (the Parquet file and its "
            f"{MANIFEST_SUFFIX} must both exist); build one with `churnlens build`")
    manifest = json.loads(meta.read_text())
    return pd.read_parquet(path), manifest


def build_manifest(frame: pd.DataFrame, spec: TrainingSetSpec, sources: Sources,
                   digest: str) -> dict[str, Any]:
    features = [c for c in frame.columns if c not in IDENTITY_COLUMNS]
    labelled = frame["churned"].notna()
    churned = frame["churned"].fillna(False).astype(bool)
    by_month = pd.DataFrame({"month": frame["as_of"].dt.strftime("%Y-%m"),
                             "labelled": labelled, "churned": churned})
    monthly = by_month.groupby("month", sort=True)[["labelled", "churned"]].sum()
    return {
        "name": spec.name,
        "content_hash": digest,
        "catalog_version": CATALOG_VERSION,
        "created_at": pd.Timestamp.now(tz="UTC").isoformat(),
        "spec": spec.model_dump(mode="json"),
        "sources": {"location": sources.location, "data_end": sources.data_end.isoformat(),
                    "outcomes_known_through": sources.outcomes_known_through.isoformat(),
                    "table_ends": {k: v.date().isoformat()
                                   for k, v in sorted(sources.table_ends.items())},
                    "warnings": list(sources.warnings),
                    "fingerprints": sources.fingerprints()},
        "rows": len(frame),
        "labelled": int(labelled.sum()),
        "churned": int(churned.sum()),
        "unlabelled": int((~labelled).sum()),
        "as_of": sorted({d.date().isoformat() for d in frame["as_of"]}),
        "label_rate_by_month": {
            month: {"labelled": int(row.labelled), "churned": int(row.churned),
                    "rate": row.churned / row.labelled if row.labelled else None}
            for month, row in monthly.iterrows()
        },
        "key_features": key_features_in(features),
        "features": features,
        "dtypes": {c: str(frame[c].dtype) for c in frame.columns},
        "categories": {c: [str(v) for v in frame[c].cat.categories]
                       for c in features if isinstance(frame[c].dtype, pd.CategoricalDtype)},
    }


def latest_training_set(name: str = "default", workspace: Path | None = None) -> Path:
    """The most recently written complete training set of that name."""
    home = workspace if workspace is not None else get_settings().home
    folder = home / "training_sets" / name
    complete = [p for p in folder.glob("*.parquet") if manifest_path(p).is_file()]
    if not complete:
        raise SourceNotFoundError(f"no training set named {name!r} in {folder}; build one "
                                  "with `churnlens build`")
    return max(complete, key=lambda p: manifest_path(p).stat().st_mtime_ns)
