"""Mutated presets opened in the real window with ``window.document.open(path)``: a failed open
keeps the current design (same spec object, same undo history, same file path) and puts one line
in the status bar; a successful one shows the new design."""

from __future__ import annotations

import random
import time

import fuzz_mutations as mut
from fuzz_stats import record

from explorer.presets import preset_paths
from explorer.design import yaml_io

N_FILES = 60 * mut.SCALE
GUARD_S = 5.0


def test_mutated_files_opened_in_the_app_keep_the_design_on_failure(make_window, tmp_path):
    presets = preset_paths()
    window = make_window(yaml_io.load(presets[0]))
    doc, model = window.document, window.model
    rnd = random.Random(1123)
    common = [m for m in mut.YAML_MUTATORS if m not in mut.RARE]
    rare = [m for m in mut.YAML_MUTATORS if m in mut.RARE]
    failures = []
    opened = 0
    for i in range(N_FILES):
        base = rnd.choice(presets)
        steps = [(rnd.choice(rare if rnd.random() < 0.06 else common), rnd.randrange(2 ** 32))
                 for _ in range(rnd.randint(1, 3))]
        case = f"{base.name}: {mut.describe(steps)}"
        path = tmp_path / f"{i}-{base.name}"
        path.write_bytes(mut.apply(base.read_bytes(), steps))
        before = (model.spec, doc.path, model.undo_stack.count(), model.undo_stack.index(), window.windowTitle())
        window.statusBar().clearMessage()
        start = time.perf_counter()
        try:
            ok = doc.open(str(path))
        except BaseException as err:  # noqa: BLE001 - an escaped exception would reach Qt's event loop
            record("gui-open", "failures", time.perf_counter() - start, case)
            failures.append(f"{case}: {type(err).__name__}: {err}"[:300])
            continue
        elapsed = time.perf_counter() - start
        message = window.statusBar().currentMessage()
        if ok:
            opened += 1
            good = (model.spec is not before[0] and str(doc.path) == str(path) and message.startswith("Opened ")
                    and "\n" not in message)
        else:
            after = (model.spec, doc.path, model.undo_stack.count(), model.undo_stack.index(), window.windowTitle())
            good = (after == before and bool(message) and "\n" not in message and str(path) in message
                    and "Traceback" not in message)
        good = good and elapsed < GUARD_S
        record("gui-open", "failures" if not good else "ok" if ok else "errors", elapsed, case)
        if not good:
            failures.append(f"{case}: ok={ok} message={message[:200]!r}")
        path.unlink()
    assert not failures, "\n".join(failures)
    assert opened < N_FILES
