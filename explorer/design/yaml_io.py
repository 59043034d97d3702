"""Read and write designs as YAML presets (``yaml.safe_load`` only, never evaluated).

Every problem in a file ends in one SpecError naming the file, the key path and the
reason. The text is screened before parsing (explorer/design/safe_yaml.py): size, encoding,
anchors/aliases (alias bombs) and nesting depth, so a hostile file can neither hang nor
exhaust memory.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from pathlib import Path
from typing import Any

import yaml

from explorer.bundled import is_bundled
from explorer.errors import SpecError
from explorer.fileio import write_atomic
from explorer.design.model import (
    KIND_FIELDS,
    KINDS,
    LAYER_OPTIONS,
    LAYER_OVERRIDES,
    MAX_LAYERS,
    RUN_DEVICES,
    RUN_DTYPES,
    SETTINGS_DEFAULTS,
    SETTINGS_FIELDS,
    LayerSpec,
    Member,
    ModelSettings,
    RunShape,
    SharingGroup,
    StackSpec,
)
from explorer.design.safe_yaml import parse_yaml, read_text
from explorer.design.validate import check_value, validate

FORMAT_VERSION = 1
MAX_SCHEMES = 32
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
TOP_KEYS = ("format_version", "name", "description", "model", "stack", "groups", "schemes", "run")
MAX_RUN_VALUE = 2**31 - 1
GROUP_KEYS = ("name", "color", "slot", "members")
RUN_KEYS = ("batch", "seq", "dtype", "device")


def _suggest(key: str, known) -> str:
    close = difflib.get_close_matches(str(key), list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def parse_text(text: str) -> StackSpec:
    """Parse preset text into a validated design. Raises SpecError (without file name)."""
    return from_dict(parse_yaml(text))


def load(path: str | os.PathLike) -> StackSpec:
    """Read a preset file. Raises SpecError naming the file, key and reason."""
    text = read_text(path)
    try:
        return parse_text(text)
    except SpecError as err:
        raise err.with_source(str(path)) from None


def from_dict(data) -> StackSpec:
    """Build a validated design from parsed YAML data."""
    if not isinstance(data, dict):
        raise SpecError(f"a preset is a mapping with keys {', '.join(TOP_KEYS)}; got {_kind(data)}")
    for key in data:
        if key not in TOP_KEYS:
            raise SpecError(f"unknown key{_suggest(key, TOP_KEYS)}", str(key))
    version = data.get("format_version")
    if version is None:
        raise SpecError("missing; this reader writes format_version 1", "format_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise SpecError(f"expected an integer, got {_kind(version)}", "format_version")
    if version > FORMAT_VERSION or version < 1:
        raise SpecError(f"version {version} is not supported (this reader knows 1..{FORMAT_VERSION})",
                        "format_version")
    name = _text(data.get("name", "untitled"), "name")
    description = _text(data.get("description", ""), "description")
    settings = _settings(data.get("model", {}))
    if "stack" not in data:
        raise SpecError("missing: a preset needs a stack of layers", "stack")
    layers = _layers(data["stack"])
    groups = _groups(data.get("groups", []) or [])
    run = _run(data["run"]) if data.get("run") is not None else None
    spec = StackSpec(settings=settings, layers=layers, groups=groups, name=name, description=description, run=run)
    schemes = data.get("schemes", []) or []
    if schemes:
        spec = _apply_schemes(spec, schemes)
    validate(spec)
    return spec


def _run(raw) -> RunShape:
    """The optional `run:` section: batch, seq, dtype and device the design was analysed at."""
    if not isinstance(raw, dict):
        raise SpecError(f"expected a mapping with batch, seq, dtype and device, got {_kind(raw)}", "run")
    values = {}
    for key, value in raw.items():
        if key not in RUN_KEYS:
            raise SpecError(f"unknown key{_suggest(str(key), RUN_KEYS)}", f"run.{key}")
        if key in ("dtype", "device"):
            choices = RUN_DTYPES if key == "dtype" else RUN_DEVICES
            if value not in choices:
                raise SpecError(f"expected one of {', '.join(choices)}, got {value!r}"[:200], f"run.{key}")
        elif isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RUN_VALUE:
            raise SpecError(f"expected a whole number from 1 to {MAX_RUN_VALUE:,}, got {_kind(value)} "
                            f"{value!r}"[:200], f"run.{key}")
        values[key] = value
    return RunShape(**values)


def _kind(value) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__)


def _text(value, path: str) -> str:
    if not isinstance(value, str):
        raise SpecError(f"expected text, got {_kind(value)}", path)
    if len(value) > 2000:
        raise SpecError("text is longer than 2000 characters", path)
    return value


def _number(value, key: str, path: str):
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SpecError(f"expected a finite number, got {value}", path)
        if key != "norm_eps":
            if value.is_integer():
                raise SpecError(f"expected an integer, got {value} (write it without a decimal point)", path)
            raise SpecError(f"expected an integer, got {value}", path)
    return value


def _settings(raw) -> ModelSettings:
    if not isinstance(raw, dict):
        raise SpecError(f"expected a mapping of settings, got {_kind(raw)}", "model")
    known = SETTINGS_FIELDS
    values = {}
    for key, value in raw.items():
        if key not in known:
            raise SpecError(f"unknown setting{_suggest(key, known)}", f"model.{key}")
        value = _number(value, key, f"model.{key}")
        if value is None and SETTINGS_DEFAULTS[key] is not None:
            raise SpecError("needs a value", f"model.{key}")
        check_value(key, value, f"model.{key}")
        values[key] = value
    return ModelSettings(**values)


def _layers(raw) -> tuple[LayerSpec, ...]:
    if not isinstance(raw, list):
        raise SpecError(f"expected a list of layers, got {_kind(raw)}", "stack")
    entries: list[tuple[int, dict, str | None]] = []
    total = 0
    for i, item in enumerate(raw):
        where = f"stack[{i}]"
        if not isinstance(item, dict):
            raise SpecError(f"expected a layer mapping with at least 'kind', got {_kind(item)}", where)
        kind = item.get("kind")
        if kind is None:
            raise SpecError("missing: every layer needs a kind", f"{where}.kind")
        if kind not in KINDS:
            raise SpecError(f"unknown layer kind {kind!r}{_suggest(kind, KINDS)}", f"{where}.kind")
        repeat = item.get("repeat", 1)
        if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= MAX_LAYERS:
            raise SpecError(f"expected a count from 1 to {MAX_LAYERS}, got {repeat!r}", f"{where}.repeat")
        total += repeat
        if total > MAX_LAYERS:
            raise SpecError(f"more than {MAX_LAYERS} layers", where)
        fields = {}
        allowed = KIND_FIELDS[kind]
        for key, value in item.items():
            if key in ("kind", "repeat", "id"):
                continue
            if key not in allowed:
                other = key in LAYER_OVERRIDES or key in LAYER_OPTIONS
                reason = f"a {kind} layer has no setting '{key}'" if other else \
                    f"unknown setting{_suggest(key, sorted(allowed) + ['id', 'repeat'])}"
                raise SpecError(reason, f"{where}.{key}")
            value = _number(value, key, f"{where}.{key}")
            check_value(key, value, f"{where}.{key}")
            if value is None and key in LAYER_OPTIONS and key != "kv_from":
                raise SpecError("needs a value", f"{where}.{key}")
            fields[key] = value
        layer_id = item.get("id")
        if layer_id is not None and not isinstance(layer_id, str):
            raise SpecError(f"expected a text id, got {_kind(layer_id)}", f"{where}.id")
        for k in range(repeat):
            lid = None if layer_id is None else (layer_id if repeat == 1 else f"{layer_id}{k}")
            entries.append((i, dict(fields, kind=kind), lid))
    taken = {lid for _i, _f, lid in entries if lid is not None}
    counters: dict[str, int] = {}
    layers = []
    for _i, fields, lid in entries:
        if lid is None:
            kind = fields["kind"]
            n = counters.get(kind, 0)
            while f"{kind}{n}" in taken:
                n += 1
            lid = f"{kind}{n}"
            counters[kind] = n + 1
            taken.add(lid)
        layers.append(LayerSpec(id=lid, **fields))
    return tuple(layers)


def _groups(raw) -> tuple[SharingGroup, ...]:
    if not isinstance(raw, list):
        raise SpecError(f"expected a list of groups, got {_kind(raw)}", "groups")
    groups = []
    for i, item in enumerate(raw):
        where = f"groups[{i}]"
        if not isinstance(item, dict):
            raise SpecError(f"expected a group mapping with name and members, got {_kind(item)}", where)
        for key in item:
            if key not in GROUP_KEYS:
                raise SpecError(f"unknown key{_suggest(key, GROUP_KEYS)}", f"{where}.{key}")
        name = _text(item.get("name", f"group{i}"), f"{where}.name")
        color = _text(item.get("color", ""), f"{where}.color")
        if color and not COLOR_RE.match(color):
            raise SpecError(f"expected a color like '#4e79a7', got {color!r}", f"{where}.color")
        default_slot = _text(item.get("slot", "block"), f"{where}.slot")
        members_raw = item.get("members")
        if not isinstance(members_raw, list):
            raise SpecError(f"expected a list of members like 'block0:ffn', got {_kind(members_raw)}",
                            f"{where}.members")
        members = []
        for j, m in enumerate(members_raw):
            mwhere = f"{where}.members[{j}]"
            if isinstance(m, str):
                layer, _, slot = m.partition(":")
                members.append(Member(layer.strip(), slot.strip() or default_slot))
            elif isinstance(m, dict) and set(m) <= {"layer", "slot"} and isinstance(m.get("layer"), str):
                members.append(Member(m["layer"], _text(m.get("slot", default_slot), f"{mwhere}.slot")))
            else:
                raise SpecError(f"expected 'layer' or 'layer:slot', got {_kind(m)}", mwhere)
        groups.append(SharingGroup(name=name, members=tuple(members), color=color))
    return tuple(groups)


def _apply_schemes(spec: StackSpec, raw) -> StackSpec:
    from explorer.design.strategies import apply_scheme, SCHEMES

    if not isinstance(raw, list):
        raise SpecError(f"expected a list of schemes, got {_kind(raw)}", "schemes")
    if len(raw) > MAX_SCHEMES:      # each one walks the whole stack: thousands would take minutes
        raise SpecError(f"{len(raw):,} schemes; a preset applies at most {MAX_SCHEMES}", "schemes")
    for i, item in enumerate(raw):
        where = f"schemes[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("scheme"), str):
            raise SpecError("expected a mapping with 'scheme: NAME' and its options", where)
        name = item["scheme"]
        if name not in SCHEMES:
            raise SpecError(f"unknown scheme {name!r}{_suggest(name, SCHEMES)}", f"{where}.scheme")
        for k in item:
            if not isinstance(k, str):
                raise SpecError(f"option names are text, got {_kind(k)} {k!r}", where)
        options = {k: _number(v, k, f"{where}.{k}") for k, v in item.items() if k != "scheme"}
        try:
            spec = apply_scheme(spec, name, **options)
        except SpecError as err:
            raise SpecError(err.message, f"{where}{'.' + err.path if err.path else ''}") from None
    return spec


# ---------------------------------------------------------------------------- writing

def to_dict(spec: StackSpec) -> dict:
    """The preset mapping of a design: defaults left out, groups as 'layer:slot' strings."""
    model = {}
    for key in SETTINGS_FIELDS:
        value = getattr(spec.settings, key)
        if value is not None:
            model[key] = value
    stack = []
    defaults = {key: LayerSpec.__dataclass_fields__[key].default for key in LAYER_OVERRIDES + LAYER_OPTIONS}
    for layer in spec.layers:
        entry: dict[str, Any] = {"id": layer.id, "kind": layer.kind}
        for key in LAYER_OVERRIDES + LAYER_OPTIONS:
            value = getattr(layer, key)
            if value != defaults[key]:
                entry[key] = value
        stack.append(entry)
    groups = []
    for g in spec.groups:
        entry = {"name": g.name}
        if g.color:
            entry["color"] = g.color
        entry["members"] = [f"{m.layer}:{m.slot}" for m in g.members]
        groups.append(entry)
    out: dict[str, Any] = {"format_version": FORMAT_VERSION, "name": spec.name, "description": spec.description,
           "model": model, "stack": stack}
    if groups:
        out["groups"] = groups
    if spec.run is not None:
        out["run"] = {"batch": spec.run.batch, "seq": spec.run.seq, "dtype": spec.run.dtype}
        if spec.run.device != "cpu":
            out["run"]["device"] = spec.run.device
    return out


class _Dumper(yaml.SafeDumper):
    """Block style for the document, flow style for each layer and member list."""


def _represent_list(dumper, data):
    flow = all(not isinstance(x, (dict, list)) for x in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


def _represent_dict(dumper, data):
    flow = all(not isinstance(x, (dict, list)) for x in data.values()) and "kind" in data
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flow)


def _represent_str(dumper, data):
    # PyYAML writes NEL and the Unicode line/paragraph separators raw when allow_unicode is set,
    # and reads them back as line breaks; double quotes escape them so text round-trips
    style = '"' if any(ch in data for ch in "\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(dict, _represent_dict)


def dumps(spec: StackSpec) -> str:
    return yaml.dump(to_dict(spec), Dumper=_Dumper, sort_keys=False, width=110, allow_unicode=True)


def save(spec: StackSpec, path: str | os.PathLike) -> None:
    """Write atomically (explorer.fileio.write_atomic: a temp file in the same folder, flushed, renamed over
    `path`); an existing file keeps its mode, a new one follows the umask."""
    target = Path(path)
    if is_bundled(target):
        raise SpecError("is a bundled preset, which is never overwritten; save the design under another name",
                        source=str(path))
    text = dumps(spec)
    try:
        write_atomic(target, text)
    except OSError as err:
        raise SpecError(f"cannot write file ({err.strerror or err}); the design is unchanged in memory",
                        source=str(path)) from None




