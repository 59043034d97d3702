"""The window's Compare / Sweeps / Training memory tabs, HF import and exports, driven with qtbot."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import threading

from explorer.analysis import analyze
from explorer.presets import PRESETS_DIR
from explorer.design import yaml_io
from explorer.design.strategies import apply_scheme

TUTORIAL = yaml_io.load(PRESETS_DIR / "tutorial-unshared.yaml")


def tab(window, title):
    tabs = window.bottom_tabs
    return next(tabs.widget(i) for i in range(tabs.count()) if tabs.tabText(i) == title)


def test_frontier_click_is_an_undoable_edit(make_window):
    window = make_window(TUTORIAL)
    window.bottom_tabs.setCurrentWidget(tab(window, "Sweeps"))
    sweeps = window.insight.sweeps
    sweeps.tabs.setCurrentIndex(2)
    sweeps.refresh()
    sweeps.apply_scheme_named("albert")
    assert window.model.spec == apply_scheme(TUTORIAL, "albert")
    window.model.undo_stack.undo()
    assert window.model.spec == TUTORIAL


def test_compare_tab_follows_the_design(make_window):
    window = make_window(TUTORIAL)
    window.bottom_tabs.setCurrentWidget(tab(window, "Compare"))
    compare = window.insight.compare
    compare.pin_current()
    window.insight.on_sweeps_apply_requested(apply_scheme(TUTORIAL, "cycle", blocks=3))
    rows = {name: (a, b) for name, a, b in compare.rows()}
    assert rows["params.unique"] == (analyze(window.model.spec).params.unique, analyze(TUTORIAL).params.unique)
    assert rows["params.unique"][1] == 4 * rows["params.unique"][0]


def test_planner_tab_follows_the_design(make_window):
    window = make_window(TUTORIAL)
    window.bottom_tabs.setCurrentWidget(tab(window, "Training memory"))
    planner = window.insight.planner
    before = planner.rows[0].weights
    window.insight.on_sweeps_apply_requested(apply_scheme(TUTORIAL, "albert"))
    assert planner.rows[0].weights * 12 == before


def test_import_hf_config(make_window, tmp_path):
    window = make_window(TUTORIAL)
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"model_type": "gpt2", "n_embd": 128, "n_layer": 3, "n_head": 4, "vocab_size": 500,
                               "n_positions": 64}))
    assert window.insight.import_hf(str(cfg))
    assert [layer.kind for layer in window.model.spec.layers] == ["embedding", "block", "block", "block", "norm"]
    bad = tmp_path / "bad.json"
    bad.write_text('{"model_type": "bart"}')
    spec = window.model.spec
    assert not window.insight.import_hf(str(bad))
    assert window.model.spec == spec and "'bart'" in window.statusBar().currentMessage()


def test_import_hf_config_with_its_head_from_the_menu(make_window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from explorer.design.hf_import import import_hf_config

    window = make_window(TUTORIAL)
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": 128,
                               "n_layer": 3, "n_head": 4, "vocab_size": 500, "n_positions": 64}))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(cfg), "")))
    menu_actions = {a.text(): a for m in window.menuBar().findChildren(type(window.presets_menu))
                    for a in m.actions()}
    menu_actions["Import Hugging Face config with its head…"].trigger()
    assert window.model.spec == import_hf_config(str(cfg), with_head=True)
    assert window.model.spec.layers[-1].kind == "lm_head"
    menu_actions["Import Hugging Face config…"].trigger()
    assert window.model.spec == import_hf_config(str(cfg)) and window.model.spec.layers[-1].kind != "lm_head"


def test_exports(make_window, tmp_path, qtbot):
    window = make_window(apply_scheme(TUTORIAL, "albert"))
    report = window.model.report
    assert window.insight.export_report(str(tmp_path / "r.json"))
    assert json.loads((tmp_path / "r.json").read_text())["params"]["unique"] == report.params.unique
    assert window.insight.export_report(str(tmp_path / "r.csv"))
    rows = {r["metric"]: r for r in csv.DictReader(io.StringIO((tmp_path / "r.csv").read_text()))}
    assert int(rows["params.unique"]["unshared_twin"]) == report.params.unshared
    assert window.insight.export_report(str(tmp_path / "r.md"))
    assert "| parameters | 3,152,384 |" in (tmp_path / "r.md").read_text()
    threads = []
    window.insight.export_done.connect(lambda _ok: threads.append(threading.current_thread()))
    with qtbot.waitSignal(window.insight.export_done, timeout=60_000) as ended:
        assert window.insight.export_model(str(tmp_path / "m.py"))      # written in a worker thread
    assert ended.args == [True] and "Standalone model written" in window.statusBar().currentMessage()
    assert threads == [threading.main_thread()]          # ... and said on the GUI thread
    spec = importlib.util.spec_from_file_location("m", tmp_path / "m.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert sum(p.numel() for p in module.build_model(device="meta").parameters()) == report.params.unique
