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


# What serving may use of training: the model wrapper and the registry that loads it, and
# what monitoring judges a run by: the model's reference profile, the PSI statistic and
# the metrics its backtest was measured with (realised performance must use the same).
SERVING_USES = ("training.model", "training.registry", "training.tracking",
                "training.contract", "training.calibration", "training.profile",
                "training.psi", "training.metrics", "training.figures")


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


# The rooms inside a stage. A part listed in ONLY imports nothing first-party but itself
# and what its entry names; a part listed in NEVER imports nothing its entry names.
ONLY = {
    # Shared by every layer, so they lean on nothing of the house.
    "features.errors": (),
    "features.atomic": ("features.errors",),  # a full disk is a DiskFullError
    "features.settings": ("features.errors",),
    # Where per-bucket work runs, knowing nothing of the work.
    "features.distributed": ("features.errors", "features.settings"),
    # Customer data in: no point-in-time code, analysis or simulator.
    "features.sources": ("features.errors", "features.settings", "features.atomic"),
    # The simulator writes files that the contract describes, and knows nothing else.
    "features.simulator": ("features.errors", "features.atomic", "features.sources.contract"),
    "features.point_in_time": ("features.errors", "features.settings", "features.atomic",
                               "features.sources", "features.distributed"),
    "features.analysis": ("features.errors", "features.settings", "features.sources",
                          "features.point_in_time"),
}
# What only the composition roots (the CLIs, the app) and the API gather.
_ENTRY_POINTS = ("serving.api", "serving.app", "serving.batch", "serving.commands",
                 "serving.cli")
NEVER = {
    "serving.web": _ENTRY_POINTS,
    "serving.risk": ("serving.store", "serving.web", *_ENTRY_POINTS),
    "serving.monitoring": ("serving.web", *_ENTRY_POINTS),
    # alerts are evaluated by the batch job and shown by the API and page, never the reverse
    "serving.alerts": ("serving.web", "serving.api", "serving.app", "serving.batch",
                       "serving.monitoring"),
    "serving.store": ("serving.web", "serving.alerts", *_ENTRY_POINTS),
}


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _room_breaches(module: str, targets: set[str]) -> list[str]:
    wrong = []
    for target in sorted(t for t in targets if t.split(".")[0] in PACKAGES):
        for room, may in ONLY.items():
            if (_within(module, room) and not _within(target, room)
                    and not any(_within(target, m) for m in may)):
                wrong.append(f"{module} imports {target} (only {room}, {', '.join(may)})")
        for room, never in NEVER.items():
            if _within(module, room) and any(_within(target, n) for n in never):
                wrong.append(f"{module} imports {target} ({room} never imports it)")
    return wrong


@pytest.mark.parametrize("package", ["features", "serving"])
def test_subpackages_import_only_the_rooms_before_them(package):
    wrong = []
    for path in sorted((ROOT / package).rglob("*.py")):
        wrong += _room_breaches(_module_name(path), _imports(path))
    assert not wrong, "imports between subpackages against their order:\n" + "\n".join(wrong)


def test_the_room_checker_catches_a_wrong_way_import():
    assert _room_breaches("features.sources.loading", {"features.point_in_time.windows"})
    assert _room_breaches("features.simulator.writer", {"features.sources.loading"})
    assert _room_breaches("serving.store.queries", {"serving.web.views"})
    assert not _room_breaches("features.simulator.writer", {"features.sources.contract",
                                                            "features.simulator.config"})
    assert not _room_breaches("features.analysis.cohorts", {"features.point_in_time.terms"})
    assert not _room_breaches("serving.web.routes", {"serving.store.score_store", "pandas"})


# A stage's top level holds its shared modules and entry points; the rest lives in rooms.
TOP_LEVEL_MODULES = 10
MODULE_LINES = 400


@pytest.mark.parametrize("package", ["features", "serving"])
def test_a_stage_keeps_few_modules_at_its_top_level(package):
    modules = sorted(p.name for p in (ROOT / package).glob("*.py"))
    assert len(modules) <= TOP_LEVEL_MODULES, modules


def test_no_module_outside_the_tests_is_long():
    long = []
    for folder in (*PACKAGES, "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            lines = len(path.read_text().splitlines())
            if lines > MODULE_LINES:
                long.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert not long, f"modules over {MODULE_LINES} lines (split them):\n" + "\n".join(long)


def test_the_checker_catches_a_wrong_way_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from serving.cli import app\nimport training.fit\n")
    assert _imports(bad) == {"serving.cli.app", "training.fit"}
    assert not _allowed("features.sources.loading", "serving.cli")
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
