"""Nothing user-supplied is evaluated or unpickled: a scan of the package source."""

from __future__ import annotations

import ast
from pathlib import Path

import explorer

PACKAGE = Path(explorer.__file__).parent
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}
FORBIDDEN_MODULES = {"pickle", "marshal", "shelve", "dill", "cloudpickle"}


def sources():
    return sorted(PACKAGE.rglob("*.py"))


def test_no_eval_exec_or_pickle():
    problems = []
    for path in sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        allowed = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
                problems.append(f"{path.name}:{node.lineno} calls {node.func.id}")
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for name in names:
                    if name.split(".")[0] in FORBIDDEN_MODULES:
                        problems.append(f"{path.name}:{node.lineno} imports {name}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load" \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "yaml":
                loader = [k.value for k in node.keywords if k.arg == "Loader"]
                # the one allowed form: safe_load's C twin, yaml.load(text, Loader=LOADER) with a safe loader
                if loader and isinstance(loader[0], ast.Name) and loader[0].id == "LOADER":
                    allowed.add(id(node.func))
                else:
                    problems.append(f"{path.name}:{node.lineno} uses yaml.load without the safe loader")
                continue
            if id(node) in allowed:
                continue
            if isinstance(node, ast.Attribute) and node.attr == "load" and isinstance(node.value, ast.Name):
                if node.value.id == "torch":
                    problems.append(f"{path.name}:{node.lineno} uses torch.load")
                if node.value.id == "yaml":
                    problems.append(f"{path.name}:{node.lineno} uses yaml.load")
            if isinstance(node, ast.Attribute) and node.attr in ("unsafe_load", "full_load", "FullLoader",
                                                                  "UnsafeLoader", "Loader") \
                    and isinstance(node.value, ast.Name) and node.value.id == "yaml":
                problems.append(f"{path.name}:{node.lineno} uses yaml.{node.attr}")
    assert not problems, problems


def test_the_yaml_loader_is_a_safe_one():
    import yaml

    from explorer.design import safe_yaml

    assert issubclass(safe_yaml.LOADER, yaml.SafeLoader) or safe_yaml.LOADER is getattr(yaml, "CSafeLoader", None)
    assert "SafeConstructor" in [c.__name__ for c in safe_yaml.LOADER.__mro__]


def test_yaml_reads_go_through_safe_load():
    text = "\n".join(p.read_text(encoding="utf-8") for p in sources())
    assert "yaml.safe_load" in text
    assert "trust_remote_code=True" not in text
