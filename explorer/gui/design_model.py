"""DesignModel: the one current StackSpec, its undo stack, selection and analysis report.

Views read it and listen to its signals; they never mutate it. Edits go through
`propose`, which validates the would-be spec first and pushes an undo command only when
it is valid; otherwise the SpecError's one line goes out on `message`.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from explorer import fmt
from explorer.analysis import Report, analyze
from explorer.analysis.params import ParamCount, count_params
from explorer.analysis.report import check_run_shape
from explorer.errors import ExplorerError, SpecError
from explorer.gui import commands
from explorer.design.model import RunShape, StackSpec
from explorer.design.sharing import SharingPlan
from explorer.design.validate import validate

log = logging.getLogger(__name__)
REPORT_CACHE_SIZE = 64
DEFAULT_RUN = RunShape()


def one_line(err: SpecError) -> str:
    """The error for a status bar: group positions (groups[2].members[1]) say nothing to a user
    who dragged a chip, so they are left out; other key paths stay."""
    if err.path.startswith("groups["):
        return " ".join(err.message.split())
    return str(err)


class DesignModel(QObject):
    changed = Signal()               # the spec (and so the report) changed
    report_changed = Signal()        # the report changed (spec or run shape)
    selection_changed = Signal()
    message = Signal(str)            # one line for the status bar
    preview = Signal(str)            # a passing line (what a drop here would do): the status bar, not the log

    def __init__(self, spec: StackSpec, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._spec = spec
        self.undo_stack = QUndoStack(self)
        self.selected_layers: tuple[str, ...] = ()
        self.selected_group: str | None = None
        self._report: Report | None = None
        self._shape_problem: tuple[SpecError, ParamCount] | None = None
        self._reports: OrderedDict[tuple, Report] = OrderedDict()
        self.report_error = ""
        self._recompute()
        self.opened_name = spec.name             # Save As names the design after its file unless renamed
        self.mark_described()

    # ------------------------------------------------------------------ state

    @property
    def spec(self) -> StackSpec:
        return self._spec

    @property
    def report(self) -> Report | None:
        return self._report

    @property
    def run_shape(self) -> RunShape:
        """Batch, sequence and dtype the design is analysed at: saved with it (`run:`)."""
        return self._spec.run or DEFAULT_RUN

    @property
    def batch(self) -> int:
        return self.run_shape.batch

    @property
    def seq(self) -> int:
        return self.run_shape.seq

    @property
    def dtype(self) -> str:
        return self.run_shape.dtype

    @property
    def device(self) -> str:
        """Whose kernels the training activations follow: cpu or cuda."""
        return self.run_shape.device

    @property
    def plan(self) -> SharingPlan | None:
        """The sharing plan compiled once for this design version: the report's, or (when only the
        run shape is refused) the design's own; None when the design is invalid."""
        if self._report is not None:
            return self._report.plan
        if self._plan is None:
            try:
                self._plan = validate(self._spec)
            except SpecError:
                return None
        return self._plan

    def set_spec(self, spec: StackSpec) -> None:
        """Only undo commands (and `reset`) call this."""
        self._spec = spec
        ids = {layer.id for layer in spec.layers}
        selection = tuple(i for i in self.selected_layers if i in ids)
        group = self.selected_group if self.selected_group in {g.name for g in spec.groups} else None
        selection_moved = (selection, group) != (self.selected_layers, self.selected_group)
        self.selected_layers, self.selected_group = selection, group
        self._recompute()
        self.changed.emit()
        self.report_changed.emit()
        if selection_moved:
            self.selection_changed.emit()

    def reset(self, spec: StackSpec) -> None:
        """A new document: forget history and selection."""
        self.undo_stack.clear()
        self.selected_layers, self.selected_group = (), None
        self.set_spec(spec)
        self.undo_stack.setClean()
        self.opened_name = spec.name
        self.mark_described()
        self.selection_changed.emit()

    # ------------------------------------------------------------------ name and description

    def _fingerprint(self) -> tuple[int, int] | None:
        report = self._report
        return None if report is None else (report.params.unique, len(self._spec.groups))

    def mark_described(self) -> None:
        """The description fits the design as it is now (opened, or the description just edited)."""
        self._described = (self._spec.description, self._fingerprint())

    def description_stale(self) -> str:
        """Why the description may no longer fit ('' when it does): it was written for a design
        with other counts or groups, and has not been edited since."""
        text, then = self._described
        now = self._fingerprint()
        if not self._spec.description or self._spec.description != text or then is None or now is None:
            return ""
        if then == now:
            return ""
        return (f"written for the design as opened ({fmt.count(then[0])} unique, {fmt.plural(then[1], 'group')}); "
                f"now {fmt.count(now[0])} unique, {fmt.plural(now[1], 'group')}: edit it to fit")

    def set_run_shape(self, batch: int, seq: int, dtype: str, device: str | None = None) -> None:
        """An undoable edit (spin-box steps merge into one), saved with the design (`device`
        None: as it is)."""
        shape = RunShape(batch, seq, dtype, self.device if device is None else device)
        if shape == self.run_shape:
            return
        after = self._spec.replace(run=None if shape == DEFAULT_RUN else shape)
        self.undo_stack.push(commands.SetRunShape(self, self._spec, after, DEFAULT_RUN))
        if self.report_error:
            self.message.emit(self.report_error)

    def _analyze(self, spec: StackSpec) -> Report:
        """analyze(), remembered for recent designs: undo, redo and re-checks cost nothing."""
        shape = spec.run or DEFAULT_RUN               # each design at its own run shape
        key = (spec, shape)
        report = self._reports.get(key)
        if report is None:
            report = analyze(spec, shape.batch, shape.seq, shape.dtype, device=shape.device)
            self._reports[key] = report
            if len(self._reports) > REPORT_CACHE_SIZE:
                self._reports.popitem(last=False)
        else:
            self._reports.move_to_end(key)
        return report

    def run_shape_problem(self) -> tuple[SpecError, ParamCount] | None:
        """When the design is valid and only its run shape is refused (seq longer than its
        position table, say): why (the error names the key), and the design's parameters, which
        do not depend on the run shape. None otherwise."""
        if self._report is not None or self.plan is None:
            return None
        if self._shape_problem is None:
            shape = self.run_shape
            try:
                check_run_shape(self._spec, shape.batch, shape.seq, shape.dtype)
                return None
            except SpecError as err:
                self._shape_problem = (err, count_params(self._spec, self.plan))
        return self._shape_problem

    def _recompute(self) -> None:
        self._plan = None
        self._shape_problem = None
        try:
            self._report = self._analyze(self._spec)
            self.report_error = ""
        except ExplorerError as err:
            self._report = None
            self.report_error = str(err)

    # ------------------------------------------------------------------ selection

    def select_layers(self, layer_ids: tuple[str, ...]) -> None:
        if tuple(layer_ids) != self.selected_layers:
            self.selected_layers = tuple(layer_ids)
            self.selection_changed.emit()

    def select_group(self, name: str | None) -> None:
        if name != self.selected_group:
            self.selected_group = name
            self.selection_changed.emit()

    # ------------------------------------------------------------------ edits

    def check(self, after: StackSpec) -> str:
        """'' when `after` is a valid design, else the one-line reason it is not.

        The analysis made on the way is cached, so pushing `after` next does not redo it.
        """
        try:
            self._analyze(after)
            return ""
        except SpecError:
            pass
        try:
            validate(after)          # valid design, but the run shape does not fit it (seq too long)
        except SpecError as err:
            return one_line(err)
        return ""

    def propose(self, command: type[commands.SpecCommand], after: StackSpec, text: str, **extra) -> bool:
        """Push `command` if `after` is valid and differs; else say why on `message`."""
        if after == self._spec:
            return False
        reason = self.check(after)
        if reason:
            self.message.emit(reason)
            return False
        self.undo_stack.push(command(self, self._spec, after, text, **extra))
        self.message.emit(self.outcome(text))
        return True

    def outcome(self, text: str) -> str:
        """What an edit did, for the status bar: its name and where the counts stand now."""
        if self._report is None:
            return text
        params = self._report.params
        return f"{text}: {fmt.count(params.unique)} unique, {params.saving_factor:.2f}x fewer than unshared"

    def edit(self, command: type[commands.SpecCommand], text: str, change: Callable[[StackSpec], StackSpec],
             **extra) -> bool:
        """Compute the would-be spec with `change` (a pure function) and propose it."""
        try:
            after = change(self._spec)
        except ExplorerError as err:
            self.message.emit(str(err))
            return False
        return self.propose(command, after, text, **extra)
