"""The shape of the house: imports flow features → training → serving, never back."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("features", "training", "serving")
# serving may load the model wrapper from training, and the CLI is the one composition
# root that gathers every stage's commands.
ALLOWED = {
    ("serving", "training.model"),
    ("serving.cli", "training.cli"),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from training import cli` names training.cli, not all of training.
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _allowed(module: str, target: str) -> bool:
    def within(name: str, prefix: str) -> bool:
        return name == prefix or name.startswith(prefix + ".")

    return any(within(module, src) and within(target, dst) for src, dst in ALLOWED)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_flows_backwards(package):
    order = {name: i for i, name in enumerate(PACKAGES)}
    wrong = []
    for path in sorted((ROOT / package).rglob("*.py")):
        module = _module_name(path)
        for target in _imports(path):
            top = target.split(".")[0]
            if top in order and order[top] > order[package] and not _allowed(module, target):
                wrong.append(f"{module} imports {target}")
    assert not wrong, "imports against the flow features → training → serving:\n" + "\n".join(
        wrong)


# What serving may use of training: the model wrapper and the registry that loads it.
SERVING_USES = ("training.model", "training.registry", "training.tracking",
                "training.contract", "training.calibration")


def test_serving_uses_only_the_model_wrapper_from_training():
    wrong = []
    for path in sorted((ROOT / "serving").rglob("*.py")):
        module = _module_name(path)
        for target in _imports(path):
            if target.split(".")[0] != "training" or _allowed(module, target):
                continue
            if not any(target == t or target.startswith(t + ".") for t in SERVING_USES):
                wrong.append(f"{module} imports {target}")
    assert not wrong, "serving reaches into training beyond the model:\n" + "\n".join(wrong)


def test_the_checker_catches_a_wrong_way_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from serving.cli import app\nimport training.fit\n")
    assert _imports(bad) == {"serving.cli.app", "training.fit"}
    assert not _allowed("features.loading", "serving.cli")
    assert _allowed("serving.api", "training.model")
    assert not _allowed("serving.api", "training.fit")


@pytest.mark.parametrize("package", PACKAGES)
def test_generic_package_names_resolve_to_this_repository(package):
    module = __import__(package)
    assert Path(module.__file__).resolve().parent == ROOT / package


def test_help_imports_no_heavy_library():
    """`churnlens --help` stays instant: the CLI module pulls in no data or ML library."""
    code = ("import sys, serving.cli; heavy = [m for m in ('pandas', 'numpy', 'lightgbm', "
            "'mlflow', 'sklearn', 'pyarrow') if m in sys.modules]; print(','.join(heavy))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=ROOT)
    assert result.stdout.strip() == ""


def test_console_script_answers_help():
    exe = Path(sys.executable).parent / "churnlens"
    result = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True)
    assert "validate" in result.stdout
