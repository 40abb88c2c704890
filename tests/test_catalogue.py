"""The packaged catalogue of platform result codes, its validation, and code normalisation."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.catalogue import (
    CLASS_RESOLUTION,
    FIELDS,
    MAX_CODE_LENGTH,
    Catalogue,
    is_success_word,
    load_catalogue,
    normalize_text,
)
from reconciler.errors import ReconcilerError
from reconciler.model import Resolution

CASES = tomllib.loads((Path(__file__).parent / "cases" / "codes_normalise.toml").read_text("utf-8"))

# impact-reference.md §3.2 (general), §3.3 (FTP Reason enum), §3.4 (modification) and the seed.
REFERENCE_CODES = (
    # §3.2
    "MALFORMED",
    "CONV_MALFORMED",
    "CAMPAIGN_NOT_FOUND",
    "ACTIONTRACKER_NOT_FOUND",
    "REFTYPE_NOT_ACCEPTED",
    "ACTIONTRACKER_NOT_ACTIVE",
    "ACTIONTRACKER_CAMPAIGN_MISMATCH",
    "PARTNER_NOT_ACTIVE",
    "NO_VALID_REFERRAL",
    "NO_VALID_ACTION_REF",
    "ACTION_REF_NOT_FOUND",
    # §3.3
    "ACTIONTERMS_NOT_FOUND",
    "BLACKLISTED_SOURCE_IP",
    "BLOCKED_BY_PROMOCODE",
    "CALL_DUPLICATE",
    "CALL_DURATION_TOO_SHORT",
    "CALL_FOR_CALL_PER_CONV_AT",
    "CALL_INCOMPLETE",
    "CALL_OUTSIDE_DAILY_RANGE",
    "CONTRACT_NOT_FOUND",
    "CONV_DUPLICATE",
    "CREDITING_RULE_MISMATCH",
    "MAX_RECURRENCES_REACHED",
    "NO_ITEM",
    "OID_MISSING",
    "OTHER_REF_PRIORITIZED",
    "OUTSIDE_ASSOCIATION_WINDOW",
    "RESTRICTED_PROMOCODE",
    "UNCLAIMED",
    # §3.4 and the seed
    "NO_CHANGE",
    "BAD_DISPOSITION",
    "ALREADY_LOCKED",
    "ACTION_NOT_FOUND",
    "ALREADY_REVERSED",
    "ALREADY_APPROVED",
    "ACTIONTRACKER_INVALID",
    "ZERO_RECORDS",
    # submission / inferred
    "MAX_MODIFICATIONS_REACHED",
    "CUSTOMER_STATUS_NOT_CONFIGURED",
    "SKU_NOT_FOUND",
)

FIX_RULES = {
    "BAD_DISPOSITION": "reason",
    "MALFORMED": "amount_date",
    "CONV_MALFORMED": "amount_date",
    "ACTIONTRACKER_INVALID": "action_tracker_id",
    "ACTIONTRACKER_NOT_FOUND": "action_tracker_id",
    "ACTION_NOT_FOUND": "identifiers",
}


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return load_catalogue()


# --- the packaged catalogue ---------------------------------------------------------------------


def test_packaged_catalogue_is_loaded_once() -> None:
    assert load_catalogue() is load_catalogue()


def test_explicit_path_loads_the_same_codes(cat: Catalogue) -> None:
    path = Path(__file__).parents[1] / "reconciler" / "catalogue.toml"
    assert [info.code for info in load_catalogue(path)] == [info.code for info in cat]


@pytest.mark.parametrize("code", REFERENCE_CODES)
def test_reference_code_is_catalogued(cat: Catalogue, code: str) -> None:
    assert code in cat
    info = cat.get(code)
    assert info.code == code
    assert info.known


def test_entries_are_complete(cat: Catalogue) -> None:
    allowed = set(Resolution) - {Resolution.NONE, Resolution.AUTO_FIXED}
    for info in cat:
        assert info.title and info.meaning and info.advice, info.code
        assert len(info.title) <= 40, info.code
        assert info.resolution in allowed, info.code
        assert set(info.fields) <= FIELDS, info.code
        assert info.source in {"read", "seed", "inferred"}, info.code
        # The first platform class is the one the default resolution follows.
        assert info.resolution is CLASS_RESOLUTION[info.platform_class[0]], info.code


def test_fix_rules_are_as_specified(cat: Catalogue) -> None:
    assert {info.code: info.fix_rule for info in cat if info.fix_rule} == FIX_RULES


@pytest.mark.parametrize(
    ("code", "resolution"),
    [
        ("BAD_DISPOSITION", Resolution.FIX_MANUALLY),
        ("ALREADY_LOCKED", Resolution.NO_ACTION),
        ("ALREADY_REVERSED", Resolution.NO_ACTION),
        ("ALREADY_APPROVED", Resolution.NO_ACTION),
        ("ACTIONTRACKER_NOT_ACTIVE", Resolution.CONTACT_SUPPORT),
        ("CONV_DUPLICATE", Resolution.NO_ACTION),
        ("ACTION_REF_NOT_FOUND", Resolution.FIX_MANUALLY),
        ("NO_CHANGE", Resolution.NO_ACTION),
        ("MAX_MODIFICATIONS_REACHED", Resolution.CONTACT_SUPPORT),
        ("SUBMISSION_IN_PROGRESS", Resolution.WAIT),
    ],
)
def test_resolution(cat: Catalogue, code: str, resolution: Resolution) -> None:
    assert cat.get(code).resolution is resolution


def test_advice_follows_the_reference(cat: Catalogue) -> None:
    assert "RESET" in cat.get("ALREADY_REVERSED").advice
    assert "final" in cat.get("NO_CHANGE").advice
    assert "already 0" in cat.get("NO_CHANGE").advice
    assert "OrderId" in cat.get("CONV_DUPLICATE").advice


def test_seed_message_and_truncated_code_are_aliases(cat: Catalogue) -> None:
    aliases = cat.get("ACTIONTRACKER_INVALID").aliases
    assert "ActionTrackerId: ActionTrackerId value is invalid" in aliases
    assert "ActionTrackerld:ActionTrackerld value is invalid" in aliases
    assert "NO_VALID_REFER" in cat.get("NO_VALID_REFERRAL").aliases


def test_inferred_codes_say_so(cat: Catalogue) -> None:
    for code in ("MAX_MODIFICATIONS_REACHED", "CUSTOMER_STATUS_NOT_CONFIGURED", "SKU_NOT_FOUND"):
        assert cat.get(code).source == "inferred"


def test_container_protocol(cat: Catalogue) -> None:
    codes = [info.code for info in cat]
    assert codes == sorted(codes)
    assert len(cat) == len(codes) == len(set(codes))
    assert "BAD_DISPOSITION" in cat
    assert "INVALID_DISPOSITION" not in cat  # an alias, not a code
    assert "NOT_A_CODE" not in cat


# --- get ----------------------------------------------------------------------------------------


def test_get_unknown_gives_the_review_default(cat: Catalogue) -> None:
    info = cat.get("Something odd happened")
    assert info.code == "SOMETHING_ODD_HAPPENED"
    assert not info.known
    assert info.resolution is Resolution.REVIEW
    assert info.platform_class == ""
    assert info.fix_rule == ""
    assert "maintainers" in info.advice


def test_get_resolves_spellings(cat: Catalogue) -> None:
    assert cat.get("already locked") is cat.get("ALREADY_LOCKED")
    assert cat.get("Error: invalid disposition").code == "BAD_DISPOSITION"


@pytest.mark.parametrize("raw", ["", "   ", "nan", "OK", "\x00", "é" * 500])
def test_get_never_raises(cat: Catalogue, raw: str) -> None:
    assert isinstance(cat.get(raw).resolution, Resolution)


# --- normalisation ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES["case"], ids=lambda case: case["why"])
def test_normalise_case(cat: Catalogue, case: dict[str, object]) -> None:
    raw = str(case["raw"])
    codes = case["codes"]
    assert isinstance(codes, list)
    default_first = codes[0] if len(codes) == 1 else ""
    assert cat.split(raw) == tuple(codes)
    assert cat.normalize(raw) == case.get("first", default_first)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("OK", True),
        ("ok", True),
        ("SUCCESS", True),
        ("Accepted", True),
        (" processed ", True),
        ("Processed successfully", True),
        ("NO_CHANGE", False),
        ("", False),
        ("nan", False),
        ("Rejected", False),
    ],
)
def test_is_success_word(raw: str, expected: bool) -> None:
    assert is_success_word(raw) is expected


def test_long_free_text_is_capped(cat: Catalogue) -> None:
    raw = "The platform could not process this record because " + "of a reason " * 20
    code = cat.normalize(raw)
    assert 0 < len(code) <= MAX_CODE_LENGTH
    assert not code.endswith("_")
    assert cat.normalize(code) == code


def test_missing_values_from_pandas_read_as_no_code(cat: Catalogue) -> None:
    assert cat.split(float("nan")) == ()  # type: ignore[arg-type]
    assert cat.split(None) == ()  # type: ignore[arg-type]


def test_split_is_memoised(cat: Catalogue) -> None:
    raw = "CONTRACT_NOT_FOUND RESTRICTED_PROMOCODE"
    assert cat.split(raw) is cat.split(raw)


# Text built from the pieces real cells are made of, so the property tests reach the interesting
# branches (aliases, prefixes, separators, UPPER_SNAKE lists) and not just random letters.
_FRAGMENTS = st.sampled_from(
    [
        "ALREADY_LOCKED", "already locked", "NO_CHANGE", "BAD_DISPOSITION", "bad-disposition",
        "CONTRACT_NOT_FOUND", "ActionTrackerId: ActionTrackerId value is invalid", "Error:",
        "ERROR -", "Reason: ", "OK", "nan", "None", "-", "FOO_BAR", "NEW_CODE", "foo", "x",
        "ACTION", "NOT", "FOUND", "_", " ", ";", ",", "|", "\n", "(", ")", '"', "[", "]", ".",
        "…", "ß", "ı", "ﬁ", "NO_ERROR", "In Progress", "9", "A" * 70, "_A" * 40,
    ]
)  # fmt: skip
_CELLS = st.one_of(st.text(), st.lists(_FRAGMENTS, max_size=8).map("".join))


@settings(max_examples=300, deadline=None)
@given(_CELLS)
def test_normalize_is_idempotent(raw: str) -> None:
    cat = load_catalogue()
    once = cat.normalize(raw)
    assert cat.normalize(once) == once
    assert normalize_text(normalize_text(raw)) == normalize_text(raw)


@settings(max_examples=300, deadline=None)
@given(_CELLS)
def test_split_is_idempotent(raw: str) -> None:
    cat = load_catalogue()
    codes = cat.split(raw)
    assert cat.split(",".join(codes)) == codes
    assert list(codes) == sorted(set(codes))
    assert all(code and len(code) <= MAX_CODE_LENGTH for code in codes)
    if codes:
        assert cat.normalize(raw) in codes
    else:
        assert cat.normalize(raw) == ""


# --- a broken catalogue -------------------------------------------------------------------------

_VALID = """
[codes.BAD_DISPOSITION]
title = "Reason code not accepted"
meaning = "The reason code is not valid."
category = "modification"
error_type = "Validation"
platform_class = "F"
resolution = "fix_manually"
advice = "Use a standard reason code."
fix_rule = "reason"
fields = ["reason"]
aliases = ["INVALID_DISPOSITION"]
source = "seed"

[codes.ALREADY_LOCKED]
title = "Action already locked"
meaning = "The locking date has passed."
category = "modification"
error_type = "Validation"
platform_class = "T"
resolution = "no_action"
advice = "Nothing through a file."
fix_rule = ""
fields = []
aliases = ["ACTION_LOCKED"]
source = "seed"

[unknown]
known = false
title = "Unknown result code"
meaning = "Not in the catalogue."
category = "unknown"
error_type = ""
platform_class = ""
resolution = "review"
advice = "Look it up."
fix_rule = ""
fields = []
aliases = []
source = "inferred"
"""


def test_minimal_catalogue_loads(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.toml"
    path.write_text(_VALID, encoding="utf-8")
    cat = load_catalogue(path)
    assert [info.code for info in cat] == ["ALREADY_LOCKED", "BAD_DISPOSITION"]
    assert cat.normalize("invalid disposition") == "BAD_DISPOSITION"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('resolution = "fix_manually"', 'resolution = "fixit"', "BAD_DISPOSITION.resolution"),
        ('resolution = "fix_manually"', 'resolution = "none"', "BAD_DISPOSITION.resolution"),
        ('resolution = "no_action"', 'resolution = "wait"', "ALREADY_LOCKED.resolution"),
        ('fix_rule = "reason"', 'fix_rule = "disposition"', "BAD_DISPOSITION.fix_rule"),
        ('fields = ["reason"]', 'fields = ["Reason"]', "BAD_DISPOSITION.fields"),
        ('aliases = ["ACTION_LOCKED"]', 'aliases = ["invalid disposition"]', "ALREADY_LOCKED"),
        ('aliases = ["ACTION_LOCKED"]', 'aliases = ["BAD_DISPOSITION"]', "ALREADY_LOCKED"),
        ('aliases = ["ACTION_LOCKED"]', 'aliases = ["locked, done"]', "ALREADY_LOCKED.aliases"),
        ('aliases = ["ACTION_LOCKED"]', 'aliases = ["OK"]', "ALREADY_LOCKED.aliases"),
        ("[codes.ALREADY_LOCKED]", "[codes.already_locked]", "codes.already_locked"),
        ('source = "seed"\n\n[codes.ALREADY', 'sauce = "seed"\n\n[codes.ALREADY', "sauce"),
        ('advice = "Nothing through a file."', 'advice = ""', "ALREADY_LOCKED.advice"),
        ('title = "Action already locked"', f'title = "{"x" * 41}"', "ALREADY_LOCKED.title"),
        ('platform_class = "T"', 'platform_class = "X"', "ALREADY_LOCKED.platform_class"),
        ('category = "modification"', 'category = "misc"', "BAD_DISPOSITION.category"),
        ('fields = ["reason"]', 'fields = "reason"', "BAD_DISPOSITION.fields"),
        ('aliases = []\nsource = "inferred"', 'aliases = ["X_Y"]\nsource = "inferred"', "unknown"),
        ("known = false", "known = true", "unknown.known"),
        ("[unknown]", "[unknown_default]", "unknown_default"),
        ('title = "Reason code not accepted"', 'title = "unterminated', "not valid TOML"),
    ],
)
def test_broken_catalogue_names_the_bad_key(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in _VALID
    path = tmp_path / "catalogue.toml"
    path.write_text(_VALID.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ReconcilerError) as caught:
        load_catalogue(path)
    message = str(caught.value)
    assert expected in message
    assert str(path) in message


def test_missing_catalogue_file_is_a_clean_error(tmp_path: Path) -> None:
    with pytest.raises(ReconcilerError, match="cannot read"):
        load_catalogue(tmp_path / "nope.toml")
