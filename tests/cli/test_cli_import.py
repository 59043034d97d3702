"""`explorer import-hf`: a config.json becomes an editable, exact design; bad configs are one line."""

from __future__ import annotations

import json
import subprocess
import sys

from explorer.analysis import analyze
from explorer.cli import main
from explorer.design import yaml_io

BERT = {"model_type": "bert", "architectures": ["BertForMaskedLM"], "hidden_size": 768, "num_hidden_layers": 12,
        "num_attention_heads": 12, "intermediate_size": 3072, "vocab_size": 30522, "max_position_embeddings": 512,
        "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12}


def write(tmp_path, data, name="config.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_import_then_reshare_and_compare(tmp_path, capsys):
    cfg = write(tmp_path, BERT)
    base, shared = tmp_path / "bert.yaml", tmp_path / "albert.yaml"
    assert main(["import-hf", str(cfg), "-o", str(base)]) == 0
    assert analyze(yaml_io.load(base)).params.unique == 109_482_240          # BertModel with its pooler
    assert main(["apply", str(base), "albert", "-o", str(shared)]) == 0
    capsys.readouterr()
    assert main(["compare", str(base), str(shared), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert rows["params.unique"]["b"] < rows["params.unique"]["a"]
    assert rows["flops.forward"]["a"] == rows["flops.forward"]["b"]


def test_import_with_head_verifies_against_torch(tmp_path):
    cfg = write(tmp_path, BERT)
    out = tmp_path / "mlm.yaml"
    assert main(["import-hf", str(cfg), "-o", str(out), "--with-head"]) == 0
    proc = subprocess.run([sys.executable, "-m", "explorer", "report", str(out), "--verify", "--seq", "64"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "verified on the meta device" in proc.stdout


def test_unsupported_and_broken_configs_are_one_line(tmp_path):
    cases = {"bart.json": json.dumps({"model_type": "bart"}), "junk.json": "{not json", "list.json": "[1, 2]",
             "nan.json": '{"model_type": "bert", "hidden_size": NaN}'}
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text)
        proc = subprocess.run([sys.executable, "-m", "explorer", "import-hf", str(path), "-o",
                               str(tmp_path / "o.yaml")], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, (name, proc.stderr)
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr and name in proc.stderr
    assert not (tmp_path / "o.yaml").exists()
    bart = subprocess.run([sys.executable, "-m", "explorer", "import-hf", str(tmp_path / "bart.json"), "-o",
                           "x.yaml"], capture_output=True, text=True, timeout=60).stderr
    assert "'bart'" in bart and "bert" in bart and "llama" in bart and "t5" in bart
