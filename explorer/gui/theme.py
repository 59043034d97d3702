"""The app's look in one place: named color roles, pens, style sheets and the app icon.

Roles come from resources/theme.yaml (read once, `yaml.safe_load`), each with a light and
a dark value; `color(role)` picks the one that matches the system palette at the time of
the call, so a view that repaints on a PaletteChange follows a light/dark switch. Where
the file is missing or falls short, the built-in values below are used and one warning
is logged.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPalette, QPen
from PySide6.QtWidgets import QApplication

from explorer import bundled
from explorer.design.model import SharingGroup

log = logging.getLogger(__name__)

THEME_FILE = "theme.yaml"
ICON_FILE = "icons/sharing-explorer.svg"
VARIANTS = ("light", "dark")

# Built-in values (the same as resources/theme.yaml, which documents each role): used for
# whatever the file lacks, so a missing or broken file never stops the app.
DEFAULT_ROLES: dict[str, tuple[str, str]] = {
    "text": ("#1d1f22", "#e8e8e8"), "text_faint": ("#5f6368", "#9aa0a6"),
    "card_fill": ("#fbfbfc", "#2e3238"), "own_fill": ("#e3e6ea", "#4a4f57"),
    "card_border": ("#c5c9ce", "#5a5f66"), "text_on_light": ("#111111", "#111111"),
    "text_on_dark": ("#ffffff", "#ffffff"),
    "selection": ("#1a73e8", "#8ab4f8"), "group_highlight": ("#111111", "#f5f5f5"),
    "insert_line": ("#1a73e8", "#8ab4f8"), "drop_ok": ("#1e8e3e", "#81c995"),
    "drop_refused": ("#d93025", "#f28b82"), "drop_ok_veil": ("#34a853", "#34a853"),
    "drop_refused_veil": ("#ea4335", "#ea4335"), "drop_label": ("#ffffff", "#ffffff"),
    "error": ("#d93025", "#f28b82"), "diff_highlight": ("#46ffc850", "#46ffc850"),
    "fits": ("#3c59a14f", "#3c59a14f"), "does_not_fit": ("#32e15759", "#32e15759"),
    "design": ("#4e79a7", "#4e79a7"), "twin": ("#e15759", "#e15759"), "median": ("#4e79a7", "#4e79a7"),
    "baseline": ("#59a14f", "#59a14f"), "warmup": ("#a0969696", "#a0969696"),
    "plot_label": ("#666666", "#a8a8a8"), "neutral": ("#888888", "#888888"),
    "attention": ("#4e79a7", "#4e79a7"), "ffn": ("#f28e2b", "#f28e2b"), "time": ("#59a14f", "#59a14f"),
    "unique_bars": ("#0072B2", "#56B4E9"), "unshared_bars": ("#828282", "#9a9a9a"),
    "unshared_fill": ("#46969696", "#46969696"), "graph_edge": ("#96808080", "#96808080"),
}
_GROUPS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#8172B3", "#64B5CD", "#C44E52", "#55A868", "#937860")
_SERIES = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7")
DEFAULT_PALETTES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "groups": (_GROUPS, _GROUPS), "series": (_SERIES, _SERIES)}
DEFAULT_STYLES: dict[str, str] = {
    "hint": "color: {text_faint}; padding: 2px;",
    "hint_ok": "color: {drop_ok}; padding: 2px; font-weight: bold;",
    "hint_refused": "color: {drop_refused}; padding: 2px; font-weight: bold;",
    "title": "font-weight: bold; padding: 2px;",
    "summary": "color: {text_faint}; padding: 0 2px 2px 2px;",
    "error_label": "color: {error};",
    "invalid_field": "border: 2px solid {error};",
    "scheme_button": "text-align: left; padding: 2px 6px;",
}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class Theme:
    """roles[name] and palettes[name] are (light, dark); styles are templates with {role}."""

    roles: dict[str, tuple[QColor, QColor]]
    palettes: dict[str, tuple[tuple[QColor, ...], tuple[QColor, ...]]]
    styles: dict[str, str]


def theme_path() -> Path | None:
    return bundled.resource(THEME_FILE)


@cache
def current() -> Theme:
    """The theme, read once; built-in values wherever the file is missing, unreadable or wrong."""
    path = theme_path()
    problems: list[str] = []
    raw = None
    if path is None:
        problems.append("file not found")
    else:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
            problems.append(f"unreadable: {' '.join(str(err).split())}")
        else:
            if not isinstance(raw, dict):
                problems.append("not a mapping")
                raw = None
    sections = {key: _section(raw, key, problems) for key in ("roles", "palettes", "styles")}
    roles = {name: _pair(sections["roles"], f"roles.{name}", default, _color, problems)
             for name, default in DEFAULT_ROLES.items()}
    palettes = {name: _pair(sections["palettes"], f"palettes.{name}", default, _colors, problems)
                for name, default in DEFAULT_PALETTES.items()}
    styles = {name: _style(sections["styles"], name, default, problems) for name, default in DEFAULT_STYLES.items()}
    for key, known in (("roles", DEFAULT_ROLES), ("palettes", DEFAULT_PALETTES), ("styles", DEFAULT_STYLES)):
        problems += [f"{key}.{name}: unknown, ignored" for name in sections[key] or () if name not in known]
    if problems:
        shown = "; ".join(problems[:4]) + (f" (and {len(problems) - 4} more)" if len(problems) > 4 else "")
        log.warning("theme %s: %s; built-in colors used there", path or THEME_FILE, shown)
    return Theme(roles, palettes, styles)


def _section(raw: dict | None, key: str, problems: list[str]) -> dict | None:
    """raw[key] if it is a mapping; None (noted once) when the file has no usable section."""
    if raw is None:
        return None
    value = raw.get(key)
    if not isinstance(value, dict):
        problems.append(f"{key}: missing or not a mapping")
        return None
    return value


def _pair(section: dict | None, where: str, default: tuple, parse, problems: list[str]) -> tuple:
    """(light, dark) of one entry ("roles.error"), a {light: ..., dark: ...} mapping; defaults where
    it falls short."""
    value = None if section is None else section.get(where.split(".", 1)[1])
    if section is not None and not isinstance(value, dict):
        problems.append(f"{where}: missing" if value is None else f"{where}: not a {{light: ..., dark: ...}} mapping")
    found = value if isinstance(value, dict) else {}
    pair = []
    for i, variant in enumerate(VARIANTS):
        parsed = parse(found[variant]) if variant in found else None
        if found and parsed is None:
            problems.append(f"{where}.{variant}: {repr(found.get(variant))[:40]} is not valid")
        pair.append(parsed if parsed is not None else parse(default[i]))
    return tuple(pair)


def _color(text) -> QColor | None:
    return QColor.fromString(text) if isinstance(text, str) and QColor.isValidColorName(text) else None


def _colors(items) -> tuple[QColor, ...] | None:
    if not isinstance(items, (list, tuple)) or not items or not all(_color(t) is not None for t in items):
        return None
    return tuple(_color(t) for t in items)


def _style(section: dict | None, name: str, default: str, problems: list[str]) -> str:
    value = None if section is None else section.get(name)
    if section is not None and value is None:
        problems.append(f"styles.{name}: missing")
    elif value is not None and (not isinstance(value, str)
                                or any(m[1] not in DEFAULT_ROLES for m in _PLACEHOLDER.finditer(value))):
        problems.append(f"styles.{name}: not a style sheet of known {{role}} colors")
        value = None
    return default if value is None else value


def reload() -> Theme:
    """Read the theme file again (after it changed, or in tests)."""
    current.cache_clear()
    return current()


def is_dark() -> bool:
    """Whether the application palette is dark (its window color's lightness below half)."""
    app = QApplication.instance()
    if app is None:
        return False
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def color(role: str, dark: bool | None = None) -> QColor:
    """The role's color for the system palette (or `dark` if given); a copy the caller may change."""
    return QColor(current().roles[role][is_dark() if dark is None else dark])


def palette(name: str, dark: bool | None = None) -> tuple[QColor, ...]:
    """A list of colors ("groups", "series")."""
    return tuple(QColor(c) for c in current().palettes[name][is_dark() if dark is None else dark])


def series_color(index: int) -> QColor:
    """The color of the index-th series in a plot (the list repeats)."""
    series = current().palettes["series"][is_dark()]
    return QColor(series[index % len(series)])


def pen(role: str, width: float = 1.0, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    """A cosmetic pen (width in pixels at any zoom), as pyqtgraph's mkPen makes."""
    result = QPen(color(role), width, style)
    result.setCosmetic(True)
    return result


def brush(role: str) -> QBrush:
    return QBrush(color(role))


def css(qcolor: QColor) -> str:
    """A color as a style sheet value: #rrggbb, or rgba(...) when translucent."""
    if qcolor.alpha() == 255:
        return qcolor.name()
    return f"rgba({qcolor.red()}, {qcolor.green()}, {qcolor.blue()}, {qcolor.alpha()})"


def style(name: str) -> str:
    """A widget style sheet ("hint", "error_label", "invalid_field", ...) with the role colors filled in."""
    return _PLACEHOLDER.sub(lambda m: css(color(m[1])), current().styles[name])


def group_color(group: SharingGroup, index: int) -> QColor:
    """A group's own color, or the index-th of the group palette."""
    if group.color:
        own = QColor.fromString(group.color)
        if own.isValid():
            return own
    groups = current().palettes["groups"][is_dark()]
    return QColor(groups[index % len(groups)])


def text_on(fill: QColor) -> QColor:
    """The text color that reads better on `fill`: text_on_light or text_on_dark."""
    luminance = 0.299 * fill.redF() + 0.587 * fill.greenF() + 0.114 * fill.blueF()
    return color("text_on_light" if luminance > 0.6 else "text_on_dark")


def app_icon() -> QIcon:
    """The application icon (resources/icons/sharing-explorer.svg); an empty icon if it is missing."""
    path = bundled.resource(ICON_FILE)
    if path is None:
        log.warning("app icon %s not found", ICON_FILE)
        return QIcon()
    return QIcon(str(path))
