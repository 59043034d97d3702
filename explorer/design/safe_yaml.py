"""Reading untrusted YAML text: screened first, then ``yaml.safe_load`` (nothing evaluated).

Size, encoding, control characters, anchors and aliases (alias bombs), tags, overlong numbers,
item count and nesting depth are checked before PyYAML builds anything, so a hostile file can
neither hang nor exhaust memory, and every message is the project's own (PyYAML's wording
differs between versions and between its C and Python readers).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from explorer.errors import SpecError

MAX_FILE_BYTES = 1024 * 1024
MAX_TOKENS = 100_000          # a 4096-layer design with a 4096-member group needs about 60,000
MAX_DEPTH = 32
# libyaml's C scanner and safe loader when the PyYAML build has them (same rules, ~5-10x faster)
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

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
        for token in yaml.scan(text, Loader=LOADER):
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
    if LOADER is yaml.SafeLoader:
        return yaml.safe_load(text)
    return yaml.load(text, Loader=LOADER)  # noqa: S506 - CSafeLoader is safe_load in C


def parse_yaml(text: str):
    """The plain data (dicts, lists, strings, numbers) of screened YAML text. Raises SpecError."""
    _screen(text)
    try:
        return _safe_load(text)
    except yaml.YAMLError as err:
        raise SpecError(_yaml_reason(err, text)) from None
    except RecursionError:
        raise SpecError(f"nesting deeper than {MAX_DEPTH} levels") from None
    except (ValueError, OverflowError):     # a value the screen let through but Python cannot convert
        raise SpecError("not valid YAML: a value cannot be read as a number or date") from None


def read_text(path: str | os.PathLike) -> str:
    """A preset file's text: at most MAX_FILE_BYTES of UTF-8 (a BOM allowed). Raises SpecError
    naming the file."""
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
    return text
