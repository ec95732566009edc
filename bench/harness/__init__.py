"""What the benchmarks share: servers started and stopped here (`servers`), wrk driving
them (`wrk`), /proc read for CPU and memory (`procfs`), in-process timing (`inprocess`),
and a `churnlens` command timed as one step (`steps`). No benchmark scenario lives here."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
