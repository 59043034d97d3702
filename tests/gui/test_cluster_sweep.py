"""The Sweeps tab on a Ray cluster: Cluster > Ray address… tests an address in a worker thread
(an unreachable one is one line in the dialog, and the window stays usable); with "local" (a
Ray of 2 workers here) the timed and trained scheme sweeps fill one row per point as the Ray
tasks finish, with where each ran and the same unique parameters as in this process; Stop
cancels the tasks still running."""

from __future__ import annotations

import os
import threading

import pytest

ray = pytest.importorskip("ray")
# a Ray in the background of the window: run once, offscreen (the Xvfb rerun leaves them out)
pytestmark = pytest.mark.cluster
pytest.importorskip("torch")

from explorer.design.model import LayerSpec, ModelSettings, StackSpec
from explorer.gui import cluster_settings

TINY = StackSpec(ModelSettings(d_model=32, n_heads=4, d_ff=64, vocab_size=64, max_positions=128, causal=True),
                 (LayerSpec("emb", "embedding"), *(LayerSpec(f"b{i}", "block") for i in range(4)),
                  LayerSpec("out", "lm_head")), name="tiny")
SCHEMES = ["none", "unshared", "albert", "cycle"]


def _sweeps_tab(window):
    view = window.insight.sweeps
    window.bottom_tabs.setCurrentWidget(view)
    view.tabs.setCurrentIndex(2)
    return view


def _small_timing(view) -> None:
    view.schemes.controls.time_iters.setValue(2)
    view.schemes.controls.time_seq.setValue(16)
    view.schemes.controls.only_edit.setText("albert,cycle")


def test_an_unreachable_address_is_one_line_in_the_dialog(qtbot, make_window):
    window = make_window(TINY)
    dialog = window.cluster_dialog
    dialog.timeout_s = 3
    window.cluster_action.trigger()
    assert dialog.isVisible()
    dialog.address_edit.setText("127.0.0.1:1")
    threads = []
    dialog.test_finished.connect(lambda _ok: threads.append(threading.current_thread()))
    with qtbot.waitSignal(dialog.test_finished, timeout=30_000) as blocker:
        dialog.test_button.click()
        assert not dialog.test_button.isEnabled()           # the GUI thread is free while it connects
        window.select_all()                                 # ... and the window answers
    assert blocker.args == [False]
    assert threads == [threading.main_thread()]             # the outcome is shown by the GUI thread
    line = dialog.result_label.text()
    assert "cannot reach the Ray cluster at '127.0.0.1:1'" in line and "\n" not in line
    # nothing of Ray is left behind in this process (a stuck init would race the next one)
    assert not ray.is_initialized() and not any(t.name == "ray-connect" for t in threading.enumerate())
    assert window.statusBar().currentMessage() == line
    assert dialog.test_button.isEnabled()
    dialog.accept()                                         # saved: the Sweeps tab may run on it
    assert cluster_settings.ray_address() == "127.0.0.1:1"
    view = window.insight.sweeps
    check = view.schemes.controls.cluster_check
    assert check.isEnabled() and "127.0.0.1:1" in check.text()
    window.cluster_action.trigger()
    dialog.address_edit.setText("")                         # empty: in this process
    dialog.accept()
    assert cluster_settings.ray_address() == "" and not view.schemes.controls.cluster_check.isEnabled()


@pytest.fixture(scope="module")
def local_ray():
    """"local" starts a Ray of 2 workers (EXPLORER_RAY_CPUS); shut down after these tests."""
    before = os.environ.get("EXPLORER_RAY_CPUS")
    os.environ["EXPLORER_RAY_CPUS"] = "2"
    yield
    cluster_settings.shutdown()
    assert not ray.is_initialized()
    if before is None:
        os.environ.pop("EXPLORER_RAY_CPUS", None)
    else:
        os.environ["EXPLORER_RAY_CPUS"] = before


def test_a_timed_sweep_on_a_local_ray_streams_rows_with_where_they_ran(qtbot, make_window, local_ray):
    window = make_window(TINY)
    dialog = window.cluster_dialog
    window.cluster_action.trigger()
    dialog.address_edit.setText("local")
    with qtbot.waitSignal(dialog.test_finished, timeout=120_000) as blocker:
        dialog.test_button.click()
    assert blocker.args == [True], dialog.result_label.text()
    assert "1 node, 2 CPUs" in dialog.result_label.text()
    dialog.accept()
    view = _sweeps_tab(window)
    assert view.schemes.controls.cluster_check.isEnabled()
    view.schemes.controls.cluster_check.setChecked(True)
    _small_timing(view)
    with qtbot.waitSignal(view.points_finished, timeout=300_000):
        view.schemes.controls.time_button.click()
        assert view.schemes.controls.time_button.text() == "Stop"
    assert view.schemes.controls.time_button.text() == "Time"
    assert view.schemes.controls.time_status.text().startswith("done: 4 schemes timed")
    assert view.schemes._points_received == 4                       # one row per point, as each task finished
    remote = {r["label"]: r for r in view.schemes.timed_rows}
    assert [r["label"] for r in view.schemes.timed_rows] == SCHEMES
    for row in remote.values():
        assert row["error"] == "" and row["median_ms"] > 0
        assert row["where"] and not row["where"].startswith("local")
    # the table and the plot: median time against unique parameters, labelled
    table = view.schemes.frontier.scheme_table
    assert table.rowCount() == 4 and table.horizontalHeaderItem(2).text() == "median ms"
    assert [table.item(r, 4).text() for r in range(4)] == [remote[s]["where"] for s in SCHEMES]
    points = {p.data(): p for p in view.schemes.frontier.frontier_scatter.points()}
    assert set(points) == set(SCHEMES)
    assert (points["albert"].pos().x(), points["albert"].pos().y()) == pytest.approx(
        (remote["albert"]["unique_params"], remote["albert"]["median_ms"]))
    assert "none" in {label.textItem.toPlainText() for label in view.schemes.frontier._frontier_labels}
    shot = os.environ.get("EXPLORER_SCREENSHOT")
    if shot:
        qtbot.wait(200)
        window.grab().save(shot)
    # the same points in this process: the same unique parameters, where = local (...)
    view.schemes.controls.cluster_check.setChecked(False)
    with qtbot.waitSignal(view.points_finished, timeout=300_000):
        view.schemes.controls.time_button.click()
    local = {r["label"]: r for r in view.schemes.timed_rows}
    assert set(local) == set(remote)
    for label, row in local.items():
        assert row["error"] == "" and row["where"].startswith("local")
        assert row["unique_params"] == remote[label]["unique_params"]
        assert row["forward_flops"] == remote[label]["forward_flops"]
    assert remote["albert"]["unique_params"] < remote["none"]["unique_params"]
    view.shutdown()


def test_a_trained_sweep_runs_on_the_cluster_too(qtbot, sweep_cluster_view):
    view = sweep_cluster_view
    view.schemes.controls.train_steps.setValue(2)
    view.schemes.controls.train_width.setValue(32)
    view.schemes.controls.train_depth.setValue(2)
    view.schemes.controls.train_batch.setValue(2)
    view.schemes.controls.train_seq.setValue(16)
    view.schemes.controls.only_edit.setText("albert")
    with qtbot.waitSignal(view.training_finished, timeout=300_000):
        view.schemes.controls.train_button.click()
        assert view.schemes.controls.train_button.text() == "Stop"
    assert view.schemes.controls.train_check.isChecked()
    assert view.schemes.controls.train_status.text().startswith("done: 3 schemes trained")
    runs = {r.scheme: r for r in view.schemes.trained_runs}
    assert list(runs) == ["none", "unshared", "albert"] and all(r.ok for r in runs.values())
    assert runs["albert"].params < runs["none"].params
    assert all(view.schemes.trained_where[s] and not view.schemes.trained_where[s].startswith("local") for s in runs)
    assert view.schemes.frontier.scheme_table.horizontalHeaderItem(5).text() == "where"
    assert view.schemes.frontier.scheme_table.item(2, 5).text() == view.schemes.trained_where["albert"]


def test_stop_cancels_a_cluster_sweep(qtbot, sweep_cluster_view):
    view = sweep_cluster_view
    _small_timing(view)
    view.schemes.controls.time_iters.setValue(10_000)
    view.schemes.controls.time_seq.setValue(32)
    with qtbot.waitSignal(view.points_finished, timeout=120_000):
        view.schemes.controls.time_button.click()
        qtbot.waitUntil(lambda: view.schemes.controls.time_status.text().startswith("running on"), timeout=60_000)
        qtbot.wait(500)
        view.schemes.controls.time_button.click()                            # Stop
    assert view.schemes.controls.time_status.text().startswith("stopped")
    assert view.schemes.controls.time_button.text() == "Time"
    assert len(view.schemes.timed_rows) == 4
    assert all("stopped" in r["error"] for r in view.schemes.timed_rows)
    assert view.schemes.frontier.scheme_table.rowCount() == 4


@pytest.fixture
def sweep_cluster_view(qtbot, local_ray):
    from explorer.gui.sweep_view import SweepView

    view = SweepView()
    qtbot.addWidget(view)
    view.resize(1200, 600)
    view.show()
    view.set_spec(TINY)
    view.tabs.setCurrentIndex(2)
    view.set_ray_address("local")
    view.schemes.controls.cluster_check.setChecked(True)
    yield view
    view.shutdown()
