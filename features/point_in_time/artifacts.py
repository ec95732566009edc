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
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from features.atomic import atomic_write_all
from features.errors import SourceNotFoundError
from features.point_in_time.catalog import CATALOG_VERSION, key_features_in
from features.point_in_time.spec import TrainingSetSpec
from features.point_in_time.spine import IDENTITY_COLUMNS
from features.settings import get_settings
from features.sources.loading import Sources
from features.sources.readers import to_arrow

MANIFEST_SUFFIX = ".manifest.json"


def content_hash(frame: pd.DataFrame) -> str:
    """A hash of the values, column names and dtypes: equal frames give equal names."""
    digest = hashlib.sha256()
    digest.update(_dtypes_json(frame))
    digest.update(_row_hashes(frame))
    return digest.hexdigest()[:16]


def _dtypes_json(frame: pd.DataFrame) -> bytes:
    return json.dumps([[c, str(t)] for c, t in frame.dtypes.items()]).encode()


def _row_hashes(frame: pd.DataFrame) -> bytes:
    """Each row's hash, from its values alone (categories by value), so the rows' hashes
    in pieces are those of the rows whole."""
    return pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()


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
    out = out if out is not None else training_set_folder(spec, workspace) / f"{digest}.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    manifest = build_manifest(frame[["as_of", "churned"]], frame.iloc[:0], spec, sources,
                              digest)
    _write_pair(out, lambda path: frame.to_parquet(path, index=False), manifest)
    return out


def write_training_set_pieces(pieces: Iterable[pd.DataFrame], spec: TrainingSetSpec,
                              sources: Sources, *, workspace: Path | None = None,
                              out: Path | None = None) -> Path:
    """`write_training_set` of the pieces joined, given in row order, holding one at a
    time: the same file contents, name and manifest. Every piece has the same columns,
    dtypes and categories; each is written, hashed and counted as it passes."""
    folder = out.parent if out is not None else training_set_folder(spec, workspace)
    folder.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=folder, prefix=".pieces.", suffix=".tmp")
    os.close(handle)
    staged, writer = Path(name), None
    hashed = hashlib.sha256()
    counts, shape = [], None
    try:
        for piece in pieces:
            if writer is None:
                shape = piece.iloc[:0]
                hashed.update(_dtypes_json(piece))
                table = to_arrow(piece)
                schema = table.schema
                writer = pq.ParquetWriter(staged, schema)
            else:
                table = to_arrow(piece, schema)
            hashed.update(_row_hashes(piece))
            writer.write_table(table)
            counts.append(piece[["as_of", "churned"]])
        if writer is None or shape is None:
            raise ValueError("a training set needs at least one piece of rows")
        writer.close()
        digest = hashed.hexdigest()[:16]
        out = out if out is not None else folder / f"{digest}.parquet"
        manifest = build_manifest(pd.concat(counts, ignore_index=True), shape, spec, sources,
                                  digest)
        _write_pair(out, lambda path: os.replace(staged, path), manifest)
        return out
    finally:
        if writer is not None:
            writer.close()
        staged.unlink(missing_ok=True)


def _write_pair(out: Path, write: Callable[[Path], object], manifest: dict[str, Any]) -> None:
    """The training set (`write` puts it at the path given) and its manifest, both written
    before either is renamed: a full disk leaves the old pair, or none."""
    atomic_write_all([
        (out, write),
        (manifest_path(out),
         lambda path: path.write_text(json.dumps(manifest, indent=2) + "\n")),
    ])


def training_set_folder(spec: TrainingSetSpec, workspace: Path | None = None) -> Path:
    """Where training sets of `spec`'s name live: `<workspace>/training_sets/<name>`."""
    home = workspace if workspace is not None else get_settings().home
    return home / "training_sets" / spec.name


def read_training_set(path: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The frame and manifest written by `write_training_set`."""
    meta = manifest_path(path)
    if not path.is_file() or not meta.is_file():
        raise SourceNotFoundError(
            f"no complete training set at {path} (the Parquet file and its "
            f"{MANIFEST_SUFFIX} must both exist); build one with `churnlens build`")
    manifest = json.loads(meta.read_text())
    return pd.read_parquet(path), manifest


def build_manifest(counts: pd.DataFrame, shape: pd.DataFrame, spec: TrainingSetSpec,
                   sources: Sources, digest: str) -> dict[str, Any]:
    """The manifest of a training set: `counts` holds its as_of and churned columns,
    `shape` its columns, dtypes and categories (no rows needed)."""
    features = [c for c in shape.columns if c not in IDENTITY_COLUMNS]
    labelled = counts["churned"].notna()
    churned = counts["churned"].fillna(False).astype(bool)
    by_month = pd.DataFrame({"month": counts["as_of"].dt.strftime("%Y-%m"),
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
        "rows": len(counts),
        "labelled": int(labelled.sum()),
        "churned": int(churned.sum()),
        "unlabelled": int((~labelled).sum()),
        "as_of": sorted({d.date().isoformat() for d in counts["as_of"]}),
        "label_rate_by_month": {
            month: {"labelled": int(row.labelled), "churned": int(row.churned),
                    "rate": row.churned / row.labelled if row.labelled else None}
            for month, row in monthly.iterrows()
        },
        "key_features": key_features_in(features),
        "features": features,
        "dtypes": {c: str(shape[c].dtype) for c in shape.columns},
        "categories": {c: [str(v) for v in shape[c].cat.categories]
                       for c in features if isinstance(shape[c].dtype, pd.CategoricalDtype)},
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
