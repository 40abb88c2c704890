"""Decoding text from evidence: BOMs, UTF-16 by its NUL pattern, UTF-8 kept as UTF-8, a UTF-8
file with stray invalid bytes refused naming their lines, and a legacy encoding used only when
the file's words read as words in it clearly better than in any other (``--encoding``
overrides; a close call is refused naming the candidates).

Owns the choice of an encoding and the decoding; not the parsing of the decoded text."""

from __future__ import annotations

import codecs
import functools
import re
import unicodedata
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Final

from reconciler.errors import InputError

_SNIFF_BYTES: Final = 8192

_SURROGATES: Final = re.compile(r"[\ud800-\udfff]")


def _utf16_encoding(raw: bytes) -> tuple[str, int] | None:
    """(codec, BOM length) when ``raw`` is UTF-16: by BOM, or by the NUL pattern of ASCII."""
    if raw.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", 2
    if raw.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", 2
    head = raw[: min(len(raw), _SNIFF_BYTES) & ~1]
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) == len(odd) and 0 not in even:
        return "utf-16-le", 0
    if even.count(0) == len(even) and 0 not in odd:
        return "utf-16-be", 0
    return None


# Encodings a file that is not UTF-8 is tried in, most common first (Excel's "CSV" on Windows
# in the Americas and Western Europe, then Central Europe, Cyrillic, Greek, Turkish, Baltic,
# Japanese, Korean, Simplified and Traditional Chinese; then ISO-8859-15, Latin-9 with €, and
# Mac Roman, the plain "CSV" of Excel for Mac). The order only names, among encodings that
# read the bytes alike, the one the summary shows.
LEGACY_ENCODINGS: Final = (
    "cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1257",
    "cp932", "cp949", "gb18030", "big5", "iso-8859-15", "mac_roman",
)  # fmt: skip

# Encodings far rarer than the code pages of Windows, whose bytes read as plausible words in
# them as often as not (cp1252 ``don’t`` is Mac Roman ``donít``): a reading only they give
# costs RARE_COST more, so it is used only on clear evidence against every common reading,
# and a tie goes to the common one.
_RARE: Final = frozenset({"iso-8859-15", "mac_roman"})

_SAMPLE_BYTES: Final = 1 << 20
_MAX_WORDS: Final = 5000  # words enough to judge an encoding by

# --------------------------------------------------------------------------- the evidence
#
# Each encoding that decodes the bytes gives a reading; readings that are the same text are
# one. A reading is judged word by word (a word: a run of text between separators holding a
# character beyond ASCII). A word is *odd* when it could not be written in the languages the
# encoding serves: letters of two scripts, a sign glued to an accented letter (Polish
# ``Łódź`` read as cp1252 is ``£ódŸ``), a control or unassigned character, accented letters
# that no one language has together (Czech ``Dvořák`` read as cp1252 is ``Dvoøák``: ø and á),
# two or more accented letters with no plain one (``Ãœ``, ``Íõ``), Cyrillic or Greek in
# random case or without a vowel (Chinese ``上海市`` read as cp1251 is ``ЙПєЈКР``), Chinese,
# Japanese or Korean characters mostly outside the common set of their encoding.
#
# A reading's cost is ODD_COST per odd word, plus one per language beyond the first needed
# for the accented letters of its other words (French read as cp1250 needs Czech for č and
# Hungarian for ű), plus ODD_COST when it holds MIN_CJK_CHARS or more Chinese, Japanese or
# Korean characters of which under CJK_FREQUENT_SHARE are among the most frequent of the
# language (Korean read as GB18030 is common characters in a random order), plus RARE_COST
# for a reading only a rare encoding gives (``_RARE``). The cheapest
# reading is used only if its odd words are at most ODD_SHARE of its words and every other
# reading costs at least MARGIN more; else the file is refused, naming the candidates.

ODD_COST: Final = 2
MARGIN: Final = 2
RARE_COST: Final = MARGIN
ODD_SHARE: Final = 1 / 3
MIN_CJK_CHARS: Final = 20
CJK_FREQUENT_SHARE: Final = 0.15

# Letters beyond ASCII (lower case) of the languages written in these code pages. A language
# serves an encoding when all its letters exist in it (``_languages``).
_ALPHABETS: Final = {
    "French": "àâæçéèêëîïôœùûüÿ",
    "German": "äöüß",
    "Spanish": "áéíñóúü",
    "Portuguese": "àáâãçéêíóôõú",
    "Italian": "àèéìíîòóùú",
    "Catalan": "àçèéíïòóúü",
    "Dutch": "áäéëèíïóöúü",
    "Danish": "æøåé",
    "Norwegian": "æøåéèêóòô",
    "Swedish": "åäöé",
    "Finnish": "åäöšž",
    "Icelandic": "áðéíóúýþæö",
    "Estonian": "äõöüšž",
    "Czech": "áčďéěíňóřšťúůýž",
    "Slovak": "áäčďéíĺľňóôŕšťúýž",
    "Polish": "ąćęłńóśźż",
    "Hungarian": "áéíóöőúüű",
    "Romanian": "ăâîşţ",
    "Croatian": "čćđšž",
    "Slovenian": "čšž",
    "Albanian": "çë",
    "Turkish": "çğıöşüâîû",
    "Lithuanian": "ąčęėįšųūž",
    "Latvian": "āčēģīķļņšūž",
    "Russian": "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
    "Ukrainian": "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя",
    "Belarusian": "абвгдеёжзійклмнопрстуўфхцчшыьэюя",
    "Bulgarian": "абвгдежзийклмнопрстуфхцчшщъьюя",
    "Serbian": "абвгдђежзијклљмнњопрстћуфхцчџш",
    "Macedonian": "абвгдѓежзѕијклљмнњопрстќуфхцчџш",
    "Greek": "αβγδεζηθικλμνξοπρστυφχψωςάέήίόύώϊϋΐΰ",
}
_VOWELS: Final = frozenset("аеёиоуыэюяєіїαεηιουωάέήίόύώϊϋΐΰ")

# Scripts each multi-byte encoding is used for, and its most frequent characters (common
# words, surnames, given names, places). The share of these tells a language from the same
# bytes read in another language's encoding.
_CJK_SCRIPTS: Final = {
    "gb18030": frozenset({"HAN"}),
    "big5": frozenset({"HAN"}),
    "cp932": frozenset({"HAN", "KANA"}),
    "cp949": frozenset({"HANGUL", "HAN"}),
}
_FREQUENT: Final = {
    "gb18030": frozenset(
        "的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着下自"
        "之年过发后作里用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进好小部其些"
        "主样理心她本前开但因只从想实王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓"
        "曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦"
        "邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴莫孔汤伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀"
        "霞平刚桂英华玉兰萍红建文辉力斌宇浩凯晨欣怡雪梅琳颖佳北京海市省区县路号店订单公司限东南"
        "西新广州深圳天津重庆成都武汉杭苏宁"
    ),
    "big5": frozenset(
        "的一是不了在人有我他這個們中來上大為和國地到以說時要就出會可也你對生能而子那得於著下自"
        "之年過發後作裡用道行所然家種事成方多經麼去法學如都同現當沒動面起看定天分還進好小部其些"
        "主樣理心她本前開但因只從想實王李張劉陳楊黃趙吳周徐孫馬朱胡郭何高林羅鄭梁謝宋唐許韓馮鄧"
        "曹彭曾蕭田董袁潘于蔣蔡余杜葉程蘇魏呂丁任沈姚盧姜崔鍾譚陸汪范金石廖賈夏韋方白鄒孟熊秦邱"
        "江尹薛段雷侯龍史陶黎賀顧毛郝龔邵萬錢嚴武戴莫孔湯偉芳娜敏靜麗強磊軍洋勇豔傑娟濤明超秀霞"
        "平剛桂英華玉蘭萍紅建文輝力斌宇浩凱晨欣怡雪梅琳穎佳台臺北市區路號店訂單公司限東南西新竹"
        "雄中縣"
    ),
    "cp932": frozenset(
        "日一人年大十二本中長出三時行見月分後前生五間上東四今金九入学高円子外八六下来気小七山話"
        "女北午百書先名川千水半男西電校語土木聞食車何南万毎白天母火右読友左休父雨田佐藤鈴伊渡辺"
        "村井林加吉松野清森池阿部石斎橋郎太子美代市区町県都府東京大阪注文会社店"
        "のにるたとはしいをでてがなれからさっりすあもこまうくよきんめおけそつだやえどわちみせじば"
        "ーンス・ルトリイアラックドシレジタフロカテマィグバムプオコデニウメサビナブャエュチキズダパ"
    ),
    "cp949": frozenset(
        "이다에의는로하을가고지서한은기으년대사시를리도인스일김박최정강조윤장임오신권황안송류전홍"
        "문양손배백허유남심노곽성차주우구민진나엄채원천방공현함변염여추소석선설마길연위표명반라왕"
        "금옥육맹제모탁국어편용수영경숙자미혜훈호철상동재태준희아해보부세무들것있없적합습니서울"
        "구동길파트점"
    ),
}


@functools.cache
def _languages(encoding: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """The languages whose letters all exist in ``encoding``, with their letters."""
    found = []
    for language, letters in _ALPHABETS.items():
        try:
            letters.encode(encoding)
        except UnicodeEncodeError:
            continue
        # Turkish İ lower-cases to i and a combining dot
        extra = {"i\u0307"} if "ı" in letters else set()
        found.append((language, frozenset(letters) | extra))
    return tuple(found)


@functools.cache
def _script(char: str) -> str:
    """The script of a letter beyond ASCII ("" for one no language here writes words with:
    halfwidth katakana, modifier letters, ordinal signs; a Chinese or Korean file read as
    Shift-JIS or cp1252 turns into those)."""
    if char in "ªºµ":
        return ""
    name = unicodedata.name(char, "")
    for prefix, script in (
        ("LATIN", "LATIN"), ("CYRILLIC", "CYRILLIC"), ("GREEK", "GREEK"),
        ("HANGUL", "HANGUL"), ("CJK", "HAN"), ("IDEOGRAPHIC", "HAN"),
        ("HIRAGANA", "KANA"), ("KATAKANA", "KANA"),
    ):  # fmt: skip
        if name.startswith(prefix):
            return script
    return ""


@functools.cache
def _common(char: str, encoding: str) -> bool:
    """Whether a Chinese, Japanese or Korean character is in its encoding's common set (the
    first level of GB2312, Big5 and JIS X 0208, kana, the Hangul of KS X 1001); a wrong
    encoding mostly gives rare ones."""
    if _script(char) == "KANA":
        return encoding == "cp932"
    try:
        code = char.encode(encoding)
    except UnicodeEncodeError:
        return False
    if len(code) != 2:
        return False
    pair = code[0] << 8 | code[1]
    if encoding == "gb18030":
        return 0xB0 <= code[0] <= 0xD7 and code[1] >= 0xA1
    if encoding == "big5":
        return 0xA440 <= pair <= 0xC67E
    if encoding == "cp932":
        return 0x889F <= pair <= 0x9872
    return _script(char) == "HANGUL" and 0xB0 <= code[0] <= 0xC8 and code[1] >= 0xA1


# Signs allowed anywhere in a word (quotes, dashes, a middle dot, spaces), and signs that may
# touch a plain letter (``n°``, ``m²``, ``Brand™``, ``¿Qué``). Any other sign beyond ASCII is
# odd when it touches a letter (``£ódŸ``, ``¥x``) or sits between letters, and so are signs in
# a row (``±±¾©``, ``‚·‚¸``: Chinese and Japanese read as cp1252).
_GLUE: Final = frozenset("’‘‚‛´`·–—‐‑„“”«»‹›\u00a0\u2009\u202f\u3000、。・「」『』【】（）〜")
_BY_LETTERS: Final = frozenset("°²³¹™®©ªºµ‰¿¡")
# Signs no one types inside a word or an ID, so odd glued to a digit too (to a letter, any
# sign outside the two sets above is odd): accents standing alone (cp1250 ``1˝`` is cp1252
# ``1½``), what Mac Roman and ISO-8859-15 text shows read as cp1252 (``ORD-Ü1`` is
# ``ORD-†1``, ``Réf-€1`` is ``Réf-¤1``), halfwidth Japanese punctuation (Western text read as
# cp932). An acute accent ``´`` stands for an apostrophe (``don´t``) but never starts a word
# or touches a digit (``´iga`` is ISO-8859-15 ``Žiga``). Some are odd even alone: the generic
# currency sign ``¤``, which no one types (ISO-8859-15 has ``€`` where cp1252 has it), and the
# halfwidth comma and stops (``10 €`` in ISO-8859-15 is cp932 ``10 ､``), which only halfwidth
# katakana text uses, itself odd.
_RARE_SIGNS: Final = frozenset("¤†‡¦¨¯¸¬˜˘˙˚˛˝ˇ◊｡｢｣､･")
_ODD_ALONE: Final = frozenset("¤｡｢｣､･")

# A word: what lies between separators, holding a character beyond ASCII.
_WORD: Final = re.compile(r"[^\s,;|\"'(){}\[\]<>=/\\:]*[^\x00-\x7f][^\s,;|\"'(){}\[\]<>=/\\:]*")
_LETTER_RUN: Final = re.compile(r"[^\W\d_]+")
_NOT_VOWELS5: Final = re.compile(r"[^аеёиоуыэюяєіїαεηιουωάέήίόύώϊϋΐΰ]{5}")
# Lithuanian and Latvian put ė, ē, ā, ī, į, ų, ū after consonants (and ą, ų, ū after i);
# after a vowel they are the ë, ç, â, î, á, ø, û of Western text read as cp1257 (``Zoë`` is
# ``Zoė``, ``Novák`` is ``Novįk``).
_BALTIC_AFTER_VOWEL: Final = re.compile(r"[aeouy][ėēāīįųū]|i[ėēāīį]")
_BALTIC: Final = frozenset({"Lithuanian", "Latvian"})


@dataclass(slots=True)
class _Reading:
    """One way of reading the sample (``encodings`` read it alike; the first names it) and
    what its words say about it."""

    encodings: list[str]
    text: str
    words: int = 0
    odd: int = 0
    cjk: int = 0
    frequent: int = 0
    cost: int = 0
    rare: bool = False  # read so only by rarer encodings (ISO-8859-15, Mac Roman)

    @property
    def encoding(self) -> str:
        return self.encodings[0]


# Quotes that open or close a word and never sit inside one (an apostrophe is ``’``, ``´`` or
# ``'``), and an en dash between two small letters (a range or a pair of names takes digits or
# capitals): Mac Roman ``Noël``, ``niño`` read as cp1252 are ``No‘l``, ``ni–o``.
_NOT_INSIDE: Final = frozenset("‘“”„‚«»‹›")


def _between_letters(char: str, left: str, right: str) -> bool:
    if not (left.isalpha() and right.isalpha()):
        return False
    return char in _NOT_INSIDE or (char == "–" and left.islower() and right.islower())


def _odd_signs(word: str) -> bool:
    """Whether ``word`` holds a sign beyond ASCII where words have none."""
    run = 0
    for at, char in enumerate(word):
        if char.isascii() or (char.isalpha() and char not in "ªºµ"):
            run = 0
            continue
        if unicodedata.category(char) in ("Cc", "Co", "Cn", "Cs"):
            return True  # a control, private or unassigned character
        if unicodedata.category(char) == "Mn":
            continue
        run += 1
        if run >= 3 or (run == 2 and not {char, word[at - 1]} <= _GLUE):
            return True
        if char in _ODD_ALONE:
            return True
        before, after = word[:at], word[at + 1 :]
        near = before[-1:] + after[:1]
        if char in _RARE_SIGNS and any(c.isalnum() for c in near):
            return True  # glued to a letter or a digit
        if char == "\u2018" and before[-1:].isalpha() and not after[:1].isalpha():
            return True  # an opening quote never closes a word (Mac Roman ``ë`` read as cp1252)
        if char == "´" and (
            any(c.isdigit() for c in near) or (after[:1].isalpha() and not before[-1:].isalpha())
        ):
            return True  # an apostrophe never starts a word
        if _between_letters(char, before[-1:], after[:1]):
            return True
        if char in _GLUE:
            continue
        glued = any(c.isalpha() and (not c.isascii() or char not in _BY_LETTERS) for c in near)
        if glued and not (char in "¿¡" and not before):
            return True  # glued to a letter
        if any(c.isalpha() for c in before) and any(c.isalpha() for c in after):
            return True  # between letters
    return False


def _fits(low: str, accented: set[str], encodings: list[str]) -> bool:
    """Whether one language of ``encodings`` has all of ``accented`` (``low``: the word)."""
    for name in encodings:
        for language, letters in _languages(name):
            if not accented <= letters:
                continue
            if language in _BALTIC and _BALTIC_AFTER_VOWEL.search(low):
                continue
            return True
    return False


def _odd_word(word: str, reading: _Reading) -> tuple[bool, set[str]]:
    """(whether ``word`` could not be written in the languages of ``reading``'s encodings,
    the letters beyond ASCII it holds). Counts its Chinese/Japanese/Korean characters on
    ``reading``."""
    accented = {c.lower() for c in word if not c.isascii() and c.isalpha() and c not in "ªºµ"}
    scripts = {_script(c) for c in word if not c.isascii() and c.isalpha() and c not in "ªºµ"}
    if _odd_signs(word) or "" in scripts:
        return True, accented
    if not scripts:
        return False, accented  # signs only: no evidence either way
    cjk_scripts = _CJK_SCRIPTS.get(reading.encoding)
    if cjk_scripts is not None:
        if not scripts <= cjk_scripts:
            return True, accented
        for run in _LETTER_RUN.findall(word):
            if re.search(r"[A-Za-z][^\x00-\x7f]+[A-Za-z]", run):
                return True, accented  # ``Wa鲁sa``: a character inside a Latin word
            if re.search(r"[a-z][^\x00-\x7f]|[^\x00-\x7f][a-z]", run):
                return True, accented  # ``Stra呈``, ``夷mon``: glued to a small Latin letter
        chars = [c for c in word if not c.isascii() and c.isalpha()]
        rare = sum(1 for c in chars if not _common(c, reading.encoding))
        reading.cjk += len(chars)
        reading.frequent += sum(1 for c in chars if c in _FREQUENT[reading.encoding])
        return 2 * rare > len(chars), accented
    if len(scripts) > 1 or scripts & {"HAN", "KANA", "HANGUL"}:
        return True, accented
    if re.search(r"[A-Za-z][^\x00-\x7f](?=[a-z])", word) and any(
        c.isupper() and not c.isascii() for c in word[1:-1]
    ):
        return True, accented  # an accented capital inside a word (``PŽrez``: Mac Roman é)
    latin = scripts == {"LATIN"}
    if not latin and any(c.isascii() and c.isalpha() for c in word):
        return True, accented  # Cyrillic or Greek glued to Latin letters
    for run in _LETTER_RUN.findall(word):
        if latin:
            if len(run) >= 2 and not any(c.isascii() for c in run):
                return True, accented  # ``Ãœ``, ``Íõ``: no Latin word is all accents
            if any(a.islower() and b.isupper() and not b.isascii() for a, b in pairwise(run)):
                return True, accented  # ``ĄxĄ``: a capital accent after a small letter
            continue
        if not (run.islower() or run.isupper() or (run[0].isupper() and run[1:].islower())):
            return True, accented  # ``ЙПєЈКР``: random case
        low = run.lower()
        if len(low) >= 2 and not any(c in _VOWELS for c in low):
            return True, accented
        if low[0] in "ьъы" or _NOT_VOWELS5.search(low):
            return True, accented
    if not _fits(word.lower(), accented, reading.encodings):
        return True, accented  # no one language has these letters together
    return False, accented


def _judge(reading: _Reading) -> None:
    """Fill in ``reading``'s words, odd words, letters and cost."""
    letters: set[str] = set()
    for number, match in enumerate(_WORD.finditer(reading.text)):
        if number == _MAX_WORDS:
            break
        odd, accented = _odd_word(match.group(), reading)
        if not odd and not accented:
            continue  # signs only
        reading.words += 1
        if odd:
            reading.odd += 1
        else:
            letters |= accented
    cost = ODD_COST * reading.odd + max(_cover(letters, reading.encodings) - 1, 0)
    if reading.cjk >= MIN_CJK_CHARS and reading.frequent < CJK_FREQUENT_SHARE * reading.cjk:
        cost += ODD_COST
    if _RARE.issuperset(reading.encodings):
        cost += RARE_COST
        reading.rare = True
    reading.cost = cost


def _cover(letters: set[str], encodings: list[str]) -> int:
    """How many languages of ``encodings`` it takes to have all of ``letters`` (greedy)."""
    if encodings[0] in _CJK_SCRIPTS:
        return 1
    left = set(letters)
    count = 0
    languages = [item for name in encodings for item in _languages(name)]
    while left:
        best = max(languages, key=lambda item: len(left & item[1]), default=None)
        if best is None or not left & best[1]:
            return count + len(left)  # letters of no language (odd words hold them)
        left -= best[1]
        count += 1
    return count


@dataclass(frozen=True, slots=True)
class _Verdict:
    """The encoding to read a file in, or why none can be chosen."""

    encoding: str = ""
    candidates: tuple[_Reading, ...] = ()  # close readings, when no encoding is chosen


def _readings(raw: bytes) -> list[_Reading]:
    """The distinct readings of ``raw``'s sample, judged, most common encoding first."""
    sample = raw if len(raw) <= _SAMPLE_BYTES else raw[: raw.rfind(b"\n", 0, _SAMPLE_BYTES) + 1]
    sample = sample or raw[:_SAMPLE_BYTES]
    readings: dict[str, _Reading] = {}
    for name in LEGACY_ENCODINGS:
        try:
            text = sample.decode(name)
        except UnicodeDecodeError:
            continue
        if text in readings:  # encodings that read the bytes alike: judged as one
            readings[text].encodings.append(name)
        else:
            readings[text] = _Reading([name], text)
    for reading in readings.values():
        _judge(reading)
    return list(readings.values())


def _choose_legacy(raw: bytes) -> _Verdict:
    """The legacy encoding of bytes that are not UTF-8, when the evidence tells it apart
    (see the comment above ``ODD_COST``); else the close candidates (none: the bytes read as
    words in no encoding)."""
    readings = _readings(raw)
    if not readings:
        return _Verdict()
    best = min(readings, key=lambda r: (r.cost, r.odd, -r.words))
    if best.odd > ODD_SHARE * best.words:
        return _Verdict()  # odd in every encoding
    if len(readings) > 1 and not any(r.words for r in readings):
        return _Verdict(candidates=tuple(readings))  # signs only: nothing tells them apart
    close = tuple(
        r
        for r in readings
        if r is best
        or r.cost < best.cost + MARGIN
        # A rarer encoding's reading as good as the best on its words: only cp1252, by far the
        # commonest, is preferred to it; any other is a close call.
        or (r.rare and best.encoding != "cp1252" and r.cost - RARE_COST < best.cost + MARGIN)
    )
    if len(close) == 1:
        return _Verdict(best.encoding)
    return _Verdict(candidates=tuple(sorted(close, key=lambda r: (r.cost, r.odd))))


# --------------------------------------------------------------------------- refusals


def _line_numbers(text: str, positions: list[int]) -> list[int]:
    """The 1-based line of each of the sorted ``positions`` in ``text``, counted once."""
    lines: list[int] = []
    line, last = 1, 0
    for at in positions:
        line += text.count("\n", last, at)
        last = at
        if not lines or lines[-1] != line:
            lines.append(line)
    return lines


def _shown(lines: list[int]) -> str:
    return ", ".join(str(n) for n in lines[:5]) + (" ..." if len(lines) > 5 else "")


# A run of valid characters beyond ASCII (a UTF-8 sequence of 2 to 4 bytes) that stands apart
# from invalid bytes: ASCII or the edge of the file on both sides. Bytes of a legacy
# multi-byte encoding can form such a sequence by chance, but then touch the invalid bytes
# of the characters around them (GB18030 ``张伟`` holds the UTF-8 of ``ΰ`` after an invalid
# byte).
_VALID_UTF8_APART: Final = re.compile(
    r"(?<![^\x00-\x7f])[^\x00-\x7f\udc80-\udcff]++(?![\udc80-\udcff])"
)


def _stray_bytes(path: Path, raw: bytes) -> None:
    """A file that holds valid UTF-8 beyond ASCII and some invalid bytes (one bad byte in an
    export, a field pasted from elsewhere, a character cut at the end) is UTF-8 with stray
    bytes, however few its valid characters: re-reading it in another encoding would change
    them. Refused, naming the lines of the invalid bytes, unless ``--encoding`` says how.
    When a legacy encoding also reads it clearly (a character of a GB18030 or cp1251 file
    can be valid UTF-8 on its own: ``女``, ``Ні``), the refusal names that encoding too."""
    text = raw.decode("utf-8", errors="surrogateescape")
    valid = _VALID_UTF8_APART.search(text)
    if valid is None:
        return  # no UTF-8 beyond ASCII standing on its own: a legacy encoding
    bad = [m.start() for m in _SURROGATES.finditer(text)]
    if not bad:
        return
    lines = _line_numbers(text, bad[:100_000])
    where = (
        f"{len(bad)} invalid byte{'s' if len(bad) > 1 else ''} on "
        f"line{'s' if len(lines) > 1 else ''} {_shown(lines)}"
    )
    legacy = _choose_legacy(raw).encoding
    if legacy:
        (line,) = _line_numbers(text, [valid.start()])
        reading = raw.splitlines()[line - 1].decode(legacy, errors="replace")
        word = next((m.group() for m in _WORD.finditer(reading)), "")[:40]
        raise InputError(
            f"holds valid UTF-8 ({valid.group()[:10]!r} on line {line}) and {where}: it is "
            f"either UTF-8 with stray bytes or {legacy} text (line {line} reads {word!r} in "
            f"{legacy}); say which with --encoding NAME (e.g. --encoding {legacy}), or fix "
            "those bytes (save it again as CSV UTF-8)",
            path=path,
            line=lines[0],
        )
    raise InputError(
        f"is UTF-8 except for {where}; re-reading the whole file in another encoding would "
        "change its other values: fix those bytes (save it again as CSV UTF-8), or say how it "
        "is encoded with --encoding (e.g. --encoding cp1252)",
        path=path,
        line=lines[0],
    )


def _first_line(raw: bytes, readings: tuple[_Reading, ...]) -> tuple[int, list[str]]:
    """The first line of ``raw`` with bytes beyond ASCII that ``readings`` read differently
    (else the first with any), and the first word of it each reading gives."""
    first = None
    for number, line in enumerate(raw[:_SAMPLE_BYTES].split(b"\n"), start=1):
        if line.isascii():
            continue
        first = first or (number, line)
        texts = [line.decode(r.encoding, errors="replace") for r in readings]
        if len(set(texts)) > 1:
            first = (number, line)
            break
    if first is None:
        return 1, ["" for _ in readings]
    number, line = first
    # The first word the readings give differently (else the first word).
    per_reading = [
        [m.group()[:40] for m in _WORD.finditer(line.decode(r.encoding, errors="replace"))]
        for r in readings
    ]
    longest = max((len(w) for w in per_reading), default=0)
    at = next(
        (i for i in range(longest) if len({w[i] if i < len(w) else "" for w in per_reading}) > 1),
        0,
    )
    return number, [w[at] if at < len(w) else "" for w in per_reading]


def _stray_after_bom(path: Path, raw: bytes) -> None:
    """A file that starts with a UTF-8 BOM says it is UTF-8: any invalid byte in it is a stray
    byte, never a sign of another encoding (re-reading it whole in one would change its other
    values). Refused naming their lines, unless ``--encoding`` says how to read it."""
    text = raw.decode("utf-8", errors="surrogateescape")
    bad = [m.start() for m in _SURROGATES.finditer(text)]
    if not bad:
        return
    lines = _line_numbers(text, bad[:100_000])
    raise InputError(
        f"starts with a UTF-8 byte order mark, so it is UTF-8, but holds {len(bad)} invalid "
        f"byte{'s' if len(bad) > 1 else ''} on line{'s' if len(lines) > 1 else ''} "
        f"{_shown(lines)}; re-reading the whole file in another encoding would change its "
        "other values: fix those bytes (save it again as CSV UTF-8), or say how it is encoded "
        "with --encoding (e.g. --encoding cp1252)",
        path=path,
        line=lines[0],
    )


def _decode_legacy(path: Path, raw: bytes, forced: str | None, *, bom: bool) -> tuple[str, str]:
    """(encoding, text) of bytes that are not valid UTF-8 (``bom``: they followed a UTF-8
    BOM, taken off): ``forced`` (``--encoding``) when given, else the
    evidence (``_stray_after_bom`` and ``_stray_bytes`` refuse a UTF-8 file with stray bytes,
    ``_choose_legacy`` a legacy file whose encoding it cannot tell apart)."""
    if forced:
        try:
            return forced, raw.decode(forced)
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise InputError(
                f"is not {forced} either ({exc.reason} at byte {exc.start}); name its real "
                "encoding with --encoding, or save it again as CSV UTF-8",
                path=path,
                line=line,
            ) from None
    if bom:
        _stray_after_bom(path, raw)
    _stray_bytes(path, raw)
    verdict = _choose_legacy(raw)
    if verdict.encoding:
        return verdict.encoding, raw.decode(verdict.encoding)
    line, words = _first_line(raw, verdict.candidates)
    if not verdict.candidates:
        raise InputError(
            "is not UTF-8, and its text reads as words in none of the encodings tried ("
            + ", ".join(LEGACY_ENCODINGS)
            + "); name its encoding with --encoding, or save it again as CSV UTF-8",
            path=path,
            line=line,
        )
    shown = ", ".join(
        f"{r.encoding} {word!r}" if word else r.encoding
        for r, word in zip(verdict.candidates[:4], words, strict=False)
    ) + (" ..." if len(verdict.candidates) > 4 else "")
    raise InputError(
        f"is not UTF-8, and too little of its text tells its encoding apart: it reads as "
        f"{shown}; name the right one with --encoding NAME (e.g. --encoding "
        f"{verdict.candidates[0].encoding}), or save it again as CSV UTF-8",
        path=path,
        line=line,
    )


def _decode_text(path: Path, raw: bytes, forced: str | None = None) -> tuple[str, str]:
    """(encoding, text) for JSON: BOM first, then UTF-8, then ``_decode_legacy``."""
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return "utf-8-sig", raw[3:].decode("utf-8")
        except UnicodeDecodeError:
            return _decode_legacy(path, raw[3:], forced, bom=True)
    utf16 = _utf16_encoding(raw)
    if utf16 is not None:
        return utf16[0], _decode_utf16(path, raw, *utf16)
    try:
        return "utf-8", raw.decode("utf-8")
    except UnicodeDecodeError:
        return _decode_legacy(path, raw, forced, bom=False)


# Text of UTF-16 read one byte off: each ASCII character becomes U+xx00 (its byte, then NUL).
# Four in a row is no text (a Chinese 一, U+4E00, alone is).
_SHIFTED: Final = re.compile("[" + "".join(chr(b << 8) for b in range(0x09, 0x7F)) + "]{4}")


def _decode_utf16(path: Path, raw: bytes, encoding: str, bom: int) -> str:
    """The text of UTF-16 bytes; else refused naming the line where they go wrong: where a
    byte went missing or was added (every pair after it is shifted), the last byte left over,
    or the invalid unit."""
    try:
        return raw[bom:].decode(encoding)
    except UnicodeDecodeError as exc:
        data = raw[bom:]
        text = data[: len(data) & ~1].decode(encoding, errors="replace")
        shifted = _SHIFTED.search(text, 0, exc.start // 2 + 4)
        if shifted is not None:
            line = text.count("\n", 0, shifted.start()) + 1
            raise InputError(
                f"looks like UTF-16 text but is not valid UTF-16: a byte is missing or extra "
                f"on line {line} (the text after it is shifted by one byte); save it again as "
                "CSV UTF-8",
                path=path,
                line=line,
            ) from None
        if len(data) % 2 and exc.end >= len(data):
            line = text.count("\n") + 1
            raise InputError(
                f"looks like UTF-16 text but is not valid UTF-16: its last byte (on line "
                f"{line}) is left over, an odd number of bytes (cut short, or a byte added); "
                "save it again as CSV UTF-8",
                path=path,
                line=line,
            ) from None
        line = text.count("\n", 0, exc.start // 2) + 1
        raise InputError(
            f"looks like UTF-16 text but is not valid UTF-16 ({exc.reason} at byte "
            f"{exc.start + bom}, on line {line}); save it again as CSV UTF-8",
            path=path,
            line=line,
        ) from None
