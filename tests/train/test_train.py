"""Training a design beside its twin: data without downloads, the objective each design needs,
same batches and seeds for every series, determinism, divergence, checkpoints that store each
shared tensor once and load back (also into the exported standalone file), and the CLI."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import random
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from explorer.design import yaml_io
from explorer.design.model import LayerSpec, ModelSettings, StackSpec
from explorer.design.strategies import apply_scheme
from explorer.errors import SpecError
from explorer.presets import PRESETS_DIR
from explorer.torchmodel import build_model
from explorer.torchmodel.export import export_source
from explorer.train.adapt import scale_down, trainable
from explorer.train.batches import IGNORE, make_batch
from explorer.train.checkpoint import load_checkpoint, save_checkpoint
from explorer.train.data import Task, data_source, stdlib_corpus, text_source
from explorer.train.engine import TrainConfig, train

torch.set_num_threads(1)


def tiny(causal: bool = True, n: int = 4, **settings) -> StackSpec:
    s = ModelSettings(**{"d_model": 32, "n_heads": 4, "d_ff": 64, "vocab_size": 256, "max_positions": 64,
                         "causal": causal, "positional": "learned", **settings})
    layers = [LayerSpec("emb", "embedding"), *(LayerSpec(f"b{i}", "block") for i in range(n)),
              LayerSpec("out", "lm_head")]
    return StackSpec(s, tuple(layers), name="tiny")


FAST = TrainConfig(steps=12, batch=4, seq=16, eval_every=6, eval_batches=2, lr=3e-3)


# ---------------------------------------------------------------- data

def test_stdlib_corpus_is_split_by_file_and_fixed():
    a, b = stdlib_corpus(), stdlib_corpus()
    assert a.train == b.train and a.validation == b.validation
    assert len(a.train) > 1_000_000 and len(a.validation) > 50_000
    assert a.files[0] > 10 * a.files[1] / 2 > 0                      # about one file in ten is validation
    assert a.train[:200] not in a.validation


def test_text_file_and_folder(tmp_path):
    text = tmp_path / "a.txt"
    text.write_bytes(b"hello world " * 500)
    src = text_source(str(text))
    assert len(src.train) == 9 * len(src.validation) + len(src.train) % 10 or len(src.validation) > 0
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(20):
        (folder / f"f{i}.md").write_text(f"file {i} " * 50)
    src = data_source(str(folder))
    assert src.files[0] + src.files[1] == 20 and src.files[1] > 0
    with pytest.raises(SpecError) as info:
        data_source(str(tmp_path / "missing"))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name,digits,answer", [("copy", [3, 1, 2], [3, 1, 2]), ("reverse", [3, 1, 2], [2, 1, 3]),
                                                ("sort", [3, 1, 2], [1, 2, 3]), ("add", [1, 9, 5, 3], [6, 2, 0, 0])])
def test_tasks(name, digits, answer):
    assert Task(name).answer(digits) == answer
    s = Task(name).sample(random.Random(0), 9)
    assert len(s.tokens) == 9 and s.tokens[s.answer_from - 1] == Task.SEP


def test_masked_objective_hides_what_it_scores():
    task = Task("reverse")
    b = make_batch(task, random.Random(1), 3, 11, "masked", task.vocab, task.vocab)
    ids, = b.inputs
    scored = b.targets != IGNORE
    assert scored.any() and bool((ids[scored] == task.vocab).all())        # every answer is [MASK]ed
    text = stdlib_corpus()
    b = make_batch(text, random.Random(1), 8, 64, "masked", 256, 256)
    share = float((b.targets != IGNORE).float().mean())
    assert 0.08 < share < 0.25                                              # about 15%


def test_next_token_targets_are_the_inputs_shifted():
    text = stdlib_corpus()
    b = make_batch(text, random.Random(3), 2, 16, "next-token", 256, None)
    ids, = b.inputs
    assert torch.equal(ids[:, 1:], b.targets[:, :-1])


# ---------------------------------------------------------------- adapting and scaling

def test_objective_follows_the_design():
    assert trainable(tiny(causal=True), 256, 32).objective == "next-token"
    assert trainable(tiny(causal=False), 256, 32).objective == "masked"
    t5 = yaml_io.load(PRESETS_DIR / "t5-small.yaml")
    assert trainable(t5, 256, 32).objective == "seq2seq"
    bare = yaml_io.load(PRESETS_DIR / "tutorial-all-shared.yaml")
    a = trainable(bare, 256, 32)
    assert a.spec.layers[0].kind == "embedding" and a.spec.layers[-1].kind == "lm_head" and len(a.added) == 2
    assert any("added" in n for n in a.notes)


def test_scale_down_keeps_the_sharing_pattern():
    spec = apply_scheme(tiny(n=6), "cycle", blocks=2)
    small, notes = scale_down(spec, width=16, depth=4, heads=2, vocab=100)
    assert [[m.layer for m in g.members] for g in small.groups] == [["b0", "b2"], ["b1", "b3"]]
    assert small.settings.d_model == 16 and small.settings.n_heads == 2 and len(notes) == 4
    with pytest.raises(SpecError):
        scale_down(spec, width=0)


# ---------------------------------------------------------------- the engine

def test_losses_fall_and_the_twin_sees_the_same_batches():
    spec = apply_scheme(tiny(), "albert")
    result = train(spec, dataclasses.replace(FAST, steps=40, eval_every=20, twin=True))
    d, t = result.series["design"], result.series["twin"]
    assert d.params < t.params
    assert sum(d.train_loss[-5:]) / 5 < sum(d.train_loss[:5]) / 5
    assert len(d.val_loss) == 2 and d.tokens == t.tokens == 40 * 4 * 16
    # a design without sharing is its own twin: same init, same batches, so the very same losses
    plain = train(tiny(), dataclasses.replace(FAST, twin=True))
    assert plain.series["design"].train_loss == plain.series["twin"].train_loss


def test_same_seed_same_losses_with_or_without_twin():
    spec = apply_scheme(tiny(), "cycle", blocks=2)
    a = train(spec, FAST)
    b = train(spec, dataclasses.replace(FAST, twin=True))
    c = train(spec, dataclasses.replace(FAST, seed=1))
    assert a.series["design"].train_loss == b.series["design"].train_loss            # bit for bit
    assert a.series["design"].val_loss == b.series["design"].val_loss
    assert a.series["design"].train_loss != c.series["design"].train_loss


def test_tasks_report_accuracy_and_length_generalization():
    result = train(tiny(), dataclasses.replace(FAST, data="task:copy"))
    s = result.series["design"]
    assert s.val_accuracy and 0.0 <= s.val_accuracy[-1][1] <= 1.0
    assert s.length_generalization["seq"] == 2 * FAST.seq


def test_encoder_decoder_trains():
    t5, _ = scale_down(yaml_io.load(PRESETS_DIR / "t5-small.yaml"), width=32, depth=2, heads=2)
    result = train(t5, FAST)
    assert result.objective == "seq2seq" and len(result.series["design"].train_loss) == FAST.steps


def test_divergence_is_one_line_and_stops_that_series(monkeypatch):
    """A loss that stops being finite ends that series in one line; the twin goes on. (Forced: whether
    a high learning rate blows up on a CPU depends on its threads and batch.)"""
    from explorer.train import engine

    real, calls = engine._loss, []

    def loss(model, batch, head):
        value, logits = real(model, batch, head)
        calls.append(head)
        return (value * float("nan"), logits) if len(calls) == 7 else (value, logits)

    monkeypatch.setattr(engine, "_loss", loss)
    result = train(apply_scheme(tiny(), "albert"), dataclasses.replace(FAST, twin=True, eval_every=100))
    d, t = result.series["design"], result.series["twin"]
    assert d.diverged is not None and "\n" not in d.diverged and "step 4" in d.diverged
    assert len(d.train_loss) == 4 and len(t.train_loss) == FAST.steps and t.diverged is None
    assert result.error is None


def test_stop_and_bad_options():
    calls = []
    result = train(tiny(), FAST, should_stop=lambda: len(calls) > 3, on_step=lambda *a: calls.append(a))
    assert result.cancelled and len(result.series["design"].train_loss) == 4
    with pytest.raises(SpecError) as info:
        train(tiny(), dataclasses.replace(FAST, steps=0))
    assert info.value.path == "steps"


# ---------------------------------------------------------------- checkpoints

def test_checkpoints_store_shared_tensors_once_and_load_back(tmp_path):
    spec = trainable(apply_scheme(tiny(n=6), "albert"), 256, 32).spec
    twin = trainable(tiny(n=6), 256, 32).spec
    model, twin_model = build_model(spec, seed=1), build_model(twin, seed=1)
    size = save_checkpoint(model, tmp_path / "design.safetensors")
    twin_size = save_checkpoint(twin_model, tmp_path / "twin.safetensors")
    blocks = sum(p.numel() for n, p in twin_model.named_parameters() if ".core." in n and "runners.0." not in n
                 and "runners.7." not in n) * 4
    # five of six blocks are not stored (the rest of the difference: the twin's longer header of tensor names)
    assert blocks * 5 / 6 <= twin_size - size <= blocks * 5 / 6 + 16 * 1024
    fresh = build_model(spec, seed=2)
    load_checkpoint(fresh, tmp_path / "design.safetensors")
    for (na, a), (nb, b) in zip(model.named_parameters(), fresh.named_parameters()):
        assert na == nb and torch.equal(a, b)
    x = model.example_input(2, 8)
    with torch.no_grad():
        assert torch.equal(model(x)["out"], fresh(x)["out"])
    # the standalone file `explorer export` writes loads it too
    path = tmp_path / "model.py"
    path.write_text(export_source(spec))
    module_spec = importlib.util.spec_from_file_location("exported", path)
    exported = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(exported)
    standalone = exported.build_model(seed=5)
    load_checkpoint(standalone, tmp_path / "design.safetensors")
    with torch.no_grad():
        assert torch.equal(standalone(x)["out"], model(x)["out"])
    with pytest.raises(SpecError) as info:
        load_checkpoint(twin_model, tmp_path / "design.safetensors")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all" * 8, "truncated"],
                         ids=["empty", "junk", "truncated"])
def test_unreadable_checkpoint_is_one_line_naming_the_file(tmp_path, content):
    spec = tiny(n=1)
    model = build_model(spec)
    path = tmp_path / "design.safetensors"
    save_checkpoint(model, path)
    path.write_bytes(path.read_bytes()[:-40] if content == "truncated" else content)
    with pytest.raises(SpecError) as info:
        load_checkpoint(model, path)
    assert "\n" not in str(info.value) and str(info.value).startswith(f"{path}: ")


def _heads_model(n_heads: int, override: int | None = None):
    spec = tiny(n=2, n_heads=n_heads)
    if override is not None:
        spec = spec.replace(layers=tuple(dataclasses.replace(x, n_heads=override) if x.id == "b1" else x
                                         for x in spec.layers))
    return spec, build_model(spec, seed=3)


def test_checkpoint_of_another_design_with_the_same_shapes_is_refused(tmp_path):
    """4 and 8 heads at width 32 have the same tensors; the stored design tells them apart."""
    spec4, model4 = _heads_model(4)
    path = tmp_path / "design.safetensors"
    save_checkpoint(model4, path)
    _spec8, model8 = _heads_model(8)
    with pytest.raises(SpecError) as info:
        load_checkpoint(model8, path)
    line = str(info.value)
    assert "\n" not in line and str(path) in line and "model.n_heads" in line and "4" in line and "8" in line
    _spec, overridden = _heads_model(4, override=2)
    with pytest.raises(SpecError) as info:
        load_checkpoint(overridden, path)
    assert "'b1'" in str(info.value) and "n_heads" in str(info.value)
    fresh = build_model(spec4, seed=9)                       # the same design loads
    load_checkpoint(fresh, path)
    assert all(torch.equal(a, b) for a, b in zip(model4.parameters(), fresh.parameters()))
    # the standalone export knows its design too
    module_path = tmp_path / "model8.py"
    module_path.write_text(export_source(_spec8))
    module_spec = importlib.util.spec_from_file_location("exported8", module_path)
    exported = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(exported)
    with pytest.raises(SpecError) as info:
        load_checkpoint(exported.build_model(), path)
    assert "model.n_heads" in str(info.value)


def test_checkpoint_stores_its_design_and_version(tmp_path):
    from safetensors import safe_open

    from explorer import __version__

    spec, model = _heads_model(4)
    path = tmp_path / "design.safetensors"
    save_checkpoint(model, path, {"series": "design"})
    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata()
    assert yaml_io.parse_text(meta["explorer.design"]) == spec and meta["explorer.version"] == __version__
    assert meta["series"] == "design"


def test_checkpoint_without_a_stored_design_loads_by_shapes(tmp_path):
    """A file written before the design was stored (no metadata) still loads, and shapes are checked."""
    from safetensors.torch import save_file

    spec, model = _heads_model(4)
    path = tmp_path / "old.safetensors"
    save_file({n: p.detach().contiguous() for n, p in model.named_parameters()}, str(path))
    _spec8, model8 = _heads_model(8)
    load_checkpoint(model8, path)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), model8.parameters()))
    with pytest.raises(SpecError):
        load_checkpoint(build_model(tiny(n=2, d_model=64)), path)


# ---------------------------------------------------------------- the command line

def test_cli_json(tmp_path):
    preset = tmp_path / "d.yaml"
    yaml_io.save(apply_scheme(tiny(), "albert"), preset)
    proc = subprocess.run([sys.executable, "-m", "explorer", "train", str(preset), "--steps", "6", "--batch", "2",
                           "--seq", "16", "--eval-every", "3", "--twin", "--save", str(tmp_path / "ck"), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    for name in ("design", "twin"):
        s = data[name]
        assert len(s["train_loss"]) == 6 and len(s["val_loss"]) == 2 and s["params"] > 0 and s["tokens_per_s"] > 0
        assert s["checkpoint"]["bytes"] == (tmp_path / "ck" / f"{name}.safetensors").stat().st_size
        # the design as trained lies beside its checkpoint and loads it
        trained = yaml_io.load(tmp_path / "ck" / f"{name}.yaml")
        load_checkpoint(build_model(trained), tmp_path / "ck" / f"{name}.safetensors")
    assert data["design"]["params"] < data["twin"]["params"]
    assert data["data"]["source"].startswith("stdlib") and data["data"]["train_bytes"] > 0
    bad = subprocess.run([sys.executable, "-m", "explorer", "train", str(preset), "--data", "task:juggle"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "juggle" in bad.stderr


def test_a_pinned_baseline_trains_on_the_same_batches():
    spec = apply_scheme(tiny(), "albert")
    result = train(spec, FAST, baseline=spec)
    assert list(result.series) == ["design", "baseline"]
    assert result.series["baseline"].train_loss == result.series["design"].train_loss     # same design, same run
    other = train(spec, FAST, baseline=tiny(n=2))
    assert other.series["baseline"].params < other.series["design"].params * 2
    assert other.series["baseline"].tokens == other.series["design"].tokens
