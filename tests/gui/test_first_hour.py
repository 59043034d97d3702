"""What a new user stumbled on in the first hour (issue 13), each checked in the window:
GQA in one click with a sensible default and its saving listed, structural sharing in the
Groups panel, a word after every edit, Universal Transformer's step on the card, grab
targets of usable size."""

from explorer.analysis import analyze
from explorer.analysis.structure import structural_entries
from explorer.gui.card_layout import LABEL_STRIP
from explorer.gui.edits import builtin_design
from explorer.gui.groups_panel import STRUCTURAL_ROLE
from explorer.presets import PRESETS_DIR
from explorer.spec import yaml_io


def rows(window) -> list[tuple[str, str, str]]:
    tree = window.groups_panel.tree
    return [tuple(tree.topLevelItem(i).text(c) for c in range(3)) for i in range(tree.topLevelItemCount())]


def test_gqa_in_one_click_names_what_it_did_and_lists_its_saving(make_window):
    window = make_window(builtin_design(4))                  # 12 heads
    before = window.model.report.params.unique
    assert window.palette_panel.apply("gqa")
    assert window.model.spec.settings.n_kv_heads == 3         # not 1 (that is MQA)
    message = window.statusBar().currentMessage()
    assert message.startswith("Grouped-query attention: n_kv_heads inherit → 3: ") and "unique" in message
    tree = window.groups_panel.tree
    (row,) = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
              if tree.topLevelItem(i).data(0, STRUCTURAL_ROLE)]
    (entry,) = structural_entries(window.model.spec)
    assert row.text(0) == "GQA" and entry.saved == before - window.model.report.params.unique
    assert "3 K/V heads for 12 queries" in row.toolTip(0)
    # the k/v chips and the attention label carry the group size
    chips = {c.slot: c.label for c in window.stack_view.cards[1].info.chips}
    assert chips["attention.k"] == "k4" and chips["attention.v"] == "v4"
    assert "GQA 3 K/V × 4 queries" in chips["attention"]


def test_schemes_that_take_members_say_what_changed(make_window):
    window = make_window(builtin_design(12))
    assert window.palette_panel.apply("albert-ffn")
    assert window.palette_panel.apply("interleaved")
    message = window.statusBar().currentMessage()
    assert "albert-ffn 12 → " in message or "group albert-ffn removed" in message


def test_structural_rows_for_every_preset_that_has_them(make_window):
    for name in ("cross-layer-kv", "factorized-embedding", "relaxed-recursion", "mqa"):
        spec = yaml_io.load(PRESETS_DIR / f"{name}.yaml")
        window = make_window(spec)
        listed = {r[0] for r in rows(window)}
        assert {e.name for e in structural_entries(spec)} <= listed
        window.close()


def test_universal_transformer_step_is_on_the_card_and_in_the_inspector(make_window):
    spec = yaml_io.load(PRESETS_DIR / "universal-transformer.yaml")
    window = make_window(spec)
    card = window.stack_view.cards[1]
    assert card.info.kind_line == "block · timestep · ACT halting"
    window.model.select_layers((spec.layers[1].id,))
    summary = window.inspector.summary.text()
    assert "timestep signal" in summary and "ACT halting" in summary
    plain = make_window(builtin_design(2)).stack_view.cards[1].info.kind_line
    assert plain == "block"


def test_whole_attention_target_is_at_least_24_px_tall(make_window):
    window = make_window(builtin_design(2))
    chips = window.stack_view.cards[1].info.chips
    attention = next(c for c in chips if c.slot == "attention")
    heads = [c for c in chips if c.is_head]
    strip = min(h.rect.top() for h in heads) - attention.rect.top()
    assert strip >= 24 and LABEL_STRIP >= 24
    assert min(h.rect.height() for h in heads) >= 20
    # the strip's middle grabs the attention, not a head
    card = window.stack_view.cards[1]
    middle = attention.rect.center()
    middle.setY(attention.rect.top() + strip / 2)
    assert card.chip_at(middle).slot == "attention"


def test_every_edit_says_what_it_did(make_window):
    window = make_window(builtin_design(4))
    window.model.select_layers(("block1",))
    assert window.inspector.set_field("d_ff", value=1024)
    message = window.statusBar().currentMessage()
    unique = analyze(window.model.spec).params.unique
    assert "unique" in message and f"{unique / 1e6:.2f} M" in message
