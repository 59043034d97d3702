"""Read and write designs as YAML presets (``yaml.safe_load`` only, never evaluated).

Every problem in a file ends in one SpecError naming the file, the key path and the
reason. Files are screened before parsing: size, encoding, anchors/aliases (alias bombs)
and nesting depth, so a hostile file can neither hang nor exhaust memory.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tempfile
from pathlib import Path

import yaml

from explorer.bundled import is_bundled
from explorer.errors import SpecError
from explorer.design.model import (
    KIND_FIELDS,
    KINDS,
    LAYER_OPTIONS,
    LAYER_OVERRIDES,
    MAX_LAYERS,
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
from explorer.design.validate import check_value, validate

FORMAT_VERSION = 1
MAX_FILE_BYTES = 1024 * 1024
MAX_TOKENS = 100_000          # a 4096-layer design with a 4096-member group needs about 60,000
MAX_DEPTH = 32
MAX_SCHEMES = 32
# libyaml's C scanner and safe loader when the PyYAML build has them (same rules, ~5-10x faster)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
TOP_KEYS = ("format_version", "name", "description", "model", "stack", "groups", "schemes", "run")
MAX_RUN_VALUE = 2**31 - 1
GROUP_KEYS = ("name", "color", "slot", "members")


def _suggest(key: str, known) -> str:
    close = difflib.get_close_matches(str(key), list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


# what YAML allows in a stream (the same set PyYAML's reader checks), screened here so the
# message is the project's whichever PyYAML reads the file
_NON_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010ffff]")
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_SAFE_TAGS = frozenset({"str", "int", "float", "bool", "null", "seq", "map"})
_LONG_INTEGER = re.compile(r"^[-+]?(0[xX][0-9a-fA-F_]+|0[oObB]?[0-7_]+|[0-9][0-9_:]*)$")
MAX_NUMBER_CHARS = 1000     # 10**100 still reaches the range checks; Python refuses ints over 4300 digits


def _line_of(text: str, index: int) -> int:
    return len(_LINE_BREAK.findall(text, 0, index)) + 1


def _screen(text: str) -> None:
    """Reject what a preset never holds before anything is built: control characters, anchors and
    aliases (alias bombs), tags other than the plain types, numbers too long to convert, more
    than MAX_TOKENS items and nesting deeper than MAX_DEPTH. Every message is the project's own,
    raised before PyYAML's own limits (libyaml refuses 1,000 levels) can word it differently."""
    bad = _NON_PRINTABLE.search(text)
    if bad:
        raise SpecError(f"line {_line_of(text, bad.start())}: control character U+{ord(bad.group()):04X} is not "
                        f"allowed in a preset")
    depth = 0
    count = 0
    try:
        for token in yaml.scan(text, Loader=_LOADER):
            count += 1
            line = token.start_mark.line + 1
            if count > MAX_TOKENS:
                raise SpecError(f"line {line}: more than {MAX_TOKENS:,} YAML items; presets are smaller than that")
            if isinstance(token, (yaml.AnchorToken, yaml.AliasToken)):
                raise SpecError(f"line {line}: anchors and aliases (&, *) are not allowed in presets")
            if isinstance(token, yaml.TagToken):
                handle, suffix = token.value
                if handle != "!!" or suffix not in _SAFE_TAGS:
                    shown = f"{handle}{suffix}" if handle else f"!<{suffix}>"
                    raise SpecError(f"line {line}: tag {shown[:80]!r} is not allowed in presets (plain values only)")
            elif isinstance(token, yaml.ScalarToken):
                if token.plain and len(token.value) > MAX_NUMBER_CHARS and _LONG_INTEGER.match(token.value):
                    raise SpecError(f"line {line}: a number {len(token.value):,} characters long; "
                                    f"preset sizes are far shorter")
            elif isinstance(token, (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken,
                                    yaml.FlowMappingStartToken, yaml.FlowSequenceStartToken)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise SpecError(f"line {line}: nesting deeper than {MAX_DEPTH} levels")
            elif isinstance(token, (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)):
                depth -= 1
    except yaml.YAMLError as err:
        # libyaml scans a run of '[' ahead of the tokens it yields and stops at its own depth
        # limit (1,000 in PyYAML 6.0.4), so the depth check above never saw them: count them here
        deep_line = _flow_depth_line(text)
        if deep_line:
            raise SpecError(f"line {deep_line}: nesting deeper than {MAX_DEPTH} levels") from None
        raise SpecError(_yaml_reason(err, text)) from None


def _flow_depth_line(text: str) -> int | None:
    """The line where unclosed [ and { (outside quotes and comments) first pass MAX_DEPTH, or None."""
    depth, line, quote, escaped, comment, prev = 0, 1, "", False, False, "\n"
    for ch in text:
        if ch == "\n":
            line += 1
            comment = False
        elif comment:
            pass
        elif quote:
            if escaped:
                escaped = False
            elif ch == "\\" and quote == '"':
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and prev in " \t\n":
            comment = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line
        elif ch in "]}":
            depth -= 1
        prev = ch
    return None


def _yaml_reason(err: yaml.YAMLError, text: str) -> str:
    """PyYAML's error in the project's words: where, and the text found there (PyYAML's own
    wording differs between versions and between its C and Python readers)."""
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    if mark is None:
        return "not valid YAML"
    where = f"line {mark.line + 1}, column {mark.column + 1}: not valid YAML"
    lines = _LINE_BREAK.split(text)
    line_text = lines[mark.line] if mark.line < len(lines) else ""
    indent = line_text[: len(line_text) - len(line_text.lstrip(" \t"))]
    if "\t" in indent:
        return f"{where}: a tab in the indentation; YAML indents with spaces only"
    rest = line_text[mark.column:].strip()
    if not rest and not "".join(lines[mark.line + 1:]).strip():
        # the readers place the end of the text differently: name the last line that has text
        last = max((i for i, x in enumerate(lines) if x.strip()), default=0)
        return f"line {last + 1}: not valid YAML: the text ends inside an open bracket, quote or block"
    if not rest:
        return f"{where}: unexpected end of the line"
    shown = rest if len(rest) <= 30 else rest[:29] + "…"
    return f"{where} at {shown!r} (check brackets, quotes, indentation and the ':' after each key)"


def _safe_load(text: str):
    """yaml.safe_load, through libyaml's C safe loader when present: the same SafeConstructor
    (plain data only, no Python tags), several times faster on big files."""
    if _LOADER is yaml.SafeLoader:
        return yaml.safe_load(text)
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - CSafeLoader is safe_load in C


def parse_text(text: str) -> StackSpec:
    """Parse preset text into a validated design. Raises SpecError (without file name)."""
    _screen(text)
    try:
        data = _safe_load(text)
    except yaml.YAMLError as err:
        raise SpecError(_yaml_reason(err, text)) from None
    except RecursionError:
        raise SpecError(f"nesting deeper than {MAX_DEPTH} levels") from None
    except (ValueError, OverflowError):     # a value the screen let through but Python cannot convert
        raise SpecError("not valid YAML: a value cannot be read as a number or date") from None
    return from_dict(data)


def load(path: str | os.PathLike) -> StackSpec:
    """Read a preset file. Raises SpecError naming the file, key and reason."""
    source = str(path)
    try:
        p = Path(path)
        if p.is_dir():
            raise SpecError("is a folder, not a preset file", source=source)
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SpecError(f"file is {size:,} bytes; presets are at most {MAX_FILE_BYTES:,}", source=source)
        raw = p.read_bytes()
    except OSError as err:
        raise SpecError(f"cannot read file ({err.strerror or err})", source=source) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise SpecError(f"not UTF-8 text (byte {err.start})", source=source) from None
    if "\x00" in text:
        raise SpecError("binary data, not a YAML preset", source=source)
    try:
        return parse_text(text)
    except SpecError as err:
        raise err.with_source(source) from None


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
    """The optional `run:` section: batch, seq and dtype the design was analysed at."""
    if not isinstance(raw, dict):
        raise SpecError(f"expected a mapping with batch, seq and dtype, got {_kind(raw)}", "run")
    values = {}
    for key, value in raw.items():
        if key not in ("batch", "seq", "dtype"):
            raise SpecError(f"unknown key{_suggest(str(key), ('batch', 'seq', 'dtype'))}", f"run.{key}")
        if key == "dtype":
            if value not in RUN_DTYPES:
                raise SpecError(f"expected one of {', '.join(RUN_DTYPES)}, got {value!r}", "run.dtype")
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
        entry = {"id": layer.id, "kind": layer.kind}
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
    out = {"format_version": FORMAT_VERSION, "name": spec.name, "description": spec.description,
           "model": model, "stack": stack}
    if groups:
        out["groups"] = groups
    if spec.run is not None:
        out["run"] = {"batch": spec.run.batch, "seq": spec.run.seq, "dtype": spec.run.dtype}
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
    """Write atomically: a temp file in the same folder, flushed, then renamed over `path`."""
    target = Path(path)
    if is_bundled(target):
        raise SpecError("is a bundled preset, which is never overwritten; save the design under another name",
                        source=str(path))
    text = dumps(spec)
    try:
        _write_atomic(target, text)
    except OSError as err:
        raise SpecError(f"cannot write file ({err.strerror or err}); the design is unchanged in memory",
                        source=str(path)) from None


def _write_atomic(target: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=str(target.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


