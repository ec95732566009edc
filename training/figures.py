"""Figures on their own Agg canvas, saved reproducibly: the report's and monitoring's plots.

matplotlib's object API, imported only when a plot is drawn: no backend is switched for
the whole process (a notebook keeps its own), no figure is registered with pyplot (nothing
to leak or close), and `churnlens --help` never imports matplotlib. Figures are saved
without the `Software` PNG chunk, so the same inputs give the same bytes on any machine
with the same versions.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

DPI = 110


def new_figure(width: float, height: float) -> Figure:
    """A figure on its own Agg canvas, outside pyplot, so nothing global changes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Figure, path: Path) -> None:
    figure.savefig(path, dpi=DPI, metadata={"Software": None})
    figure.clear()
    log.debug("wrote %s", path)
