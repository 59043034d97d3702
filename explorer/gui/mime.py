"""Custom drag-and-drop payloads: a layer kind, layers (cards), or one slot of a layer.

The views build drags with these functions and their drop handlers read them back, so
tests can drop exactly what a user's drag carries.
"""

from __future__ import annotations

import json

from PySide6.QtCore import QMimeData

from explorer.design.model import Member

KIND_MIME = "application/x-sharing-explorer-kind"
LAYER_MIME = "application/x-sharing-explorer-layer"
SLOT_MIME = "application/x-sharing-explorer-slot"


def kind_mime(kind: str) -> QMimeData:
    mime = QMimeData()
    mime.setData(KIND_MIME, kind.encode())
    mime.setText(kind)
    return mime


def layers_mime(layer_ids: list[str]) -> QMimeData:
    mime = QMimeData()
    mime.setData(LAYER_MIME, json.dumps(list(layer_ids)).encode())
    mime.setText(", ".join(layer_ids))
    return mime


def slot_mime(members: list[Member]) -> QMimeData:
    """One slot (or the same slot of several selected layers); the first is the one grabbed."""
    mime = QMimeData()
    mime.setData(SLOT_MIME, json.dumps([[m.layer, str(m.slot)] for m in members]).encode())
    mime.setText(", ".join(map(str, members)))
    return mime


def read_kind(mime: QMimeData) -> str | None:
    if not mime.hasFormat(KIND_MIME):
        return None
    return bytes(mime.data(KIND_MIME)).decode()


def read_layers(mime: QMimeData) -> list[str] | None:
    if not mime.hasFormat(LAYER_MIME):
        return None
    return [str(x) for x in json.loads(bytes(mime.data(LAYER_MIME)).decode())]


def read_slots(mime: QMimeData) -> list[Member] | None:
    if not mime.hasFormat(SLOT_MIME):
        return None
    return [Member(str(a), str(b)) for a, b in json.loads(bytes(mime.data(SLOT_MIME)).decode())]


def read_members(mime: QMimeData) -> list[Member] | None:
    """What a drop onto a group means: slots as they are, whole layers as their `block` slot."""
    slots = read_slots(mime)
    if slots is not None:
        return slots
    layers = read_layers(mime)
    if layers is not None:
        return [Member(lid) for lid in layers]
    return None
