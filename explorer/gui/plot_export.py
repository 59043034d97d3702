"""Save a pyqtgraph plot as PNG or SVG, and its samples as CSV (File dialogs stay out of the
tested functions)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401 - registers the exporters
from PySide6.QtGui import QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QFileDialog, QPushButton, QWidget

from explorer.errors import ExplorerError
from explorer.fileio import write_atomic


def export_plot(plot: pg.PlotWidget, path: str | Path, width: int = 1200) -> Path:
    """Write `plot` to `path`; the suffix (.png or .svg) picks the format."""
    path = Path(path)
    item = plot.getPlotItem()
    if path.suffix.lower() == ".svg":
        return _export_svg(plot, path)
    if path.suffix.lower() == ".png":
        exporter = pg.exporters.ImageExporter(item)
        exporter.parameters()["width"] = width
    else:
        raise ExplorerError(f"{path.name}: plots are saved as .png or .svg")
    try:
        exporter.export(str(path))
    except OSError as err:
        raise ExplorerError(f"{path}: cannot write ({err.strerror or err})") from None
    return path


def _export_svg(plot: pg.PlotWidget, path: Path) -> Path:
    """Vector SVG through Qt's own SVG paint engine (pyqtgraph's SVGExporter breaks on Qt 6.12 paths)."""
    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(plot.size())
    generator.setViewBox(plot.rect())
    generator.setTitle("Sharing Explorer plot")
    painter = QPainter()
    if not painter.begin(generator):
        raise ExplorerError(f"{path}: cannot write the SVG file")
    try:
        plot.render(painter)
    finally:
        painter.end()
    if not path.is_file():
        raise ExplorerError(f"{path}: cannot write the SVG file")
    return path


def export_csv(path: str | Path, header: Sequence[str], rows: Iterable[Sequence]) -> Path:
    """Write `rows` under `header` as CSV (floats in full precision, as Python prints them)."""
    path = Path(path)
    try:
        out = io.StringIO(newline="")
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
        write_atomic(path, out.getvalue())
    except OSError as err:
        raise ExplorerError(f"{path}: cannot write ({err.strerror or err})") from None
    return path


def save_plot_button(parent: QWidget, plot: pg.PlotWidget, basename: str) -> QPushButton:
    """A "Save plot…" button that saves `plot` as PNG or SVG (named `basename` by default)."""
    button = QPushButton("Save plot…", toolTip="Save this plot as PNG or SVG")
    button.clicked.connect(lambda: save_plot_dialog(parent, plot, basename))
    return button


def save_plot_dialog(parent: QWidget, plot: pg.PlotWidget, basename: str,
                     samples: Callable[[], tuple[Sequence[str], Iterable[Sequence]]] | None = None) -> Path | None:
    """Ask for a file and save the plot there; with `samples` (header, rows), CSV is offered too."""
    filters = "PNG image (*.png);;SVG drawing (*.svg)" + (";;CSV samples (*.csv)" if samples else "")
    path, _filter = QFileDialog.getSaveFileName(parent, "Save plot", f"{basename}.png", filters)
    if not path:
        return None
    try:
        if samples is not None and Path(path).suffix.lower() == ".csv":
            return export_csv(path, *samples())
        return export_plot(plot, path)
    except ExplorerError as err:
        message = getattr(parent, "message", None)
        if message is not None:
            message.emit(str(err))
        return None
