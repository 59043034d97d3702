"""The scheme frontier of the Sweeps tab: a scatter of unique parameters against forward FLOPs
(analysis), the final validation loss (trained) or the median forward time (timed), each point
labelled, beside a table of the same schemes. A click on a point or a double-click on a row
says which scheme was chosen."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSizeF, Qt, Signal
from PySide6.QtWidgets import QHeaderView, QSplitter, QTableWidget, QTableWidgetItem, QWidget

from explorer.gui import theme
from explorer.gui.axes import EmptyNote, SIAxis

SCHEME_COLUMNS = ["scheme", "unique params", "forward FLOPs", "training memory", "note"]
TRAINED_COLUMNS = ["scheme", "unique params (trained)", "final val loss", "best val loss", "tokens/s", "where",
                   "note"]
TIMED_COLUMNS = ["scheme", "unique params", "median ms", "forward FLOPs", "where", "note"]
AXES = {"trained": ("validation loss (final)", "unique parameters (trained, scaled down)"),     # (left, bottom)
        "timed": ("median forward ms (measured)", "unique parameters"),
        "analysis": ("forward FLOPs", "unique parameters")}
POINT_SIZE = 11                         # px: the scatter's markers
MARKER_RADIUS = POINT_SIZE / 2 + 1      # px a label keeps clear of any point's centre


def frontier_data(mode: str, scheme_points: list, trained_runs: list, trained_where: dict[str, str],
                  timed_rows: list[dict]) -> tuple[list[tuple[str, float, float]], list[list[str]], list[str]]:
    """For `mode` ("trained", "timed" or "analysis"): the plotted (scheme, x, y) of the schemes that
    have a point, the table's rows of text and the scheme of each row."""
    if mode == "trained":
        xy = [(r.scheme, r.params, r.final_val) for r in trained_runs if r.ok]
        rows = [[r.scheme, f"{r.params:,}" if r.params is not None else "-",
                 f"{r.final_val:.4f}" if r.final_val is not None else "-",
                 f"{r.best_val:.4f}" if r.best_val is not None else "-",
                 f"{r.tokens_per_s:,.0f}" if r.tokens_per_s is not None else "-",
                 trained_where.get(r.scheme, ""), r.error]
                for r in trained_runs]
        return xy, rows, [r.scheme for r in trained_runs]
    if mode == "timed":
        xy = [(r["label"], r["unique_params"], r["median_ms"]) for r in timed_rows
              if not r.get("error") and r.get("median_ms") is not None]
        rows = [[r["label"], f"{r['unique_params']:,}" if r.get("unique_params") is not None else "-",
                 f"{r['median_ms']:.3f}" if r.get("median_ms") is not None else "-",
                 f"{r['forward_flops']:,}" if r.get("forward_flops") is not None else "-",
                 r.get("where", ""), r.get("error") or ("waiting" if r.get("pending") else "")]
                for r in timed_rows]
        return xy, rows, [r["label"] for r in timed_rows]
    xy = [(p.scheme, p.unique, p.forward) for p in scheme_points if not p.error]
    rows = [[p.title, f"{p.unique:,}" if not p.error else "-", f"{p.forward:,}" if not p.error else "-",
             f"{p.training_bytes / (1 << 20):,.1f} MiB" if not p.error else "-", p.error]
            for p in scheme_points]
    return xy, rows, [p.scheme for p in scheme_points]


def label_places(point: tuple[float, float], size: QSizeF, margin: float = 0.0) -> list[QRectF]:
    """Where a label of `size` (its text inside a blank `margin`) may go beside a point, in view
    pixels (y down), nearest first: right, above, left, below, then the four corners; its text
    clear of the point's marker."""
    px, py = point
    w, h, r = size.width(), size.height(), MARKER_RADIUS - margin
    return [QRectF(px + r, py - h / 2, w, h), QRectF(px - w / 2, py - r - h, w, h),
            QRectF(px - r - w, py - h / 2, w, h), QRectF(px - w / 2, py + r, w, h),
            QRectF(px + r * 0.7, py - r * 0.7 - h, w, h), QRectF(px - r * 0.7 - w, py - r * 0.7 - h, w, h),
            QRectF(px + r * 0.7, py + r * 0.7, w, h), QRectF(px - r * 0.7 - w, py + r * 0.7, w, h)]


class FrontierView(QSplitter):
    """The frontier plot beside its table; `chosen(scheme)` on a click or a row's double-click."""

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.mode = "analysis"
        self._frontier_xy: list[tuple[str, float, float]] = []     # (scheme, x, y) on the plot
        self._schemes: list[str] = []                              # the scheme of each table row
        self.frontier_plot = pg.PlotWidget(background=None, axisItems={"left": SIAxis("left"),
                                                                       "bottom": SIAxis("bottom")})
        self.frontier_note = EmptyNote(self.frontier_plot.getPlotItem())
        self.frontier_plot.setLabel("bottom", "unique parameters")
        self.frontier_plot.setLabel("left", "forward FLOPs")
        self.frontier_scatter = pg.ScatterPlotItem(
            size=POINT_SIZE, hoverable=True, hoverSize=15,
            tip=lambda x, y, data: f"{data}\n{x:,.0f} parameters\n" + (
                f"validation loss {y:.4f}" if self.mode == "trained" else f"median {y:.3f} ms"
                if self.mode == "timed" else f"{y:,.0f} FLOPs")
            + " (click to apply)")
        self.frontier_scatter.sigClicked.connect(self._on_point_clicked)
        self.frontier_plot.getPlotItem().vb.sigResized.connect(self._label_frontier)
        self.frontier_plot.addItem(self.frontier_scatter)
        self._frontier_labels: list[pg.TextItem] = []
        self.scheme_table = QTableWidget(0, len(SCHEME_COLUMNS))
        self.scheme_table.setHorizontalHeaderLabels(SCHEME_COLUMNS)
        self.scheme_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.scheme_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.scheme_table.cellDoubleClicked.connect(self._on_cell_double_clicked)
        self.scheme_table.setToolTip("Double-click a row to apply that scheme to the design (undoable)")
        self.addWidget(self.frontier_plot)
        self.addWidget(self.scheme_table)
        self.setSizes([500, 500])

    def show_frontier(self, mode: str, xy: list[tuple[str, float, float]], rows: list[list[str]],
                      schemes: list[str]) -> None:
        """Plot `xy` and fill the table with `rows` (of `schemes`), as frontier_data gives them for `mode`."""
        self.mode = mode
        self._frontier_xy = xy
        self._schemes = schemes
        left, bottom = AXES[mode]
        self.frontier_plot.setLabel("left", left)
        self.frontier_plot.setLabel("bottom", bottom)
        self.frontier_note.set_text({"timed": "no scheme timed yet" if rows else "no timed schemes yet: press Time",
                                     "trained": "no scheme trained to the end" if rows
                                     else "no trained schemes yet: press Train"}.get(mode, "no data yet"))
        star = "current" if mode == "analysis" else "none"
        spots = [{"pos": (x, y), "data": name, "brush": pg.mkBrush(theme.series_color(i)),
                  "symbol": "star" if name == star else "o"} for i, (name, x, y) in enumerate(xy)]
        self.frontier_scatter.setData(spots)
        xs = [x for _n, x, _y in xy] or [1]
        ys = [y for _n, _x, y in xy] or [1]
        dx, dy = (max(xs) - min(xs)) or max(xs) or 1, (max(ys) - min(ys)) or max(ys) or 1
        # a margin around the points, so the view never crops a label's first or last letters
        x0, x1 = min(xs) - 0.08 * dx, max(xs) + 0.08 * dx
        y0, y1 = min(ys) - 0.12 * dy, max(ys) + 0.12 * dy
        self.frontier_plot.setXRange(x0, x1, padding=0)
        self.frontier_plot.setYRange(y0, y1, padding=0)
        self._label_frontier()
        self.frontier_note.set_empty(not xy)
        table = self.scheme_table
        columns = {"trained": TRAINED_COLUMNS, "timed": TIMED_COLUMNS}.get(mode, SCHEME_COLUMNS)
        table.setColumnCount(len(columns))
        table.setHorizontalHeaderLabels(columns)
        table.setRowCount(len(rows))
        for row, values in enumerate(rows):
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                if 0 < col < len(values) - 1 and columns[col] != "where":
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                table.setItem(row, col, item)

    def _label_frontier(self, *_args) -> None:
        """Name the frontier's points, each label inside the view (placed again when it resizes)."""
        for label in self._frontier_labels:
            self.frontier_plot.removeItem(label)
        self._frontier_labels = []
        view = self.frontier_plot.getPlotItem().vb
        (x0, x1), (y0, y1) = view.viewRange()
        width, height = (view.width(), view.height()) if view.width() > 50 else (600.0, 300.0)
        points = [((x - x0) / (x1 - x0) * width, (y1 - y) / (y1 - y0) * height) for _n, x, y in self._frontier_xy]
        # no label covers a point's marker (its text may: its blank margin may not) or another label
        markers = [QRectF(px - MARKER_RADIUS, py - MARKER_RADIUS, 2 * MARKER_RADIUS, 2 * MARKER_RADIUS)
                   for px, py in points]
        placed: list[QRectF] = []
        inside = QRectF(0, 0, width, height)
        order = sorted(range(len(points)), key=lambda i: self._frontier_xy[i][0] not in ("current", "none"))
        for i in order:
            name = self._frontier_xy[i][0]
            label = pg.TextItem(name, color=theme.color("plot_label"), anchor=(0.0, 0.0))
            margin = label.textItem.document().documentMargin()
            places = [r for r in label_places(points[i], label.textItem.boundingRect().size(), margin)
                      if inside.contains(r) and not any(r.intersects(p) for p in placed)]
            clear = [r for r in places if not any(r.adjusted(margin, margin, -margin, -margin).intersects(m)
                                                  for m in markers)]
            if clear:
                rect = clear[0]
            elif places and name in ("current", "none"):   # the design itself is always named
                rect = places[0]
            else:                          # no free place near its point: the name shows on hover
                continue
            placed.append(rect)
            label.setPos(x0 + rect.left() / width * (x1 - x0), y1 - rect.top() / height * (y1 - y0))
            self.frontier_plot.addItem(label, ignoreBounds=True)
            self._frontier_labels.append(label)

    def _on_point_clicked(self, _item, points, *_args) -> None:
        if points is not None and len(points):
            self.chosen.emit(points[0].data())

    def _on_cell_double_clicked(self, row: int, _column: int) -> None:
        if 0 <= row < len(self._schemes):
            self.chosen.emit(self._schemes[row])
