"""Directory files: reading YAML and CSV into entries that remember their lines, and writing them.

YAML is a list of mappings, one per organization::

    - name: Example Hosting
      kind: hosting_provider
      country: NL
      abuse_email: abuse@example.net
      asns: [64496]
      networks:
        - 192.0.2.0/24
        - 2001:db8::/32

CSV has a header row with the same names and one row per organization; lists are separated
by spaces (commas work too). Every value is read as text (a YAML ``NO`` stays Norway, not
false) and checked later by ``fields``. YAML is only *composed* into nodes, never constructed
into objects: no tags are acted upon, and aliases and merge keys are refused, so a file cannot
expand into more than it is. Malformed input is reported with its line, like every other error.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

import yaml

from takedown.orgs.fields import FIELD_NAMES, IDENTIFIER_FIELDS

_NULL_TAG: Final = "tag:yaml.org,2002:null"
_LIST_SEPARATOR: Final = re.compile(r"[\s,]+")
# Fields that cannot be cleared: an empty value means "not given" (keep it, on an update).
KEEP_WHEN_EMPTY: Final = frozenset({"name", "kind", "country", "language"})


class DirectoryFormat(StrEnum):
    YAML = "yaml"
    CSV = "csv"

    @property
    def media_type(self) -> str:
        return "application/yaml" if self is DirectoryFormat.YAML else "text/csv; charset=utf-8"

    @classmethod
    def for_path(cls, path: str) -> DirectoryFormat:
        """The format a file name implies (``.yaml``/``.yml`` or ``.csv``)."""
        suffix = path.rsplit(".", 1)[-1].lower() if "." in path else ""
        if suffix in ("yaml", "yml"):
            return cls.YAML
        if suffix == "csv":
            return cls.CSV
        raise ValueError(f"cannot tell the format of {path!r}; name it .yaml or .csv")


@dataclass(frozen=True)
class LineError:
    """A problem in a directory file, by its line number (1-based)."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True)
class RawValue:
    """A field as written in the file: its line, its text (None when empty), its items' lines."""

    line: int
    value: str | list[str] | None
    item_lines: tuple[int, ...] = ()


@dataclass
class RawEntry:
    """One organization as read from a file, before any checking."""

    line: int
    values: dict[str, RawValue] = field(default_factory=dict)
    # Something in it could not be read (reported already): check the rest, import nothing.
    broken: bool = False


@dataclass
class Parsed:
    entries: list[RawEntry] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)


# -- YAML ---------------------------------------------------------------------------------


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def read_yaml(text: str) -> Parsed:
    parsed = Parsed()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        root = yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = int(mark.line) + 1 if mark is not None else 1
        parsed.errors.append(LineError(line, f"malformed YAML: {exc.problem or exc.context}"))
        return parsed
    except yaml.YAMLError as exc:  # pragma: no cover - the parsers raise marked errors
        parsed.errors.append(LineError(1, f"malformed YAML: {exc}"))
        return parsed
    if root is None:
        return parsed
    if not isinstance(root, yaml.SequenceNode):
        parsed.errors.append(LineError(_line(root), "the file must be a list of organizations"))
        return parsed
    seen: set[int] = set()
    for item in root.value:
        entry = _yaml_entry(item, seen, parsed.errors)
        if entry is not None:
            parsed.entries.append(entry)
    return parsed


def _yaml_entry(node: yaml.Node, seen: set[int], errors: list[LineError]) -> RawEntry | None:
    if id(node) in seen:
        errors.append(LineError(_line(node), "aliases and merge keys are not supported"))
        return None
    seen.add(id(node))
    if not isinstance(node, yaml.MappingNode):
        errors.append(LineError(_line(node), "an organization is a mapping of fields to values"))
        return None
    entry = RawEntry(_line(node))
    for key, value in node.value:
        name = key.value if isinstance(key, yaml.ScalarNode) else None
        problem = _key_problem(name, entry)
        if problem is not None or not isinstance(name, str):
            errors.append(LineError(_line(key), problem or "field names are plain text"))
            entry.broken = True
            continue
        raw = _yaml_value(name, key, value, seen)
        if isinstance(raw, LineError):
            errors.append(raw)
            entry.broken = True
        else:
            entry.values[name] = raw
    return entry


def _key_problem(name: object, entry: RawEntry) -> str | None:
    if name == "<<":
        return "aliases and merge keys are not supported"
    if not isinstance(name, str):
        return "field names are plain text"
    if name not in FIELD_NAMES:
        return f"unknown field {name!r}; fields are: {', '.join(FIELD_NAMES)}"
    if name in entry.values:
        return f"{name}: given twice (also on line {entry.values[name].line})"
    return None


def _yaml_value(name: str, key: yaml.Node, node: yaml.Node, seen: set[int]) -> RawValue | LineError:
    line = _line(key)
    if id(node) in seen:
        return LineError(line, "aliases and merge keys are not supported")
    seen.add(id(node))
    if isinstance(node, yaml.ScalarNode):
        text = None if node.tag == _NULL_TAG else str(node.value)
        if name in IDENTIFIER_FIELDS and text is not None:
            return RawValue(line, [text], (_line(node),))
        return RawValue(line, text)
    if name in IDENTIFIER_FIELDS and isinstance(node, yaml.SequenceNode):
        items: list[str] = []
        lines: list[int] = []
        for item in node.value:
            if id(item) in seen or not isinstance(item, yaml.ScalarNode):
                return LineError(_line(item), f"{name}: expected a list of plain values")
            seen.add(id(item))
            if item.tag != _NULL_TAG:
                items.append(str(item.value))
                lines.append(_line(item))
        return RawValue(line, items, tuple(lines))
    expected = "a list of values" if name in IDENTIFIER_FIELDS else "a single value"
    return LineError(line, f"{name}: expected {expected}")


def write_yaml(rows: Iterable[Mapping[str, Any]]) -> str:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when installed
    text: str = yaml.dump(
        [dict(row) for row in rows], Dumper=dumper, sort_keys=False, allow_unicode=True, width=1_000
    )
    return text


# -- CSV ----------------------------------------------------------------------------------


def read_csv(text: str) -> Parsed:
    parsed = Parsed()
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    end = 0  # the last physical line read so far
    try:
        for row in reader:
            start, end = end + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [c.strip().lower() for c in row]
                problems = _header_problems(header)
                if problems:
                    parsed.errors += [LineError(start, p) for p in problems]
                    return parsed
                continue
            if len(row) != len(header):
                parsed.errors.append(
                    LineError(start, f"{len(row)} cells, but the header has {len(header)}")
                )
                continue
            parsed.entries.append(_csv_entry(start, header, row))
    except csv.Error as exc:
        parsed.errors.append(LineError(reader.line_num or 1, f"malformed CSV: {exc}"))
    return parsed


def _header_problems(header: Sequence[str]) -> list[str]:
    problems = [
        f"unknown column {name!r}; columns are: {', '.join(FIELD_NAMES)}"
        for name in header
        if name not in FIELD_NAMES
    ]
    problems += [
        f"column {name!r} given twice" for name in sorted(set(header)) if header.count(name) > 1
    ]
    if "name" not in header:
        problems.append("the header has no 'name' column")
    return problems


def _csv_entry(line: int, header: Sequence[str], row: Sequence[str]) -> RawEntry:
    entry = RawEntry(line)
    for name, cell in zip(header, row, strict=True):
        text = cell.strip()
        if name in IDENTIFIER_FIELDS:
            items = [item for item in _LIST_SEPARATOR.split(text) if item]
            entry.values[name] = RawValue(line, items, (line,) * len(items))
        else:
            entry.values[name] = RawValue(line, text or None)
    return entry


def write_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return buffer.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return " ".join(str(item) for item in value)
    return str(value)
