"""Soak: thousands of random edits through the window's own handlers, then undo all and redo all.

Every edit goes through what a person's action calls: palette inserts and schemes, card and
chip drops on the stack, drops on the groups panel, inspector field edits, delete and
duplicate. Undo of all returns exactly the starting design, redo of all the final one, and
memory stays flat over repeated full undo/redo sweeps.
"""

from __future__ import annotations

import gc
import os
import random
import time

import pytest

from explorer.design import edits
from explorer.gui import commands
from explorer.design.strategies import SCHEMES

EDITS = int(os.environ.get("SOAK_EDITS", "2000"))
KINDS = ("block", "ffn", "attention", "norm", "linear")
SLOTS = ("ffn", "attention", "norm", "attention.q", "attention.o")
FIELDS = (("d_ff", (256, 384, 512)), ("n_heads", (4, 8)), ("activation", ("gelu", "relu", "swiglu")),
          ("norm_position", ("pre", "post")), ("causal", (True, False)))


def small_design():
    from explorer.design.model import LayerSpec, ModelSettings, StackSpec

    return StackSpec(settings=ModelSettings(d_model=128, n_heads=4, d_ff=256, vocab_size=1000, max_positions=256),
                     layers=(LayerSpec("embedding", "embedding"),)
                     + tuple(LayerSpec(f"block{i}", "block") for i in range(8)), name="soak")


def random_edit(window, rng: random.Random) -> None:
    model, view = window.model, window.stack_view
    spec = model.spec
    ids = [layer.id for layer in spec.layers]
    action = rng.randrange(9)
    if action == 0 and len(ids) < 24:                               # palette kind dropped into a gap
        data = window.palette_panel.kinds.mimeData([window.palette_panel.kinds.item(
            list(window.palette_panel.kinds.item(i).text() for i in range(window.palette_panel.kinds.count()))
            .index(rng.choice(KINDS)))])
        view.accept_drop(data, view.target_at(view.gap_point(rng.randrange(1, len(ids) + 1)), data))
    elif action == 1 and len(ids) > 2:                              # card dragged to a new place
        data = view.drag_payload(rng.choice(ids[1:]), None)
        view.accept_drop(data, view.target_at(view.gap_point(rng.randrange(1, len(ids) + 1)), data))
    elif action == 2:                                               # slot onto the same slot of another layer
        blocks = [layer.id for layer in spec.layers if layer.kind == "block"]
        if len(blocks) >= 2:
            a, b = rng.sample(blocks, 2)
            slot = rng.choice(SLOTS)
            data = view.drag_payload(a, slot)
            view.accept_drop(data, view.target_at(view.chip_point(b, slot), data))
    elif action == 3:                                               # card or chip onto the groups panel
        data = view.drag_payload(rng.choice(ids), rng.choice((None,) + SLOTS))
        names = [g.name for g in spec.groups]
        window.groups_panel.tree.accept_drop(data, rng.choice(names + [None]) if names else None)
    elif action == 4:                                               # a one-click scheme
        window.palette_panel.scope_all.setChecked(True)
        window.palette_panel.apply(rng.choice([n for n in SCHEMES if n not in ("multi-task",)]))
    elif action == 5:                                               # inspector edit of a layer field
        blocks = [layer.id for layer in spec.layers if layer.kind == "block"]
        if blocks:
            key, values = rng.choice(FIELDS)
            lid = rng.choice(blocks)
            model.edit(commands.SetField, f"Set {key}",
                       lambda s: edits.set_layer_field(s, lid, key, rng.choice(values)), target=(lid, key))
    elif action == 6 and len(ids) > 4:                              # Delete
        model.select_layers((rng.choice(ids[1:]),))
        window.delete_selected()
    elif action == 7 and len(ids) < 24:                             # Ctrl+D
        model.select_layers((rng.choice(ids[1:]),))
        window.duplicate_selected()
    else:                                                           # global setting edit
        model.edit(commands.SetField, "Set d_ff", lambda s: edits.set_setting(s, "d_ff", rng.choice((256, 320))),
                   target=("model", "d_ff"))


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads resident memory from /proc")
def test_soak_random_edits_undo_all_redo_all(make_window):
    window = make_window(small_design())
    model = window.model
    stack = model.undo_stack
    stack.setUndoLimit(0)
    start = model.spec
    rng = random.Random(1234)
    t0 = time.perf_counter()
    for _ in range(EDITS):
        random_edit(window, rng)
    final = model.spec
    t1 = time.perf_counter()
    pushed = stack.count()
    assert pushed > EDITS // 4, f"only {pushed} of {EDITS} random edits were valid"
    stack.setIndex(0)
    assert model.spec == start
    stack.setIndex(pushed)
    assert model.spec == final
    print(f"soak: edits {t1 - t0:.1f} s, undo all + redo all {time.perf_counter() - t1:.1f} s")
    # memory: repeated full undo/redo sweeps do not grow it (resident set, no tracing overhead)
    gc.collect()
    first = rss_bytes()
    for _ in range(2):
        stack.setIndex(0)
        stack.setIndex(pushed)
    gc.collect()
    growth = rss_bytes() - first
    print(f"soak: {EDITS} random edits, {pushed} on the undo stack; resident memory growth over 2 full "
          f"undo/redo sweeps {growth / 1024:.0f} KiB")
    assert growth < 16 * 1024 * 1024
    assert model.spec == final


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
