"""Undoable edits. Every command holds the whole spec before and after (specs are frozen,
so this is cheap and exact); redo/undo just hand one of them to the DesignModel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QUndoCommand

from explorer.design.model import StackSpec

if TYPE_CHECKING:
    from explorer.gui.design_model import DesignModel


class SpecCommand(QUndoCommand):
    """Replace the design: `before` on undo, `after` on redo. Every edit is one of these, named
    by its text ("Apply ALBERT all-shared", "block3:ffn joins g"); SetField adds merging."""

    def __init__(self, model: DesignModel, before: StackSpec, after: StackSpec, text: str) -> None:
        super().__init__(text)
        self.model = model
        self.before = before
        self.after = after

    def redo(self) -> None:
        self.model.set_spec(self.after)

    def undo(self) -> None:
        self.model.set_spec(self.before)


class SetField(SpecCommand):
    """One field of a layer or of the settings. Consecutive edits of the same field
    (spin-box drags, typing) merge into one undo step, like Qt's undoframework MoveCommand."""

    MERGE_ID = 0x5E7F

    def __init__(self, model: DesignModel, before: StackSpec, after: StackSpec, text: str,
                 target: tuple[str, str] = ("", "")) -> None:
        super().__init__(model, before, after, text)
        self.target = target            # (layer id or "model", field name)

    def id(self) -> int:
        return self.MERGE_ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetField) or other.target != self.target:
            return False
        self.after = other.after
        self.setText(other.text())
        if self.after == self.before:
            self.setObsolete(True)
        return True


def run_shape_change(before, after) -> str:
    """'Run shape (batch 1 → 4, bf16 → fp32)': what changed between two RunShapes."""
    changes = [f"{name} {getattr(before, name)} → {getattr(after, name)}" for name in ("batch", "seq")
               if getattr(before, name) != getattr(after, name)]
    if before.dtype != after.dtype:
        changes.append(f"{before.dtype} → {after.dtype}")
    if before.device != after.device:
        changes.append(f"{before.device.upper()} kernels → {after.device.upper()} kernels")
    return f"Run shape ({', '.join(changes)})" if changes else "Run shape"


class SetRunShape(SetField):
    """The run shape: spin-box steps merge, and the text names the whole change ('batch 1 → 4')."""

    def __init__(self, model: DesignModel, before: StackSpec, after: StackSpec, default) -> None:
        self.default = default                       # the RunShape of a design with no `run:`
        super().__init__(model, before, after, "", target=("run", "shape"))
        self._name()

    def _name(self) -> None:
        self.setText(run_shape_change(self.before.run or self.default, self.after.run or self.default))

    def mergeWith(self, other: QUndoCommand) -> bool:
        merged = super().mergeWith(other)
        if merged:
            self._name()
        return merged
