"""The notebooks under notebooks/: they import and plot, and they run on a real workspace.

The static checks read the committed files: no `def` or `class` in a code cell (anything
reusable belongs in the packages), imports only from churnlens and the plotting stack, and
no stored outputs. The execution tests run each notebook top to bottom in a Jupyter kernel
of this interpreter, on a small simulated workspace with a champion and two scoring runs,
exactly as `make notebooks` would open it; any cell error fails the test.
"""

from __future__ import annotations

import ast
import datetime as dt
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from features.point_in_time.artifacts import manifest_path
from features.sources.loading import Sources
from features.settings import Settings, use_settings
from serving.batch import default_as_of, run_batch
from serving.risk import Bands
from serving.store.score_store import ScoreStore
from training.config import load_config
from training.registry import list_versions
from training.run import run_training
from training.tracking import mlflow_client

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = ("01-explore-customer-base.ipynb", "02-train-and-evaluate.ipynb",
             "03-explain-an-account.ipynb")
# What a notebook may import: the churnlens packages and the tools to show their results.
ALLOWED_IMPORTS = frozenset({"features", "training", "serving", "matplotlib", "pandas",
                             "numpy", "IPython", "mlflow", "logging", "warnings"})


def _code_cells(name: str) -> list[nbformat.NotebookNode]:
    notebook = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def definitions(source: str) -> list[str]:
    """The functions and classes a cell's code defines, as `def name` / `class name`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(f"def {node.name}")
        elif isinstance(node, ast.ClassDef):
            found.append(f"class {node.name}")
    return found


def imported_roots(source: str) -> set[str]:
    """Top-level packages a cell imports."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_checkers_catch_definitions_and_foreign_imports():
    source = "def churn(x):\n    return x\nclass Model:\n    pass\nimport sklearn.metrics\n"
    assert definitions(source) == ["def churn", "class Model"]
    assert imported_roots(source) == {"sklearn"}
    assert definitions("rates = [r for r in range(3)]\nf = lambda v: v\n") == []


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_cells_only_import_and_plot(name):
    problems = []
    for number, cell in enumerate(_code_cells(name), start=1):
        problems += [f"code cell {number}: {d}" for d in definitions(cell.source)]
        foreign = imported_roots(cell.source) - ALLOWED_IMPORTS
        problems += [f"code cell {number}: imports {m}" for m in sorted(foreign)]
    assert not problems, (f"{name} defines or imports what belongs in the packages "
                          "(features, training, serving):\n" + "\n".join(problems))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks_are_committed_without_outputs(name):
    notebook = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    nbformat.validate(notebook)
    stored = [number for number, cell in enumerate(_code_cells(name), start=1)
              if cell.outputs or cell.execution_count is not None]
    assert not stored, (f"{name}: code cells {stored} keep outputs or execution counts; "
                        "clear them before committing (Jupyter: Edit → Clear Outputs of All "
                        "Cells)")
    assert notebook.metadata.kernelspec.name == "python3"


# ------------------------------------------------------------------------------ execution

@pytest.fixture(scope="module")
def notebook_workspace(simulated_sources: Sources, simulated_set, tmp_path_factory
                       ) -> Iterator[Settings]:
    """A workspace on the simulated sources: their training set, a champion (trained
    without backtest, for speed) and two monthly scoring runs for a score history."""
    frame, manifest, path = simulated_set
    home = tmp_path_factory.mktemp("notebook-workspace")
    sets = home / "training_sets" / "default"
    sets.mkdir(parents=True)
    for file in (path, manifest_path(path)):
        shutil.copy2(file, sets / file.name)
    settings = Settings(home=home, data=Path(simulated_sources.location))
    use_settings(settings)
    try:
        config = load_config()
        config = config.model_copy(update={
            "split": config.split.model_copy(update={"backtest_folds": 0})})
        champion = run_training(frame, manifest, config, path)
        latest = default_as_of(simulated_sources)
        earlier = (latest.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
        store = ScoreStore(settings.score_store)
        try:
            for as_of in (earlier, latest):
                run_batch(simulated_sources, champion.result.model, champion.version, store,
                          as_of, Bands())
        finally:
            store.dispose()
    finally:
        use_settings(None)
    yield settings


@pytest.fixture
def kernel_environment(notebook_workspace: Settings, monkeypatch: pytest.MonkeyPatch
                       ) -> Settings:
    """What the kernel inherits: the workspace through the settings' own variables, and
    this interpreter's kernelspec first, whatever the user's Jupyter setup holds."""
    monkeypatch.setenv("CHURNLENS_HOME", str(notebook_workspace.home))
    monkeypatch.setenv("CHURNLENS_DATA", str(notebook_workspace.data))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("JUPYTER_PATH", str(Path(sys.prefix) / "share" / "jupyter"))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    return notebook_workspace


# Parameters set after a notebook's `parameters` cell, as papermill injects them: no
# rolling backtest (the cutoff split only) halves the training time of the test.
PARAMETERS = {"02-train-and-evaluate.ipynb": "BACKTEST_FOLDS = 0"}


def _execute(name: str, cwd: Path) -> nbformat.NotebookNode:
    """Run the notebook with its test parameters, plus one cell reporting the kernel's
    interpreter; raises nbclient's CellExecutionError (failing cell and traceback) on any
    error."""
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    if name in PARAMETERS:
        tagged = [i for i, cell in enumerate(notebook.cells)
                  if "parameters" in cell.metadata.get("tags", [])]
        assert tagged, f"{name} has no cell tagged 'parameters'"
        notebook.cells.insert(tagged[0] + 1, nbformat.v4.new_code_cell(PARAMETERS[name]))
    notebook.cells.append(nbformat.v4.new_code_cell("import sys\nprint(sys.prefix)"))
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return notebook


def _texts(notebook: nbformat.NotebookNode) -> str:
    out = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            out.append(output.get("text", ""))
            out.append(output.get("data", {}).get("text/plain", ""))
            out.append(output.get("data", {}).get("text/markdown", ""))
    return "\n".join(out)


def _images(notebook: nbformat.NotebookNode) -> int:
    return sum("image/png" in output.get("data", {})
               for cell in notebook.cells for output in cell.get("outputs", []))


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_on_a_simulated_workspace(name, kernel_environment, tmp_path):
    notebook = _execute(name, tmp_path)
    assert notebook.cells[-1].outputs[0]["text"].strip() == sys.prefix, \
        "the kernel must run this interpreter (the project's .venv)"
    assert _images(notebook) >= 3, "every notebook shows its results as plots"
    assert str(kernel_environment.home.resolve()) in _texts(notebook)
    assert not list(tmp_path.iterdir()), "a notebook wrote into its working directory"
    if name.startswith("02"):
        use_settings(kernel_environment)
        try:
            versions = list_versions(mlflow_client(kernel_environment))
        finally:
            use_settings(None)
        assert len(versions) == 2, "the notebook's run adds a second model version"
        assert "Oracle at as_of: ROC AUC" in _texts(notebook), \
            "on simulated data the notebook reports the oracle on the same rows"
