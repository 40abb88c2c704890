"""Value-level fix rules: turn one spoiled cell into the value impact.com expects, or refuse.

Owns the judgement "is this value unambiguously the same as that one?" for amounts, dates,
integers, reason codes and spreadsheet-spoiled IDs. Every function is pure, works on one string
and never guesses: when two readings are possible it returns a refusal with the reason. Shared by
the resubmission stage (``remediate.py``) and the pre-submission checks (``preflight``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconciler.errors import UsageError
from reconciler.templates import STANDARD_REASONS


@dataclass(frozen=True, slots=True)
class Fix:
    """The outcome of a fix rule on one value.

    ``value`` is the corrected value when ``ok``; ``problem`` says what is wrong (also when the
    value could be fixed); ``rule`` is a stable slug naming the rule that applied.
    """

    ok: bool
    value: str
    rule: str
    problem: str = ""

    @property
    def changed(self) -> bool:
        return self.ok and bool(self.rule)


def unchanged(value: str) -> Fix:
    return Fix(True, value, "")


def refuse(value: str, problem: str, rule: str = "") -> Fix:
    return Fix(False, value, rule, problem)


# ---------------------------------------------------------------- amounts (decimal(8,2))

ISO_CURRENCIES = frozenset(
    [
        "AED",
        "ARS",
        "AUD",
        "BGN",
        "BHD",
        "BRL",
        "CAD",
        "CHF",
        "CLP",
        "CNY",
        "COP",
        "CZK",
        "DKK",
        "EGP",
        "EUR",
        "GBP",
        "HKD",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "ISK",
        "JPY",
        "KES",
        "KRW",
        "KWD",
        "MAD",
        "MXN",
        "MYR",
        "NGN",
        "NOK",
        "NZD",
        "PEN",
        "PHP",
        "PKR",
        "PLN",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "SAR",
        "SEK",
        "SGD",
        "THB",
        "TRY",
        "TWD",
        "UAH",
        "USD",
        "VND",
        "ZAR",
    ]
)
CURRENCY_SIGNS: dict[str, frozenset[str]] = {
    "$": frozenset({"USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN", "TWD", "CLP", "COP", "ARS"}),
    "€": frozenset({"EUR"}),
    "£": frozenset({"GBP"}),
    "¥": frozenset({"JPY", "CNY"}),
    "₹": frozenset({"INR"}),
}
PLAIN_AMOUNT = re.compile(r"^[0-9]+(?:\.[0-9]{1,2})?$")
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009']")
MAX_AMOUNT = Decimal("999999.99")  # decimal(8,2)


@lru_cache(maxsize=65536)
def fix_amount(raw: str, currency: str = "") -> Fix:
    """A plain decimal with at most two places, from currency signs, separators, decimal commas.

    A currency sign or ISO code around the number is dropped only when it agrees with the
    record's ``currency`` (when the record has one): ``£12.00`` in a USD row is refused."""
    value = raw.strip()
    if PLAIN_AMOUNT.match(value):
        return unchanged(raw) if value == raw else Fix(True, value, "amount-whitespace")
    if not value:
        return refuse(raw, "the amount is empty")
    body = value
    marks: list[str] = []
    prefix = re.match(r"^(?:([A-Z]{3})\s*)?([$€£¥₹])?\s*", body)
    if prefix:
        marks += [m for m in prefix.groups() if m]
        body = body[prefix.end() :]
    suffix = re.search(r"\s*([$€£¥₹])?(?:\s*([A-Z]{3}))?$", body)
    if suffix:
        marks += [m for m in suffix.groups() if m]
        body = body[: suffix.start()]
    for mark in marks:
        if len(mark) == 3 and mark not in ISO_CURRENCIES:
            return refuse(raw, f"the amount {raw!r} is not a number ({mark!r} is no currency)")
        wanted = currency.strip().upper()
        allowed = {mark} if len(mark) == 3 else CURRENCY_SIGNS[mark]
        if wanted and wanted not in allowed:
            return refuse(
                raw, f"the amount {raw!r} is in another currency than the record's {wanted}"
            )
    body = _SPACES.sub("", body)
    if re.fullmatch(r"-[0-9.,]+|\([0-9.,]+\)", body) and re.search(r"[0-9]", body):
        return refuse(raw, f"the amount {raw!r} is negative; amounts are new totals, 0 or more")
    if not re.fullmatch(r"[0-9.,]+", body) or not re.search(r"[0-9]", body):
        return refuse(raw, f"the amount {raw!r} is not a number")
    normal = _read_separators(body)
    if normal is None:
        return refuse(
            raw,
            f"the amount {raw!r} can be read two ways (thousands separator or decimal point); "
            "write it as a plain decimal such as 1234.00",
        )
    whole, _, frac = normal.partition(".")
    if len(frac) > 2:
        return refuse(raw, f"the amount {raw!r} has more than two decimals")
    number = Decimal(normal)
    if number > MAX_AMOUNT:
        return refuse(raw, f"the amount {raw!r} is too large for decimal(8,2)")
    whole = whole.lstrip("0") or "0"
    fixed = whole + ("." + frac if frac else "")
    return Fix(True, fixed, "amount-plain-decimal", f"the amount {raw!r} is not a plain decimal")


def _read_separators(body: str) -> str | None:
    """``body`` holds digits, dots and commas. Return it with ``.`` as the only decimal point,
    or None when it is ambiguous or malformed."""
    dots, commas = body.count("."), body.count(",")
    if dots and commas:
        dec = "." if body.rfind(".") > body.rfind(",") else ","
        thou = "," if dec == "." else "."
        if body.count(dec) != 1:
            return None
        whole, frac = body.split(dec)
        if not _grouped(whole, thou) or not _digits(frac):
            return None
        return whole.replace(thou, "") + "." + frac
    if not dots and not commas:
        return body
    sep = "." if dots else ","
    parts = body.split(sep)
    if len(parts) == 2:
        whole, frac = parts
        if not whole or not frac or not _digits(whole) or not _digits(frac):
            return None
        if len(frac) == 3:
            return None  # 1.234 / 1,234: thousands or decimals? Never guess.
        return whole + "." + frac
    # Several separators of one kind: thousands grouping, no decimals.
    return body.replace(sep, "") if _grouped(body, sep) else None


def _digits(text: str) -> bool:
    """ASCII digits only: ``²``, ``١٩`` and ``１９`` are digits to ``str.isdigit`` but not to
    impact.com."""
    return text.isascii() and text.isdigit()


def _grouped(whole: str, sep: str) -> bool:
    if sep not in whole:
        return _digits(whole)
    head, *groups = whole.split(sep)
    return _digits(head) and 1 <= len(head) <= 3 and all(len(g) == 3 and _digits(g) for g in groups)


# ---------------------------------------------------------------- integers and IDs

PLAIN_INTEGER = re.compile(r"^[0-9]+$")
_SCI = re.compile(r"^(?P<int>[0-9])(?:[.,](?P<frac>[0-9]+))?[eE]\+?(?P<exp>[0-9]{1,2})$")


@lru_cache(maxsize=65536)
def fix_integer(raw: str) -> Fix:
    """Restore an integer a spreadsheet spoiled: ``16027.0``, `` 16027 ``, ``1.6027E+04``."""
    value = raw.strip()
    if PLAIN_INTEGER.match(value):
        return unchanged(raw) if value == raw else Fix(True, value, "integer-whitespace")
    # A spreadsheet's ".0" or ".00" only: "16,000" and "16.000" are thousands separators.
    m = re.fullmatch(r"([0-9]+)\.0{1,2}", value)
    if m:
        return Fix(True, m.group(1), "integer-drop-decimal", f"{raw!r} has a spreadsheet's .0")
    sci = _SCI.match(value)
    if sci:
        frac = sci.group("frac") or ""
        exp = int(sci.group("exp"))
        if len(frac) <= exp:
            digits = sci.group("int") + frac + "0" * (exp - len(frac))
            # Trailing zeros in scientific notation may have been rounded away: only a mantissa
            # shorter than the exponent leaves zeros we did not see. Refuse those.
            if len(frac) == exp:
                return Fix(
                    True, digits, "integer-from-scientific", f"{raw!r} is in scientific notation"
                )
        return refuse(
            raw,
            f"{raw!r} is in scientific notation: a spreadsheet rounded the ID, its digits are lost",
            "scientific-notation",
        )
    if not value:
        return refuse(raw, "the value is empty")
    return refuse(raw, f"{raw!r} is not a whole number")


SPREADSHEET_DIGITS = 15
"""Significant digits a spreadsheet keeps of a number: the digits after them become zeros."""
_ANY_SCI = re.compile(r"^(?P<int>[0-9]+)(?:[.,](?P<frac>[0-9]+))?[eE]\+?(?P<exp>[0-9]{1,3})$")


def looks_rounded(value: str) -> bool:
    """A long run of digits whose digits past the 15th significant one are all zeros (at
    least two of them): what a spreadsheet makes of a 17-digit or longer ID stored as a number."""
    digits = value.lstrip("0")
    return (
        value.isascii()
        and _digits(value)
        and len(digits) >= SPREADSHEET_DIGITS + 2
        and digits[SPREADSHEET_DIGITS:].strip("0") == ""
    )


ROUNDED_ID = (
    " ends in zeros after its 15th digit (a spreadsheet turned the ID into a number and "
    "rounded it: the last digits are lost)"
)
"""What ``spoiled_id_problem`` says after the ID's ``repr`` when ``looks_rounded``."""


def spoiled_id_problem(raw: str) -> str:
    """What makes an identifier look spoiled by a spreadsheet, or "" when it looks intact.
    Every sign is said (stray whitespace, a .0 suffix, rounding): one must not hide another."""
    value = raw.strip()
    said: list[str] = []
    if value != raw and value:
        said.append(f"{raw!r} has stray whitespace")
    if _SCI.match(value) or re.fullmatch(r"[0-9]+(?:[.,][0-9]+)?[eE][+-]?[0-9]+", value):
        said.append(
            f"{value!r} is in scientific notation (a spreadsheet turned the ID into a number)"
        )
    whole = value
    if re.fullmatch(r"[0-9]+\.0{1,2}", value):
        said.append(f"{value!r} has a .0 suffix (a spreadsheet turned the ID into a number)")
        whole = value.split(".")[0]
    if looks_rounded(whole):
        said.append(f"{whole!r}{ROUNDED_ID}")
    return "; ".join(said)


def column_rounding_problem(raw: str, count: int) -> str:
    """What ``spoiled_id_problem`` says of a 16-digit ID ending in 0 that the column's
    evidence shows rounded (every ID of 16 digits or more in its column ends in 0)."""
    return (
        f"{raw.strip()!r} has 16 digits and ends in 0, as do all {count} IDs of 16 digits or "
        "more in its column: a spreadsheet keeps 15 significant digits, so it likely turned "
        "the IDs into numbers and rounded them (the last digit is lost)"
    )


def may_be_rounded(value: str) -> bool:
    """A 16-digit ID ending in 0 (after a .0 suffix, if any): a spreadsheet's rounding of a
    16-digit ID gives that, but so does one ID in ten, so alone it proves nothing."""
    digits = re.sub(r"\.0{1,2}$", "", value.strip()).lstrip("0")
    return (
        _digits(digits)
        and len(digits) == SPREADSHEET_DIGITS + 1
        and digits.endswith("0")
        and not looks_rounded(digits)
    )


def _round_digits(digits: str, keep: int) -> str:
    """``digits`` (no leading zeros) rounded half up to ``keep`` significant digits, the
    rest as zeros; one digit longer when the rounding carries (999 -> 1000)."""
    if len(digits) <= keep:
        return digits
    head = int(digits[:keep]) + (1 if digits[keep] >= "5" else 0)
    return str(head) + "0" * (len(digits) - keep)


def spoiled_form_of(spoiled: str, exact: str) -> str:
    """How ``spoiled`` is what a spreadsheet makes of the identifier ``exact``, or "" when it
    is not. Recognised: leading zeros lost (``12346`` for ``00012346``), a ``.0`` suffix,
    scientific notation (``4.05123E+18`` for ``4051234567890123457``) and the zeros a
    spreadsheet puts after the 15th significant digit. Exact equality is not spoiling."""
    s, e = spoiled.strip(), exact.strip()
    if not s or not e or s == e or not (e.isascii() and e.isdigit()):
        return ""
    digits = e.lstrip("0") or "0"
    if re.fullmatch(r"[0-9]+(?:\.0+)?", s) and s.isascii():
        plain = s.split(".")[0]
        lost_zeros = len(plain) < len(e)
        if (plain.lstrip("0") or "0") == digits:
            if "." not in s:
                return "lost its leading zeros"
            return "lost its leading zeros and gained a .0" if lost_zeros else "gained a .0"
        significant = plain.lstrip("0")
        # A spreadsheet keeps 15 significant digits of a longer number: the rest become zeros
        # (one zero for a 16-digit ID). Only the exact rounding of the held ID, at its length.
        if len(digits) > SPREADSHEET_DIGITS and len(significant) == len(digits):
            # Excel stores 15 significant digits of a double: the double's own rounding can
            # differ in the last kept digit, so both roundings are accepted.
            wanted = {
                _round_digits(digits, SPREADSHEET_DIGITS),
                _round_digits(_round_digits(digits, 17), SPREADSHEET_DIGITS),
            }
            if significant in wanted:
                how = "was rounded to 15 significant digits"
                return how + (" and gained a .0" if "." in s else "")
        return ""
    m = _ANY_SCI.match(s)
    if m is None or not s.isascii():
        return ""
    mantissa = m.group("int").lstrip("0") + (m.group("frac") or "")
    if not mantissa or m.group("int").lstrip("0") == "" or len(m.group("int").lstrip("0")) != 1:
        return ""
    mantissa = mantissa.rstrip("0") or "0"
    if len(digits) - 1 != int(m.group("exp")):
        return ""
    keep = len(m.group("int").lstrip("0") + (m.group("frac") or ""))
    for candidate in (digits, _round_digits(digits, 17)):
        rounded = _round_digits(candidate, keep)
        if len(rounded) == len(digits) and rounded[:keep].rstrip("0") == mantissa:
            return "is in scientific notation"
    return ""


# ---------------------------------------------------------------- dates (ISO 8601)

ISO_DATETIME = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)$"
)
_DATE_FORMATS: tuple[tuple[str, str], ...] = (
    (r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}", "%Y-%m-%d{sep}%H:%M:%S"),
    (r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}", "%Y-%m-%d{sep}%H:%M"),
    (r"[0-9]{4}-[0-9]{2}-[0-9]{2}", "%Y-%m-%d"),
    (r"[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}(?::[0-9]{2})?", "%Y/%m/%d %H:%M{sec}"),
    (r"[0-9]{4}/[0-9]{2}/[0-9]{2}", "%Y/%m/%d"),
)
_DMY = re.compile(
    r"^(?P<a>[0-9]{1,2})(?P<sep>[/.\-])(?P<b>[0-9]{1,2})(?P=sep)(?P<y>[0-9]{4})"
    r"(?:[ T](?P<H>[0-9]{1,2}):(?P<M>[0-9]{2})(?::(?P<S>[0-9]{2}))?)?$"
)


def timezone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UsageError(
            f"--timezone {name!r} is not a time zone name; use e.g. UTC, America/New_York"
        ) from exc


def fix_date(raw: str, tz: ZoneInfo | None = None) -> Fix:
    """ISO 8601 with an offset, from common spreadsheet spellings. Day/month order is read only
    when it is unambiguous (one part above 12, or dotted European ``31.01.2025``); a date without
    an offset needs ``tz``."""
    value = raw.strip()
    if ISO_DATETIME.match(value):
        return unchanged(raw) if value == raw else Fix(True, value, "date-whitespace")
    if value.upper() == "NOW":
        return refuse(raw, "EventDate 'NOW' is accepted but discouraged; give the real date")
    parsed = _parse_date(value)
    if isinstance(parsed, str):
        return refuse(raw, parsed)
    if parsed.tzinfo is None:
        if tz is None:
            return refuse(
                raw,
                f"the date {raw!r} has no time zone offset; pass --timezone to convert it to "
                "ISO 8601",
                "date-needs-timezone",
            )
        naive = parsed
        parsed = naive.replace(tzinfo=tz, fold=0)
        other = naive.replace(tzinfo=tz, fold=1)
        if parsed.utcoffset() != other.utcoffset():
            # The clocks changed then: the local time is either skipped or happens twice.
            there = parsed.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
            why = "does not exist" if there != naive else "happens twice"
            return refuse(
                raw,
                f"the date {raw!r} {why} in {tz.key} (a daylight-saving change); write it with "
                "its UTC offset",
            )
    text = parsed.isoformat()
    if text.endswith("+00:00"):
        text = text[:-6] + "Z"
    return Fix(True, text, "date-iso8601", f"the date {raw!r} is not ISO 8601")


def _parse_date(value: str) -> datetime | str:
    for pattern, fmt in _DATE_FORMATS:
        if re.fullmatch(pattern, value):
            sep = "T" if "T" in value else " "
            sec = ":%S" if value.count(":") == 2 else ""
            try:
                return datetime.strptime(value, fmt.format(sep=sep, sec=sec))
            except ValueError:
                return f"the date {value!r} does not exist"
    m = _DMY.match(value)
    if m:
        a, b, year = int(m.group("a")), int(m.group("b")), int(m.group("y"))
        if m.group("sep") == "." or a > 12 >= b:
            day, month = a, b
        elif b > 12 >= a:
            month, day = a, b
        elif a == b:
            day = month = a
        else:
            return (
                f"the date {value!r} can be read as day/month or month/day; write it in "
                "ISO 8601 (YYYY-MM-DDThh:mm:ss±hh:mm)"
            )
        try:
            return datetime(
                year,
                month,
                day,
                int(m.group("H") or 0),
                int(m.group("M") or 0),
                int(m.group("S") or 0),
            )
        except ValueError:
            return f"the date {value!r} does not exist"
    if re.fullmatch(r"[0-9]{5}(?:\.[0-9]+)?", value):
        serial = float(value)
        if 20000 <= serial <= 80000:  # 1954..2119: a spreadsheet's date serial
            return datetime(1899, 12, 30) + timedelta(days=serial)
    return f"the date {value!r} is not in a form reconciler can read; write it in ISO 8601"


# ---------------------------------------------------------------- reason codes

_REASON_KEY = re.compile(r"[\s\-_.]+")


def reason_key(raw: str) -> str:
    return _REASON_KEY.sub("_", raw.strip().upper()).strip("_")


@lru_cache(maxsize=4096)
def fix_reason(raw: str) -> Fix:
    """A standard reason code from a near spelling: case, spaces, hyphens, stray whitespace."""
    if not raw.strip():
        return refuse(raw, "the reason is empty", "reason-empty")
    if raw in STANDARD_REASONS:
        return refuse(
            raw,
            f"{raw!r} is a standard code but was refused: it may not be allowed for this event "
            "type or this kind of change",
        )
    key = reason_key(raw)
    if key in STANDARD_REASONS:
        return Fix(
            True, key, "reason-standard-spelling", f"{raw!r} is not spelled as the standard code"
        )
    return refuse(
        raw,
        f"{raw!r} is not a standard reason code; map it with --reason-map (custom codes are "
        "case-sensitive and set per event type) or set one with --reason",
    )
