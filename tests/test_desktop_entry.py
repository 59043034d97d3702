"""The .desktop entry for Linux desktops and its per-user install (pure: no Qt)."""

import configparser
import sys
from pathlib import Path

import pytest

from explorer import bundled, desktop
from explorer.errors import ExplorerError

REQUIRED = {"Type": "Application", "Name": "Sharing Explorer", "Exec": "explorer %f", "Icon": "sharing-explorer",
            "Terminal": "false", "Categories": "Science;Education;Development;"}


def read_entry(path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str                                   # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def test_the_shipped_entry_parses_and_has_the_required_keys():
    entry = read_entry(bundled.resource(desktop.DESKTOP_FILE))
    for key, value in REQUIRED.items():
        assert entry[key] == value, key
    assert bundled.resource(desktop.ICON_FILE).read_text(encoding="utf-8").lstrip().startswith("<?xml")


@pytest.mark.parametrize("script", ["/opt/tools/bin/explorer", None])
def test_install_writes_the_entry_and_the_icon(tmp_path, monkeypatch, script):
    monkeypatch.setattr(desktop.shutil, "which", lambda name: script if name == "explorer" else None)
    written = desktop.install_desktop_entry(tmp_path)
    entry_path = tmp_path / "applications" / "sharing-explorer.desktop"
    icon_path = tmp_path / "icons" / "hicolor" / "scalable" / "apps" / "sharing-explorer.svg"
    assert written == [entry_path, icon_path]
    assert icon_path.read_bytes() == bundled.resource(desktop.ICON_FILE).read_bytes()
    entry = read_entry(entry_path)
    expected = f"{script} %f" if script else f"{desktop.exec_arg(sys.executable)} -m explorer %f"
    assert entry["Exec"] == expected
    assert entry["Icon"] == icon_path.stem == "sharing-explorer"
    assert {k: v for k, v in entry.items() if k != "Exec"} == \
        {k: v for k, v in read_entry(bundled.resource(desktop.DESKTOP_FILE)).items() if k != "Exec"}


def test_install_defaults_to_xdg_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert desktop.install_desktop_entry()[0] == tmp_path / "data" / "applications" / "sharing-explorer.desktop"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")     # the XDG rule: only absolute paths count
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert desktop.default_data_home() == tmp_path / "home" / ".local" / "share"


def test_exec_arguments_are_quoted_as_the_spec_asks():
    assert desktop.exec_arg("/usr/bin/explorer") == "/usr/bin/explorer"
    assert desktop.exec_arg("/home/me/my envs/bin/python") == '"/home/me/my envs/bin/python"'
    # inside quotes ", `, $ and \ are escaped, and then (a string value) every backslash is doubled
    assert desktop.exec_arg('/a b/$x"') == '"/a b/\\\\$x\\\\""'
    assert desktop.exec_arg("/100%/python") == "/100%%/python"


def test_an_unwritable_place_is_one_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(ExplorerError, match="cannot install the desktop entry"):
        desktop.install_desktop_entry(blocker)


def test_cli_desktop_entry_installs_both_files(tmp_path, capsys):
    from explorer.cli import main

    assert main(["desktop-entry", "--data-home", str(tmp_path)]) == 0
    written = [line.removeprefix("wrote ") for line in capsys.readouterr().out.splitlines()]
    icon = tmp_path / "icons" / "hicolor" / "scalable" / "apps" / "sharing-explorer.svg"
    assert sorted(written) == sorted([str(tmp_path / "applications" / "sharing-explorer.desktop"), str(icon)])
    assert all(Path(p).is_file() for p in written)
