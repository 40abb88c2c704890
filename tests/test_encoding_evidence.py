"""Decoding from evidence, end to end: a UTF-8 file with stray bytes is refused naming their
lines (sent and results, CSV and JSON), a legacy code page is used only when its words read
clearly better than in every other, and a close call is refused naming the candidates.
Nothing garbled reaches any output.

The CLI tests assert what the user gets (exit code, the one refusal line, the files written);
the matrix at the end measures the evidence on realistic names, short (one value) and long.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconciler.cli import app
from reconciler.errors import InputError
from reconciler.readers import read_table

runner = CliRunner()

HEADER = "ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason\n"
FIX = (
    "re-reading the whole file in another encoding would change its other values: fix "
    "those bytes (save it again as CSV UTF-8), or say how it is encoded with --encoding "
    "(e.g. --encoding cp1252)"
)


def _invoke(*args: object) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def _results(folder: Path, oid: str, encoding: str = "utf-8", line: int = 3) -> Path:
    """A results file: the record on ``line`` (named by ``oid``) is ALREADY_LOCKED."""
    path = folder / "results.csv"
    path.write_bytes(f"Line,Order Id,Message\n{line},{oid},ALREADY_LOCKED\n".encode(encoding))
    return path


def _outputs_text(out: Path) -> str:
    return "".join(
        p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(out.iterdir())
        if p.suffix in (".csv", ".json", ".html")
    )


# --------------------------------------------------------------------------- stray bytes

STRAY = {
    # a valid Ü and two cp1252 é bytes on other lines
    "two-stray-bytes": (
        ",ORD-\u00dc1,16027,0,,,ITEM_RETURNED\n".encode()
        + b",T2,16027,0,,Caf\xe9,ITEM_RETURNED\n,T3,16027,0,,Caf\xe9,ITEM_RETURNED\n",
        "3: is UTF-8 except for 2 invalid bytes on lines 3, 4",
    ),
    # the file cut in the middle of a euro sign
    "euro-cut-at-the-end": (
        ",ORD-\u00dc1,16027,0,,,ITEM_RETURNED\n,T3,16027,0,,,ITEM_RETURNED \u20ac".encode()[:-1],
        "3: is UTF-8 except for 2 invalid bytes on line 3",
    ),
    # a 4-byte character (an emoji) missing its last byte, beside two valid characters
    "four-byte-character-cut": (
        ",ORD-\u00dc1,16027,0,,M\u00fcller,ITEM_RETURNED\n".encode()
        + b",T3,16027,0,,\xf0\x9f\x98,ITEM_RETURNED\n",
        "3: is UTF-8 except for 3 invalid bytes on line 3",
    ),
    # three-byte characters (Japanese) and one bad byte
    "cjk-and-one-bad-byte": (
        ",\u6ce8\u6587-1,16027,0,,,ITEM_RETURNED\n".encode()
        + b",T2,16027,0,,x\xff,ITEM_RETURNED\n",
        "3: is UTF-8 except for 1 invalid byte on line 3",
    ),
}


@pytest.mark.parametrize("name", sorted(STRAY))
def test_utf8_with_stray_bytes_is_refused_naming_their_lines(tmp_path: Path, name: str) -> None:
    body, where = STRAY[name]
    sent = tmp_path / "sent.csv"
    sent.write_bytes(HEADER.encode() + body)
    results = _results(tmp_path, "ORD-\u00dc1", line=2)
    line = f"reconciler: {sent}:{where}; {FIX}\n"

    code, stdout, stderr = _invoke("reconcile", sent, results, "-o", tmp_path / "o", "--no-ledger")
    assert (code, stdout, stderr) == (2, "", line)
    assert not (tmp_path / "o").exists()  # nothing garbled written anywhere

    code, stdout, stderr = _invoke("check", sent, "--fix", "-o", tmp_path / "c")
    assert (code, stdout, stderr) == (2, "", line)
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_a_results_file_with_stray_bytes_is_refused_not_misread(tmp_path: Path, kind: str) -> None:
    # The result for ORD-Ü1 says ALREADY_LOCKED; re-read as cp1252 it named ORD-Ãœ1, did not
    # tie, and the record was called accepted.
    sent = tmp_path / "sent.csv"
    sent.write_text(
        HEADER + ",ORD-\u00dc1,16027,0,,,ITEM_RETURNED\n,ORD-A2,16027,0,,,ITEM_RETURNED\n",
        encoding="utf-8",
    )
    if kind == "csv":
        results = tmp_path / "results.csv"
        results.write_bytes(
            "Line,Order Id,Action Tracker Id,Message,Note\n2,ORD-\u00dc1,16027,ALREADY_LOCKED,x\n"
            "3,ORD-A2,16027,NO_CHANGE,caf\u00e9 caf\u00e9\n".encode().replace(b"\xc3\xa9", b"\xe9")
        )
        where = "3: is UTF-8 except for 2 invalid bytes on line 3"
    else:
        results = tmp_path / "results.json"
        records = [
            {
                "Line": "2",
                "OrderId": "ORD-\u00dc1",
                "ActionTrackerId": "16027",
                "Reason": "ALREADY_LOCKED",
            },
            {
                "Line": "3",
                "OrderId": "ORD-A2",
                "ActionTrackerId": "16027",
                "Reason": "NO_CHANGE",
                "Note": "cafX cafX",
            },
        ]
        text = json.dumps({"ErrorDetail": records}, ensure_ascii=False, indent=1).encode()
        results.write_bytes(text.replace(b"cafX", b"caf\xe9"))
        where = "14: is UTF-8 except for 2 invalid bytes on line 14"
    code, stdout, stderr = _invoke("reconcile", sent, results, "-o", tmp_path / "o", "--no-ledger")
    assert (code, stdout) == (2, "")
    assert stderr == f"reconciler: {results}:{where}; {FIX}\n"
    assert not (tmp_path / "o").exists()


def test_a_legacy_file_whose_character_is_valid_utf8_on_its_own_names_both_readings(
    tmp_path: Path,
) -> None:
    # 女 in GB18030 is C5 AE, the UTF-8 of Ů: valid UTF-8 beside the invalid bytes of the other
    # Chinese values. Neither reading is chosen for the user; both are named.
    names = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄勇", "周杰", "女"]
    sent = tmp_path / "sent.csv"
    sent.write_bytes(
        (
            HEADER + "".join(f",T{i},16027,0,,{n},ITEM_RETURNED\n" for i, n in enumerate(names))
        ).encode("gb18030")
    )
    code, stdout, stderr = _invoke("check", sent, "-o", tmp_path / "c")
    assert (code, stdout) == (2, "")
    assert stderr == (
        f"reconciler: {sent}:2: holds valid UTF-8 ('\u016e' on line 11) and 30 invalid bytes on "
        "lines 2, 3, 4, 5, 6 ...: it is either UTF-8 with stray bytes or gb18030 text (line 11 "
        "reads '\u5973' in gb18030); say which with --encoding NAME (e.g. --encoding gb18030), "
        "or fix those bytes (save it again as CSV UTF-8)\n"
    )
    code, _, _ = _invoke("check", sent, "--fix", "-o", tmp_path / "c", "--encoding", "gb18030")
    assert code in (0, 1)
    assert "\u5973" in (tmp_path / "c" / "sent.fixed.csv").read_text(encoding="utf-8-sig")


# --------------------------------------------------------------------------- legacy: close calls

CLOSE = {
    # (text, its encoding, the refusal after "it reads as ")
    "gb18030-one-character": ("\u738b", "gb18030", "cp1253 '\u039d\u03c5-1', gb18030 '\u738b-1'"),
    "gb18030-two-characters": (
        "\u5317\u4eac",
        "gb18030",
        "cp949 '\uad47\uc474-1', gb18030 '\u5317\u4eac-1', big5 '\u63a7\u5114-1'",
    ),
    "cp949-one-syllable": ("\uc774", "cp949", None),
    "cp932-one-kanji": ("\u5c71", "cp932", "cp1252 '\u017dR-1', cp932 '\u5c71-1'"),
    "cp1252-french-name": (
        "H\u00e9l\u00e8ne",
        "cp1252",
        "cp1252 'H\u00e9l\u00e8ne-1', cp1250 'H\u00e9l\u010dne-1'",
    ),
    "cp1250-czech-name": (
        "Ku\u010dera",
        "cp1250",
        "cp1252 'Ku\u00e8era-1', cp1250 'Ku\u010dera-1'",
    ),
}


@pytest.mark.parametrize("name", sorted(CLOSE))
def test_short_text_that_reads_in_several_code_pages_is_refused(tmp_path: Path, name: str) -> None:
    text, encoding, reads = CLOSE[name]
    sent = tmp_path / "sent.csv"
    sent.write_bytes(
        (
            HEADER
            + "1000.4636.1,,,10.00,USD,,ITEM_RETURNED\n"
            + f",{text}-1,16027,0,,,ITEM_RETURNED\n"
        ).encode(encoding)
    )
    results = _results(tmp_path, f"{text}-1", encoding)
    code, stdout, stderr = _invoke("reconcile", sent, results, "-o", tmp_path / "o", "--no-ledger")
    assert (code, stdout) == (2, "")
    prefix = (
        f"reconciler: {sent}:3: is not UTF-8, and too little of its text tells its encoding "
        "apart: it reads as "
    )
    assert stderr.startswith(prefix), stderr
    assert stderr.count("\n") == 1
    shown = stderr[len(prefix) : stderr.index("; name the right one")]
    if reads is not None:
        assert shown == reads
    assert f"{encoding} '{text}-1'" in shown
    assert "; name the right one with --encoding NAME (e.g. --encoding " in stderr
    assert stderr.endswith("), or save it again as CSV UTF-8\n")
    assert not (tmp_path / "o").exists()

    code, _, stderr = _invoke("check", sent, "-o", tmp_path / "c")
    assert code == 2 and stderr.startswith(prefix)

    # Told, reconciler reads it so, and the value arrives intact.
    out = tmp_path / "told"
    code, _, _ = _invoke(
        "reconcile", sent, results, "-o", out, "--no-ledger", "--encoding", encoding
    )
    assert code == 1
    reconciled = (out / "reconciled.csv").read_text(encoding="utf-8-sig")
    assert f",{text}-1,16027,0,,,ITEM_RETURNED,3,rejected,ALREADY_LOCKED" in reconciled


# --------------------------------------------------------------------------- legacy: decided

DECIDED = {
    "gb18030-city": ("\u4e0a\u6d77\u5e02-001", "", "gb18030"),
    "cp1250-czech": ("ORD-1", "Dvo\u0159\u00e1k", "cp1250"),
    "cp1250-polish": (
        "Z-\u0141\u00f3d\u017a",
        "\u017b\u00f3\u0142\u0107 \u015awi\u0119ty",
        "cp1250",
    ),
    "cp1252-one-accent": ("ORD-12", "Zo\u00eb", "cp1252"),
    "cp1252-oid": ("ORD-\u00dc1", "x", "cp1252"),
    "cp1251": ("\u0417\u0410\u041a-12", "\u0418\u0432\u0430\u043d\u043e\u0432", "cp1251"),
    "gb18030-name": ("\u8ba2\u5355-12", "\u5f20\u4f1f", "gb18030"),
    "shift-jis": ("\u6ce8\u6587-12", "\u5c71\u7530", "cp932"),
    "big5-city": ("\u53f0\u5317-1", "", "big5"),
}


@pytest.mark.parametrize("name", sorted(DECIDED))
def test_a_legacy_file_the_evidence_tells_apart_is_read_right(tmp_path: Path, name: str) -> None:
    oid, status, encoding = DECIDED[name]
    sent = tmp_path / "sent.csv"
    sent.write_bytes(
        (
            HEADER
            + "1000.4636.1,,,10.00,USD,,ITEM_RETURNED\n"
            + f",{oid},16027,0,,{status},ITEM_RETURNED\n"
        ).encode(encoding)
    )
    # The ALREADY_LOCKED result names the record by its Oid: it ties only if read right.
    results = _results(tmp_path, oid)
    out = tmp_path / "o"
    code, stdout, _ = _invoke("reconcile", sent, results, "-o", out, "--no-ledger")
    assert code == 1
    assert f"sent.csv is not UTF-8: read as {encoding}" in stdout
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["sent_encoding"] == encoding
    reconciled = (out / "reconciled.csv").read_text(encoding="utf-8-sig").splitlines()
    assert reconciled[2].startswith(
        f",{oid},16027,0,,{status},ITEM_RETURNED,3,rejected,ALREADY_LOCKED"
    )

    code, _, _ = _invoke("check", sent, "--fix", "-o", tmp_path / "c")
    assert code in (0, 1)
    fixed = (tmp_path / "c" / "sent.fixed.csv").read_text(encoding="utf-8-sig")
    assert f",{oid},16027,0,,{status}," in fixed


RESULT_OIDS = ["\u5f20\u4f1f-1", "\u738b\u82b3-2", "\u674e\u5a1c-3", "\u5218\u6d0b-4"]
MORE_OIDS = ["\u9648\u9759-5", "\u6768\u78ca-6", "\u8d75\u654f-7", "\u9ec4\u52c7-8"]
MORE_OIDS += ["\u5468\u6770-9", "\u5434\u5a77-10", "\u4e0a\u6d77\u5e02-11"]


def test_a_results_file_in_a_legacy_code_page_ties_when_told_apart_and_is_refused_when_not(
    tmp_path: Path,
) -> None:
    oids = RESULT_OIDS + MORE_OIDS
    sent = tmp_path / "sent.csv"
    sent.write_text(
        HEADER + "".join(f",{oid},16027,0,,,ITEM_RETURNED\n" for oid in oids), encoding="utf-8"
    )
    results = tmp_path / "results.csv"
    rows = "".join(f"{i + 2},{oid},ALREADY_LOCKED\n" for i, oid in enumerate(oids))
    results.write_bytes(("Line,Order Id,Message\n" + rows).encode("gb18030"))
    out = tmp_path / "o"
    code, stdout, _ = _invoke("reconcile", sent, results, "-o", out, "--no-ledger")
    assert code == 1
    assert "results.csv is not UTF-8: read as gb18030" in stdout
    reconciled = (out / "reconciled.csv").read_text(encoding="utf-8-sig").splitlines()[1:]
    assert [row.split(",")[8] for row in reconciled] == ["rejected"] * len(oids)

    # One short value: too little to tell GB18030 from cp949 and Big5; the results file is
    # refused, nothing is called accepted.
    results.write_bytes(
        "Line,Order Id,Message\n2,\u8ba2\u5355-12,ALREADY_LOCKED\n".encode("gb18030")
    )
    code, stdout, stderr = _invoke("reconcile", sent, results, "-o", tmp_path / "o2", "--no-ledger")
    assert (code, stdout) == (2, "")
    assert stderr == (
        f"reconciler: {results}:2: is not UTF-8, and too little of its text tells its encoding "
        "apart: it reads as cp949 '\ub550\ub370-12', gb18030 '\u8ba2\u5355-12', big5 "
        "'\u9686\u7b49-12'; name the right one with --encoding NAME (e.g. --encoding cp949), or "
        "save it again as CSV UTF-8\n"
    )
    assert not (tmp_path / "o2").exists()


def test_nothing_garbled_reaches_the_outputs_of_a_close_call_told_its_encoding(
    tmp_path: Path,
) -> None:
    # The audit's case: GB18030 上海市-001 was read as cp1251 (ЙПєЈКР-001) into resubmit.csv.
    sent = tmp_path / "sent.csv"
    sent.write_bytes(
        (
            HEADER
            + "1000.4636.1,,,10.00,USD,,item returned\n,\u4e0a\u6d77\u5e02-001,16027,0,,,item returned\n"
        ).encode("gb18030")
    )
    out = tmp_path / "o"
    results = _results(tmp_path, "\u4e0a\u6d77\u5e02-001", "gb18030")
    code, _, _ = _invoke("reconcile", sent, results, "-o", out, "--no-ledger")
    assert code == 1
    text = _outputs_text(out)
    assert "\u4e0a\u6d77\u5e02-001" in text
    assert "\u0419\u041f\u0454\u0408\u041a\u0420" not in text


# --------------------------------------------------------------------------- the measurement

# Realistic values per code page: long (all of them, one per line) must read right; each one
# alone must read right or be refused, never read in another code page.
SAMPLES = {
    "cp1252": [
        "M\u00fcller", "H\u00e9l\u00e8ne Dubois", "Fran\u00e7ois Lef\u00e8vre", "Jos\u00e9 N\u00fa\u00f1ez",
        "Bego\u00f1a Mart\u00ednez", "J\u00e9r\u00f4me Ga\u00eblle", "Cr\u00e8me br\u00fbl\u00e9e", "Stra\u00dfe 12",
        "Zo\u00eb No\u00ebl", "\u00c5sa \u00d6berg", "S\u00f8ren J\u00f8rgensen", "Jo\u00e3o Concei\u00e7\u00e3o",
        "Ren\u00e9e C\u00f4t\u00e9", "Ignacio Pe\u00f1a", "Bj\u00f6rn Sch\u00e4fer", "Th\u00e9r\u00e8se", "Ana\u00efs",
        "Chlo\u00e9", "L\u00e9a B\u00e9nard", "Rapha\u00ebl",
    ],
    "cp1250": [
        "Dvo\u0159\u00e1k", "\u0141\u00f3d\u017a", "Wa\u0142\u0119sa", "Ku\u010dera", "Nov\u00e1k", "\u010cern\u00fd",
        "R\u016f\u017ei\u010dka", "Szcz\u0119sny", "N\u011bmec", "Proch\u00e1zkov\u00e1", "Wroc\u0142aw", "Gda\u0144sk",
        "Krak\u00f3w", "Brz\u0119czyszczykiewicz", "Ji\u0159\u00ed Hor\u00e1k", "\u0160\u0165astn\u00fd",
        "Zieli\u0144ski", "W\u00f3jcik", "Kami\u0144ska", "Lewandowski",
    ],
    "cp1251": [
        "\u0418\u0432\u0430\u043d\u043e\u0432", "\u041c\u043e\u0441\u043a\u0432\u0430",
        "\u041f\u0451\u0442\u0440 \u0421\u043c\u0438\u0440\u043d\u043e\u0432",
        "\u041d\u0430\u0442\u0430\u043b\u044c\u044f \u041a\u0443\u0437\u043d\u0435\u0446\u043e\u0432\u0430",
        "\u0421\u0430\u043d\u043a\u0442-\u041f\u0435\u0442\u0435\u0440\u0431\u0443\u0440\u0433",
        "\u0415\u043a\u0430\u0442\u0435\u0440\u0438\u043d\u0430",
        "\u041d\u043e\u0432\u043e\u0441\u0438\u0431\u0438\u0440\u0441\u043a",
        "\u0421\u0435\u0440\u0433\u0435\u0439 \u041f\u043e\u043f\u043e\u0432",
        "\u041e\u043b\u044c\u0433\u0430 \u0421\u043e\u043a\u043e\u043b\u043e\u0432\u0430",
        "\u041c\u0438\u0445\u0430\u0438\u043b", "\u041a\u0430\u0437\u0430\u043d\u044c",
    ],
    "gb18030": [
        "\u5f20\u4f1f", "\u738b\u82b3", "\u674e\u5a1c", "\u5218\u6d0b", "\u9648\u9759", "\u6768\u78ca",
        "\u8d75\u654f", "\u9ec4\u52c7", "\u5468\u6770", "\u5434\u5a77", "\u4e0a\u6d77\u5e02",
        "\u5317\u4eac\u5e02\u671d\u9633\u533a", "\u5e7f\u5dde\u5e02\u5929\u6cb3\u533a", "\u6df1\u5733\u5e02",
        "\u8ba2\u5355", "\u5f90\u4e3d", "\u5b59\u5f3a", "\u9a6c\u8d85", "\u6731\u7ea2", "\u80e1\u519b",
    ],
    "big5": [
        "\u5f35\u5049", "\u738b\u82b3", "\u674e\u5a1c", "\u5289\u6d0b", "\u9673\u975c", "\u694a\u78ca",
        "\u8d99\u654f", "\u9ec3\u52c7", "\u5468\u5091", "\u5433\u5a77", "\u81fa\u5317\u5e02",
        "\u9ad8\u96c4\u5e02", "\u53f0\u4e2d", "\u65b0\u7af9\u7e23", "\u8a02\u55ae", "\u5f90\u9e97",
        "\u5b6b\u5f37", "\u99ac\u8d85", "\u6731\u7d05", "\u80e1\u8ecd",
    ],
    "cp932": [
        "\u5c71\u7530\u592a\u90ce", "\u4f50\u85e4\u82b1\u5b50", "\u9234\u6728\u4e00\u90ce", "\u9ad8\u6a4b",
        "\u7530\u4e2d", "\u6e21\u8fba", "\u4f0a\u85e4", "\u6771\u4eac\u90fd", "\u5927\u962a\u5e9c",
        "\u6ce8\u6587", "\u3059\u305a\u304d", "\u30bf\u30ca\u30ab", "\u5c0f\u6797", "\u52a0\u85e4",
        "\u5409\u7530", "\u677e\u672c", "\u4e95\u4e0a", "\u6728\u6751", "\u6797", "\u6e05\u6c34",
    ],
    "cp949": [
        "\uae40\ubbfc\uc218", "\uc774\uc601\ud76c", "\ubc15\uc9c0\ud604", "\ucd5c\uc218\uc9c4",
        "\uc815\ubbfc\ud638", "\uac15\ub3d9\uc6d0", "\uc870\uc131\ubbfc", "\uc724\uc11c\uc5f0", "\uc7a5\ubbf8",
        "\uc784\uc7ac\ud604", "\uc11c\uc6b8\uc2dc", "\ubd80\uc0b0", "\ud55c\uc9c0\ubbfc", "\uc624\uc138\ud6c8",
        "\uc2e0\ub3d9\uc5fd", "\uad8c\uc0c1\uc6b0", "\uc1a1\ud61c\uad50", "\uc548\uc815\ud658",
        "\uc720\uc7ac\uc11d", "\uc804\uc9c0\ud604",
    ],
    "cp1253": [
        "\u0391\u03b8\u03ae\u03bd\u03b1", "\u0393\u03b9\u03ce\u03c1\u03b3\u03bf\u03c2",
        "\u0398\u03b5\u03c3\u03c3\u03b1\u03bb\u03bf\u03bd\u03af\u03ba\u03b7", "\u039c\u03b1\u03c1\u03af\u03b1",
    ],
    "cp1254": [
        "\u015ei\u015fli", "\u00c7a\u011flar", "\u0130stanbul", "Ay\u015fe Y\u0131lmaz",
        "Mehmet \u00d6zt\u00fcrk", "Kad\u0131k\u00f6y", "Be\u015fikta\u015f", "\u00dcmraniye",
    ],
    "cp1257": [
        "Vilnius", "\u0160iauli\u0173", "Kaunas \u017dalgirio", "R\u012bga", "J\u0113kabpils", "J\u016brmala",
        "Klaip\u0117da", "Panev\u0117\u017eys", "Liep\u0101ja", "Tartu \u00d5ism\u00e4e", "Ventspils",
    ],
}  # fmt: skip


def _read(tmp_path: Path, values: list[str], encoding: str) -> str | None:
    """The Name column as read, or None when the file is refused."""
    path = tmp_path / "names.csv"
    path.write_bytes(
        ("Oid,Name\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values))).encode(encoding)
    )
    try:
        table = read_table(path)
    except InputError:
        return None
    return "|".join(table.frame["Name"])


@pytest.mark.parametrize("encoding", sorted(SAMPLES))
def test_long_text_reads_right_and_short_text_never_reads_wrong(
    tmp_path: Path, encoding: str
) -> None:
    values = SAMPLES[encoding]
    assert _read(tmp_path, values, encoding) == "|".join(values)
    for value in values:
        assert _read(tmp_path, [value], encoding) in (value, None), value
