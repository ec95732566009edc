"""The scratch copy of the demo workspace and the request bodies built from it, checked
once against each server before any load."""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path
from typing import Any

from harness.servers import SCORER_KEY, Server, base_url, http


def copy_workspace(source: Path, scratch: Path) -> None:
    """Copy the workspace and point the copied MLflow store at the copied artifacts:
    MLflow writes into a model's artifact directory when it loads it (e.g.
    `registered_model_meta`), and the source workspace must stay untouched."""
    import sqlite3

    if scratch.exists():
        shutil.rmtree(scratch)
    shutil.copytree(source, scratch)
    old, new = f"{source.resolve()}/", f"{scratch}/"
    with contextlib.closing(sqlite3.connect(scratch / "mlflow" / "mlflow.db")) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        changed = 0
        for table in tables:
            for column in [r[1] for r in db.execute(f"PRAGMA table_info('{table}')")
                           if r[2].upper().startswith(("VARCHAR", "TEXT"))]:
                changed += db.execute(
                    f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) '
                    f'WHERE "{column}" LIKE ?', (old, new, f"%{old}%")).rowcount
        db.commit()
    print(f"copied {source} to {scratch}; {changed} paths in its MLflow store now point "
          f"into the copy")


def newest_mtime(root: Path) -> float:
    return max((p.stat().st_mtime for p in root.rglob("*")), default=0.0)


# -- request bodies ------------------------------------------------------------------------


def bodies(example: Path, scratch: Path) -> tuple[Path, Path, dict[str, Any]]:
    """The one-account churnlens body and the matching `dataframe_split` body for MLflow:
    categoricals as text, every number a float (as `training.run.pyfunc_input`)."""
    account = json.loads(example.read_text())["accounts"][0]
    churnlens_body = scratch / "score-1.json"
    churnlens_body.write_text(json.dumps({"accounts": [account]}))
    features = account["features"]

    def cell(value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        return float(value)

    mlflow_body = scratch / "mlflow-1.json"
    mlflow_body.write_text(json.dumps({"dataframe_split": {
        "columns": list(features), "data": [[cell(v) for v in features.values()]]}}))
    return churnlens_body, mlflow_body, account


def check_score(server: Server, body: Path) -> float:
    status, raw = http("POST", f"{base_url(server)}/v1/score", body.read_bytes(), SCORER_KEY)
    if status != 200:
        raise RuntimeError(f"POST /v1/score answered {status}: {raw[:500]!r}")
    scored = json.loads(raw)["scores"][0]
    print(f"  one account: probability {scored['probability']:.6f}, band {scored['band']}, "
          f"{len(scored['reasons'])} reasons, {len(raw):,} bytes; top reason: "
          f"{scored['reasons'][0]['text'] if scored['reasons'] else '-'}")
    return float(scored["probability"])


def check_mlflow(server: Server, body: Path) -> float:
    status, raw = http("POST", f"{base_url(server)}/invocations", body.read_bytes())
    if status != 200:
        raise RuntimeError(f"mlflow /invocations answered {status}: {raw[:500]!r}")
    found = json.loads(raw)["predictions"][0]
    probability = float(next(iter(found.values())) if isinstance(found, dict) else found)
    print(f"  one row: {raw[:120].decode()} ({len(raw):,} bytes)")
    return probability
