"""XML, parsed with defusedxml: the element holding the records, one record per element,
nested item lists flattened to indexed fields, a field given twice or holding elements
refused."""

from __future__ import annotations

import codecs
import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any, Final

import numpy as np
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from reconciler.errors import InputError
from reconciler.model import Table
from reconciler.readers import limits
from reconciler.readers.common import (
    _FIX_EXPORT_CSV,
    _check_column_count,
    _check_record_count,
    _exc_text,
    _text_frame,
    _unique_labels,
)
from reconciler.readers.encodings import _utf16_encoding
from reconciler.templates import header_key, key_field


class _LineTreeBuilder(ET.TreeBuilder):
    """TreeBuilder that remembers the physical line of every start tag."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[int, int] = {}
        self.expat: Any = None

    def start(self, tag: Any, attrs: dict[Any, Any], /) -> ET.Element:
        element = super().start(tag, attrs)
        if self.expat is not None:
            self.lines[id(element)] = int(self.expat.CurrentLineNumber)
        return element


def _read_xml(path: Path, raw: bytes, max_records: int) -> Table:
    builder = _LineTreeBuilder()
    parser = DefusedXMLParser(
        target=builder, forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    builder.expat = getattr(parser, "parser", None)
    try:
        parser.feed(raw)
        root: ET.Element = parser.close()
    except DefusedXmlException:
        raise InputError(
            "contains a DTD or entity declaration, which reconciler refuses for safety; "
            "remove the <!DOCTYPE ...> block",
            path=path,
        ) from None
    except ET.ParseError as exc:
        line, column = getattr(exc, "position", (None, None))
        reason = str(exc).split(":")[0]
        raise InputError(
            f"is not well-formed XML ({reason} at line {line}, column {column}); fix the "
            "file or export it again",
            path=path,
            line=line,
        ) from None
    except (ValueError, LookupError) as exc:  # e.g. an unknown encoding= declaration
        raise InputError(
            f"could not be parsed as XML ({_exc_text(exc)}); save it as UTF-8 XML or "
            f"{_FIX_EXPORT_CSV}",
            path=path,
        ) from None

    containers, tag = _record_containers(path, root, builder.lines)
    container = containers[0]
    records = [child for c in containers for child in c if child.tag == tag]
    _check_record_count(path, len(records), max_records)
    fields: dict[str, None] = {}
    rows: list[dict[str, str]] = []
    for index, record in enumerate(records):
        try:
            row = _xml_row(record)
        except _TwiceInRecord as twice:
            raise InputError(
                f"the record here gives {twice.name} twice (as an attribute and an element, "
                "or as two elements): joined, they would make a value that never existed; "
                "keep one",
                path=path,
                line=builder.lines.get(id(record), index + 1),
            ) from None
        except _NestedField as nested:
            where = "/".join(
                _local(e.tag) for e in (*_path_to(root, container), record, *nested.inside)
            )
            raise InputError(
                f"the field {where} holds the element <{_local(nested.child.tag)}> instead of "
                "a plain value: its parts, joined or dropped, would make a value that never "
                f"existed; write the value as text in <{_local(nested.inside[-1].tag)}>",
                path=path,
                line=builder.lines.get(id(nested.child), builder.lines.get(id(record), index + 1)),
            ) from None
        fields.update(dict.fromkeys(row))
        if len(fields) > limits.MAX_COLUMNS:
            _check_column_count(path, len(fields))
        rows.append(row)
    header = list(fields)
    lines = [builder.lines.get(id(record), index + 1) for index, record in enumerate(records)]
    return Table(
        path=path,
        format="xml",
        header=tuple(header),
        frame=_text_frame(
            _unique_labels(header),
            [[row.get(name, "") for row in rows] for name in header],
            len(rows),
        ),
        lines=np.asarray(lines, dtype=np.int64),
        header_line=0,
        encoding=_xml_encoding(raw),
        meta=_xml_meta(root, container, tag),
        container=_local(tag) if tag is not None else "",
    )


def _xml_row(record: ET.Element) -> dict[str, str]:
    """One record's fields: attributes, leaf children, and nested lists of items flattened
    to indexed fields (``<Items><Item><Sku>A</Sku></Item>...`` gives ``Sku1``, ``Sku2``...),
    as the CSV templates index them."""
    row: dict[str, str] = {}
    for name, value in record.attrib.items():
        _put(row, _local(name), value)
    repeated = Counter(child.tag for child in record if len(child))
    index = 0
    for child in record:
        items = _item_list(child, repeated[child.tag] > 1)
        if items is None:
            _put(row, _local(child.tag), _xml_value(child))
            continue
        for item in items:
            index += 1
            for name, value in item.attrib.items():
                _put(row, f"{_local(name)}{index}", value)
            for leaf in item:
                try:
                    value = _xml_value(leaf)
                except _NestedField as nested:
                    inside = (child, item) if item is not child else (child,)
                    raise _NestedField((*inside, *nested.inside), nested.child) from None
                _put(row, f"{_local(leaf.tag)}{index}", value)
    return row


def _is_item_tag(tag: str) -> bool:
    return _local(tag).lower().replace("_", "").startswith(("item", "lineitem", "orderitem"))


def _item_list(element: ET.Element, repeated: bool) -> list[ET.Element] | None:
    """The items of a record's child: a wrapper (``<Items>``) whose children all hold fields
    of their own, or an item itself (``<Item><Sku>..``, or any such element repeated in the
    record); None for a plain field."""
    if len(element) == 0:
        return None
    if all(len(child) > 0 for child in element):
        return list(element)
    if (repeated or _is_item_tag(element.tag)) and all(len(child) == 0 for child in element):
        return [element]
    return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if tag.startswith("{") else tag


class _TwiceInRecord(Exception):
    """A record gives one field twice (an attribute and an element, or two elements)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _put(row: dict[str, str], name: str, value: str) -> None:
    # Joining two values would make an ID that never existed: the record is refused.
    if name in row:
        raise _TwiceInRecord(name)
    row[name] = value


def _blank_xml(text: str | None) -> str:
    return "" if text is None or not text.strip(" \t\r\n") else text


class _NestedField(Exception):
    """A field element holds elements (``<Oid><Part>T1</Part><Part>2</Part></Oid>``, or mixed
    content ``<Oid>T1<x/>2</Oid>``): its value cannot be read without joining or dropping
    parts."""

    def __init__(self, inside: tuple[ET.Element, ...], child: ET.Element) -> None:
        super().__init__(_local(inside[-1].tag))
        self.inside = inside  # the elements from the record down to the field
        self.child = child  # the first element inside the field


def _xml_value(element: ET.Element) -> str:
    """A field's text; a field holding elements is refused (``_NestedField``)."""
    if len(element):
        raise _NestedField((element,), element[0])
    return _blank_xml(element.text)


def _record_like(element: ET.Element) -> bool:
    if len(element) == 0:
        return bool(element.attrib)
    return any(len(child) == 0 for child in element)


_Candidate = tuple[ET.Element, str, int]


def _find_record_container(
    root: ET.Element,
) -> tuple[ET.Element, str | None, list[_Candidate], set[int]]:
    """The element whose record-like children of one tag are most numerous, every candidate
    (parent, tag, count) and the ids of the elements inside the records of a record list.

    Record-like: has a leaf child (``<Action><Id>..``) or only attributes
    (``<Action Id=".."/>``). Ties go to the parent holding only that tag (``<Errors>`` over a
    ``<Response>`` that also holds ``<Meta>``), then to the first in document order.
    """
    best: tuple[int, float] | None = None
    found: tuple[ET.Element, str | None] = (root, None)
    candidates: list[_Candidate] = []
    for element in root.iter():
        if len(element) == 0:
            continue
        counts = Counter(child.tag for child in element if _record_like(child))
        candidates.extend((element, tag, count) for tag, count in counts.items())
    # A container inside another candidate's record holds that record's items (an
    # ``<ItemConversionRequest>``'s ``<Items>``): the outer records are the records.
    inside: set[int] = set()
    for element, tag, count in candidates:
        if count < 2 and not any(_is_item_tag(e.tag) for e in element.iter() if e is not element):
            continue  # one wrapper record (a batch holding its actions) is not a record list
        for child in element:
            if child.tag == tag and _record_like(child):
                inside.update(id(e) for e in child.iter() if e is not child)
    for element, tag, count in candidates:
        if id(element) in inside:
            continue
        score = (count, count / len(element))
        if best is None or score > best:
            best, found = score, (element, tag)
    return found[0], found[1], candidates, inside


# Fields that make a lone element a record rather than a block of metadata (``<Meta><Page>``,
# ``<Summary><Total>``): it names an action, an order or a line of the file.
_IDENTIFYING: Final = frozenset({"action_id", "oid", "action_tracker_id", "line", "sku"})


def _identifies(element: ET.Element) -> bool:
    names = [*element.attrib, *(child.tag for child in element if len(child) == 0)]
    return any(key_field(header_key(_local(name))) in _IDENTIFYING for name in names)


def _record_containers(
    path: Path, root: ET.Element, lines: dict[int, int]
) -> tuple[list[ET.Element], str | None]:
    """The elements holding the records (one, or the parts of one list split in two: the
    same tag at the same place with the same fields around it), in document order, and the
    record tag. Every other element that looks like a record is refused, never dropped:
    records of another tag beside them, another list of records, a lone element naming an
    action, an order or a line. Blocks of metadata (a lone element naming none, or an
    element wrapping the records) stay out of the records."""
    container, tag, candidates, inside = _find_record_container(root)
    if tag is None:
        return [container], None
    parents = {id(child): parent for parent in root.iter() for child in parent}

    def where(element: ET.Element) -> str:
        names = [_local(element.tag)]
        node = element
        while id(node) in parents:
            node = parents[id(node)]
            names.append(_local(node.tag))
        return "/".join(reversed(names))

    def line(element: ET.Element) -> str:
        return f"line {lines[id(element)]}" if id(element) in lines else "a line"

    first = next(child for child in container if child.tag == tag)
    same = [e for e, t, _count in candidates if t == tag and id(e) not in inside]
    place, around = where(container), _xml_meta(root, container, tag, parents)
    for other in same:
        if other is container:
            continue
        if where(other) != place or _xml_meta(root, other, tag, parents) != around:
            second = next(child for child in other if child.tag == tag)
            raise InputError(
                f"holds <{_local(tag)}> records in two places that differ ({place} "
                f"at {line(first)} and {where(other)} at {line(second)}): reading one would "
                "drop the other's records; give each list as a file of its own",
                path=path,
                line=lines.get(id(second)),
            )
    read = {id(e) for e in same}
    wrappers: set[int] = set()
    for element in same:
        node = element
        while id(node) in parents:
            node = parents[id(node)]
            wrappers.add(id(node))
    for records in same:
        for child in records:
            if child.tag == tag:
                inside.update(id(e) for e in child.iter())
    for element, other_tag, count in candidates:
        if other_tag == tag and id(element) in read:
            continue
        if id(element) in inside:
            continue
        kind = [
            child
            for child in element
            if child.tag == other_tag and _record_like(child) and id(child) not in wrappers
        ]
        if not kind or (count < 2 and not any(_identifies(child) for child in kind)):
            continue  # metadata (<Meta><Page>1</Page></Meta>) or a wrapper of the records
        beside = "among" if id(element) in read else "beside"
        raise InputError(
            f"holds <{_local(other_tag)}> records ({where(kind[0])} at {line(kind[0])}) "
            f"{beside} the <{_local(tag)}> records ({where(first)} at {line(first)}): "
            "reading one kind would drop the other; give each kind of record as a file of "
            "its own",
            path=path,
            line=lines.get(id(kind[0])),
        )
    return [e for e in same if id(e) in read] or [container], tag


def _xml_meta(
    root: ET.Element,
    container: ET.Element,
    tag: str | None,
    parents: dict[int, ET.Element] | None = None,
) -> dict[str, str]:
    """Attributes and leaf children around the records (paging fields and the like)."""
    path = _path_to(root, container, parents)
    meta: dict[str, str] = {}
    for element in path:
        for name, value in element.attrib.items():
            meta.setdefault(_local(name), value)
        for child in element:
            if len(child) == 0 and child.tag != tag and child not in path:
                meta.setdefault(_local(child.tag), _blank_xml(child.text))
    return meta


def _path_to(
    root: ET.Element, target: ET.Element, parents: dict[int, ET.Element] | None = None
) -> list[ET.Element]:
    if target is root:
        return [root]
    if parents is None:
        parents = {id(child): parent for parent in root.iter() for child in parent}
    path = [target]
    while path[-1] is not root:
        path.append(parents[id(path[-1])])
    return path[::-1]


def _xml_encoding(raw: bytes) -> str:
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    utf16 = _utf16_encoding(raw)
    if utf16 is not None:
        return utf16[0]
    declared = re.match(rb"""\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)""", raw[:200])
    return declared.group(1).decode("ascii").lower() if declared else "utf-8"
