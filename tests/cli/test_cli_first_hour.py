"""The command line as a new user meets it: --help names the form that opens the app, every train option
says what it does and its default, training progress is one updating line on a terminal (plain lines
in a log), the equal-time readout says why a series has no figure, and a mistake under model: is
reported under model."""

from __future__ import annotations

import io
import re
from contextlib import redirect_stderr, redirect_stdout

import pytest

from explorer.cli.entry import main
from explorer.cli.parser import build_parser
from explorer.design import yaml_io
from explorer.design.edits import builtin_design


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _cli(*argv, stderr=None) -> tuple[int, str, str]:
    out, err = io.StringIO(), stderr if stderr is not None else io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as exit_:            # argparse's --help
            rc = exit_.code
    return rc, out.getvalue(), err.getvalue()


def test_help_shows_how_to_open_the_app():
    rc, out, _err = _cli("--help")
    assert rc == 0
    assert "explorer [PRESET.yaml] [--screenshot OUT.png]" in out and "opens the app" in out
    assert "train" in out and "report" in out


def test_every_train_option_has_help_and_its_default():
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["train"]
    options = [a for a in sub._actions if a.option_strings and a.dest != "help"]
    assert len(options) >= 18
    for action in options:
        assert action.help, action.option_strings
        assert "default" in action.help, action.option_strings
        if action.default not in (None, False):
            assert str(action.default) in action.help, (action.option_strings, action.default)


@pytest.fixture
def tiny_design(tmp_path):
    path = tmp_path / "d.yaml"
    yaml_io.save(builtin_design(1), path)
    return path


def _train(path, *extra, stderr=None):
    return _cli("train", path, "--steps", "3", "--batch", "1", "--seq", "8", "--eval-batches", "1", "--width", "16",
                "--heads", "2", "--data", "task:copy", *extra, stderr=stderr)


def test_progress_is_one_updating_line_on_a_terminal(tiny_design):
    pytest.importorskip("torch")
    rc, _out, err = _train(tiny_design, "--eval-every", "1", stderr=Terminal())
    assert rc == 0
    assert "\r" in err and "3/3 steps" in err
    bar_lines = [line for line in err.split("\n") if "steps" in line]
    assert len(bar_lines) == 1                       # every step redrew the same line
    assert re.search(r"\[#+\] 3/3 steps", bar_lines[0].split("\r")[-1])
    assert not re.search(r"^  step \d+/3$", err, re.M)


def test_progress_is_plain_lines_off_a_terminal(tiny_design):
    pytest.importorskip("torch")
    rc, _out, err = _train(tiny_design, "--eval-every", "1")
    assert rc == 0 and "\r" not in err
    assert [line.strip() for line in err.splitlines() if line.strip().startswith("step")] == \
        ["step 1/3", "step 2/3", "step 3/3"]


def test_a_dash_at_equal_training_time_says_why(tiny_design):
    """Validated only at the end, the slower of design and twin has no validation within the quicker's
    whole run: its dash comes with the reason and the remedy."""
    pytest.importorskip("torch")
    rc, out, _err = _train(tiny_design, "--eval-every", "3", "--twin")
    assert rc == 0
    line = next(x for x in out.splitlines() if x.startswith("validation loss at equal training time"))
    dashes = re.findall(r"(\w+) -(?:,|$)", line)
    assert len(dashes) == 1, line
    why = next(x for x in out.splitlines() if x.strip().startswith(f"{dashes[0]} -:"))
    assert "no validation within" in why and "first validation (step 3)" in why and "--eval-every" in why


def test_a_model_mistake_is_reported_under_model(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("format_version: 1\nname: bad\nmodel: {d_model: 510, n_heads: 8, d_ff: 64, vocab_size: 100}\n"
                    "stack:\n  - {id: emb, kind: embedding}\n  - {id: b0, kind: block}\n"
                    "  - {id: b1, kind: block}\n")
    rc, out, err = _cli("report", path)
    assert rc == 2 and not out
    assert err.count("\n") == 1 and f"{path}: model.n_heads:" in err and "510" in err and "stack[" not in err
    # a layer's own override is still reported at the layer
    path.write_text(path.read_text().replace("n_heads: 8", "n_heads: 6").replace("{id: b1, kind: block}",
                                                                                 "{id: b1, kind: block, n_heads: 4}"))
    rc, _out, err = _cli("report", path)
    assert rc == 2 and f"{path}: stack[2].n_heads:" in err
