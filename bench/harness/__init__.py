"""What every benchmark of a running service needs: servers started and stopped here
(`servers`), wrk driving them (`wrk`), /proc read for CPU and memory (`procfs`), and
in-process timing (`inprocess`). No benchmark scenario lives here."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
