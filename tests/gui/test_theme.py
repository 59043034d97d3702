"""The theme: named color roles from resources/theme.yaml (light and dark), the fallback when
the file is missing or broken, the app icon, and no color literals left in the GUI code."""

import logging
import re
from pathlib import Path

import pytest
import yaml
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from explorer import bundled
from explorer.gui import theme

GUI_DIR = Path(theme.__file__).parent


@pytest.fixture(autouse=True)
def fresh_theme():
    """Each test reads the theme anew, and leaves no patched theme cached behind it."""
    theme.current.cache_clear()
    yield
    theme.current.cache_clear()


@pytest.fixture
def dark_palette(qapp):
    """A dark application palette for the test; the previous palette afterwards."""
    before = QPalette(qapp.palette())
    dark = QPalette(before)
    for role, value in ((QPalette.ColorRole.Window, "#353535"), (QPalette.ColorRole.WindowText, "#e8e8e8"),
                        (QPalette.ColorRole.Base, "#252525"), (QPalette.ColorRole.Text, "#e8e8e8"),
                        (QPalette.ColorRole.Button, "#353535"), (QPalette.ColorRole.ButtonText, "#e8e8e8")):
        dark.setColor(role, QColor(value))
    qapp.setPalette(dark)
    qapp.processEvents()
    yield dark
    qapp.setPalette(before)
    qapp.processEvents()


def shipped() -> dict:
    return yaml.safe_load(bundled.resource(theme.THEME_FILE).read_text(encoding="utf-8"))


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two opaque colors (1 to 21)."""
    def luminance(c: QColor) -> float:
        channels = [(v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4)
                    for v in (c.redF(), c.greenF(), c.blueF())]
        return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_every_role_has_a_light_and_a_dark_color(qapp, caplog):
    data = shipped()
    assert data["schema_version"] == 1
    assert set(data["roles"]) == set(theme.DEFAULT_ROLES)       # the file and the fallback name the same roles
    assert set(data["palettes"]) == set(theme.DEFAULT_PALETTES)
    assert set(data["styles"]) == set(theme.DEFAULT_STYLES)
    for name, entry in data["roles"].items():
        assert set(entry) == {"light", "dark"}, name
        for variant in theme.VARIANTS:
            assert QColor.isValidColorName(entry[variant]), (name, variant, entry[variant])
    with caplog.at_level(logging.WARNING, logger="explorer.gui.theme"):
        loaded = theme.current()
    assert not caplog.records                                   # the shipped file is complete and valid
    for name, (light, dark) in loaded.roles.items():
        assert light.isValid() and dark.isValid(), name
        assert light == QColor.fromString(data["roles"][name]["light"])
        assert dark == QColor.fromString(data["roles"][name]["dark"])
    assert [c.name() for c in theme.palette("groups", dark=False)][:3] == ["#0072b2", "#e69f00", "#009e73"]
    assert len(theme.palette("series")) == 8
    assert theme.color("error", dark=False).name() == "#d93025"
    assert theme.color("warmup").alpha() < 255                 # "#aarrggbb" keeps its alpha


def test_the_theme_file_is_read_with_safe_load(monkeypatch, tmp_path, caplog):
    calls = []
    real = yaml.safe_load
    monkeypatch.setattr(theme.yaml, "safe_load", lambda text: calls.append(text) or real(text))
    theme.current()
    assert len(calls) == 1
    theme.color("text"), theme.color("error")
    assert len(calls) == 1                                      # read once, then cached
    # a file that would run code under yaml.load is refused, and the app keeps its colors
    marker = tmp_path / "ran"
    hostile = tmp_path / "theme.yaml"
    hostile.write_text(f"!!python/object/apply:os.system ['touch {marker}']\n", encoding="utf-8")
    monkeypatch.setattr(theme, "theme_path", lambda: hostile)
    with caplog.at_level(logging.WARNING, logger="explorer.gui.theme"):
        assert theme.reload().roles["error"][0].name() == theme.DEFAULT_ROLES["error"][0]
    assert not marker.exists()
    assert len(caplog.records) == 1 and "unreadable" in caplog.records[0].getMessage()


@pytest.mark.parametrize("content, expect", [
    (None, "file not found"),
    ("roles: [unclosed\n", "unreadable"),
    ("- just\n- a list\n", "not a mapping"),
    ("the shipped file, one color broken", "roles.error.light: 'nonsense' is not valid"),
])
def test_a_missing_or_broken_theme_falls_back_with_one_warning(content, expect, monkeypatch, tmp_path, caplog,
                                                               make_window):
    path = None
    if content is not None:
        if content.startswith("the shipped file"):
            content = bundled.resource(theme.THEME_FILE).read_text(encoding="utf-8").replace(
                'error:             {light: "#d93025", dark: "#f28b82"}', 'error: {light: nonsense, dark: "#ff0000"}')
        path = tmp_path / "theme.yaml"
        path.write_text(content, encoding="utf-8")
    monkeypatch.setattr(theme, "theme_path", lambda: path)
    with caplog.at_level(logging.WARNING, logger="explorer.gui.theme"):
        loaded = theme.reload()
        theme.color("text")
    records = [r for r in caplog.records if r.name == "explorer.gui.theme"]
    assert len(records) == 1 and expect in records[0].getMessage()
    # every role still has both colors: the built-in ones wherever the file fell short
    for name, (light, dark) in loaded.roles.items():
        assert light.isValid() and dark.isValid(), name
    assert loaded.roles["error"][0] == QColor.fromString(theme.DEFAULT_ROLES["error"][0])
    if "roles.error" in expect:                                 # what the file got right is kept
        assert loaded.roles["error"][1].name() == "#ff0000"
    assert theme.style("error_label") == "color: #d93025;"
    window = make_window()                                      # and the app still opens
    assert window.stack_view.cards


def test_app_icon_loads_and_is_the_window_icon(make_window):
    from explorer.gui.app import application

    icon = theme.app_icon()
    assert not icon.isNull() and not icon.pixmap(64, 64).isNull()
    app = application()
    assert not app.windowIcon().isNull()
    window = make_window()
    shown = window.windowIcon().pixmap(32, 32).toImage()
    assert shown == icon.pixmap(32, 32).toImage()


def test_no_color_literals_outside_the_theme():
    """Colors and color style sheets live in resources/theme.yaml, read by theme.py; the
    GUI code names roles, so a hard-coded color cannot come back unnoticed."""
    patterns = {
        "hex color": re.compile(r"#[0-9a-fA-F]{6}(?:[0-9a-fA-F]{2})?\b|[\"']#[0-9a-fA-F]{3}[\"']"),
        "literal QColor": re.compile(r"QColor\(\s*(?:[\"']|\d)"),
        "literal pen or brush": re.compile(r"mk(?:Pen|Brush)\(\s*(?:[\"']|\d)"),
        "color keyword": re.compile(r"\bcolor[\"']?\s*[=:]\s*[\"'](?!\s*\{)"),
        "style sheet with a color": re.compile(r"setStyleSheet\(\s*f?[\"'][^\"']*(?:color|#|rgb|palette\()"),
        "named Qt color": re.compile(r"Qt\.GlobalColor\.(?!transparent\b)\w+"),
    }
    found = []
    for path in sorted(GUI_DIR.glob("*.py")):
        if path.name == "theme.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            found += [f"{path.name}:{number}: {what}: {line.strip()}" for what, pattern in patterns.items()
                      if pattern.search(line)]
    assert not found, "\n".join(found)


def test_a_dark_palette_gives_the_dark_colors(dark_palette, make_window, qapp):
    data = shipped()["roles"]
    assert theme.is_dark()
    for role in ("text", "card_fill", "selection", "error", "unique_bars"):
        assert theme.color(role) == QColor.fromString(data[role]["dark"]), role
    window = make_window()
    assert window.metrics.unique_bars.opts["brush"].color() == theme.color("unique_bars")
    assert theme.css(theme.color("text_faint")) in window.groups_panel.hint.styleSheet()
    card = window.stack_view.cards[0]
    image = window.stack_view.grab().toImage()
    inside = window.stack_view.mapFromScene(card.mapToScene(card.boundingRect().center().x() / 4, 30))
    pixel = image.pixelColor(inside * image.devicePixelRatio())
    assert pixel.lightness() < 128                              # the cards are painted dark
    qapp.setPalette(QPalette())                                 # back to light while the window runs
    qapp.processEvents()
    assert not theme.is_dark()
    assert window.metrics.unique_bars.opts["brush"].color() == theme.color("unique_bars")
    assert theme.css(theme.color("text_faint")) in window.groups_panel.hint.styleSheet()


def test_hints_read_well_on_both_palettes(qapp, dark_palette):
    """The Groups hint and the inspector summary: normal size, text_faint with enough contrast."""
    assert "font-size" not in theme.style("hint")
    for dark in (False, True):
        window_color = QColor("#efefef") if not dark else dark_palette.color(QPalette.ColorRole.Window)
        assert contrast(theme.color("text_faint", dark=dark), window_color) >= 4.5
        assert contrast(theme.color("error", dark=dark), window_color) >= 4.0


def test_style_sheets_fill_in_role_colors():
    assert theme.style("invalid_field") == "border: 2px solid #d93025;"
    assert theme.style("hint_ok") == "color: #1e8e3e; padding: 2px; font-weight: bold;"
    assert theme.css(theme.color("diff_highlight")).startswith("rgba(")
    assert QApplication.instance() is not None
