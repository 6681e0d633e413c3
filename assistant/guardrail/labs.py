"""Lab values as clinicians type them: "AST 212 U/L", "plts 14k", "bili 3,2 mg/dl", "ALT twice normal",
"ALT 6x ULN", "plts grade 3".

Why separate: reading a number needs units, reference limits and grade cut-offs, which are reviewed data
(``corpus/lab_limits.yaml``, with their sources), not clinical vocabulary. A value is judged only against a
limit recorded there; a value the file cannot judge says nothing, and only words ("high", "low") can then
make it abnormal. Each reading carries the sentence a pharmacist needs to check it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..text import normalise, quantities, spoken_number
from .matching import Doc, Span, Terms

Direction = Literal["high", "low"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limit(_Strict):
    value: float = Field(gt=0)
    unit: str


class UnitRange(_Strict):
    """How a bare number is read: in ``unit`` when it lies in [min, max] (``factor`` converts it)."""

    unit: str
    min: float
    max: float
    factor: float = 1.0
    whole: bool = False  # reported in whole numbers in this unit: a value with decimals is not in it


class Analyte(_Strict):
    label: str
    condition: str
    direction: Direction
    names: list[str] = Field(min_length=1)
    # Names of the abnormal finding (CTCAE terms: "neutropenia"): a grade is read next to them, not a number.
    findings: list[str] = Field(default_factory=list)
    limit: Limit
    judges_normal: bool = True
    units: dict[str, float] = Field(default_factory=dict)  # normalised unit -> factor to the limit's unit
    # Counts written as a power of ten per volume ("1.7 x 10^5/uL", "1.6 x10^11/L"): normalised volume ->
    # the exponent that volume's "x 10^N" is offset by to reach the limit's unit (x10^9/L: "l" -9, "ul" -3).
    powers_of_ten: dict[str, int] = Field(default_factory=dict)
    unitless_ranges: list[UnitRange] = Field(default_factory=list)
    grades: list[float] = Field(default_factory=list)  # high: upper bounds of grades 1-3 as x limit
    grade_cutoffs: list[float] = Field(default_factory=list)  # low: lower bounds of grades 1-3


class ValueWords(_Strict):
    """Words that make a number near a test's name something other than today's value."""

    earlier: frozenset[str] = frozenset()  # "nadir 30": a value at another time
    not_before: frozenset[str] = frozenset()  # "day 8": the number is a day, cycle, grade or count
    not_after: frozenset[str] = frozenset()  # "3 days": a duration, count or unit
    other_tests: frozenset[str] = frozenset()  # tests with no limit here: "INR 1.8" is the INR's
    recovered: frozenset[str] = frozenset()  # "ANC back up to 4.0": a normal value after a low one


class LabLimits(_Strict):
    """The schema of ``corpus/lab_limits.yaml``."""

    analytes: dict[str, Analyte] = Field(min_length=1)
    number_words: dict[str, float] = Field(default_factory=dict)
    value_words: ValueWords = ValueWords()


@dataclass(frozen=True)
class _Spoken:
    """A value read from words, shaped like the match of a value written in digits."""

    number: str
    stop: int

    def group(self, index: int = 0) -> str:
        return self.number

    def end(self) -> int:
        return self.stop


class _Figures(_Spoken):
    """A value told by its number of digits ("in the 3 figures"): the bound of that range."""


# What may follow a value in words: punctuation, or when it was taken ("platelets twenty-two this morning").
_SPOKEN_FOLLOWERS = frozenset({",", ".", ";", ":", "?", "!", ")", "this", "today", "now", "on", "at"})
_EVERY_TEST = frozenset({"both", "all", "each"})  # in a stated limit, of every test given a value
_SCALE = 30.0  # a stated limit this many times the value or more is in another unit


def _same_scale(value: float, limit: float) -> bool:
    """A value and a limit in one unit are within ``_SCALE`` of each other (platelets 92 and 150 are;
    92,000 /uL and 150 x10^9/L are not)."""
    return value > 0 and limit > 0 and max(value, limit) / min(value, limit) < _SCALE


@dataclass(frozen=True)
class LabReading:
    """One value read for one analyte: abnormal ("present") or normal ("negated"), and why."""

    analyte: str
    condition: str
    status: Literal["present", "negated"]
    span: Span
    words: str
    reason: str
    clears: bool = True  # a normal reading ends an earlier abnormal one of the same test
    # The factor of the unit the value was read in, when the text says or the size tells ("bili 70": umol/L).
    scale: float | None = None
    # A series or trend whose latest value is normal after an abnormal one ("ALT 190 -> 104 -> 58 -> 32"):
    # a recovery, which asks for the rule when the question is about resuming after a hold.
    recovered: bool = False


# Between the cells of a pasted table: tabs, two spaces or a pipe ("Date | ALT | AST", a markdown table)
_CELL_GAP = re.compile(r"\s*[|;]\s*|\t+\s*|\s{2,}")  # (";": a pasted CSV line, "Datum;ALT;AST")
# A unit in a header cell, in brackets or as a power of ten: "Bili (umol/l)", "Plt x10^9/L"
_UNIT_IN_CELL = re.compile(r"\([^)]*\)|\[[^\]]*\]|x?\s?10\s?[\^*]\s?\d+")
_NAME_WORDS = 3  # words of a test's name ("total bilirubin", "absolute neutrophil count")
_RULE_ROW = re.compile(r"[\s|:+-]*")  # a markdown table's line under its header: "---|:---:|---"
_TABLE_TESTS = 2  # tests a table's header names
# A header of times instead ("        D1    D8", "Mon | Wed | today"): each row is a test over time
_TIME_CELL = re.compile(
    r"(?:c ?\d+ ?)?d(?:ay)? ?-?\d+|(?:wk|week) ?\d+|(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day)?"
    r"|\d{1,2}[/.-]\d{1,2}(?:[/.-]\d{2,4})?|today|yesterday|baseline|pre|now|admission|screening|current",
    re.IGNORECASE,
)
_LATEST_CELL = re.compile(r"today|now|current", re.IGNORECASE)
# ... or a row of dated values after the test's name ("ALT (U/L): 11/02 96 H | 11/03 71 H | 11/05 39")
_DATED_CELL = re.compile(rf"(?:{_TIME_CELL.pattern}):?\s+(\d+(?:[.,]\d+)?)(?:\s*[HL*!])?", re.IGNORECASE)
# (its unit in brackets may hold digits: "ANC (x10^9/L): D1 4.6")
_NAMED_FIRST = re.compile(
    rf"(?P<name>[A-Za-z](?:[^|\t\d(]|\([^)|\t]*\))*?)\s*(?P<cell>{_DATED_CELL.pattern})", re.IGNORECASE
)
# ... or joined by arrows or commas in running text ("ALT: 02/06 210 -> 09/06 120 -> 16/06 36", "ALT 18/03 34,
# 25/03 51, 01/04 76", "ANC (x10^9/L): D1 4.6, D8 1.3, D15 0.9"), one line at a time
_SERIES_JOIN = re.compile(r"\s*(?:->|=>|>|\u2192|,)\s*")
_DATED_SERIES = re.compile(
    rf"(?<![A-Za-z])[A-Za-z][A-Za-z ()/]{{0,30}}?(?:\s*\([^()\n]{{0,15}}\))?:?\s*{_DATED_CELL.pattern}"
    rf"(?:{_SERIES_JOIN.pattern}{_DATED_CELL.pattern})+",
    re.IGNORECASE,
)
# ... looked for only where a date or a day and a value stand before an arrow or a comma and another date or
# day (the pattern above is slow on long text)
_SERIES_HINT = re.compile(
    rf"(?:\d[/.-]\d{{1,2}}|(?<![a-z])d(?:ay)? ?\d{{1,2}})\s+\d[\d.,]*\s*[HL*!]?"
    rf"{_SERIES_JOIN.pattern}(?:\d|d)",
    re.IGNORECASE,
)
_VALUE_CELL = re.compile(r"\d+(?:[.,]\d+)?(?: ?[HL*!])?")
# "150-400", "2.0 - 7.5", with the report's flag typed after it ("150-450 L"), or with the unit of the row
# ("150-400 x10^3/uL")
_RANGE_CELL = re.compile(
    r"\s*(?P<range>\d+(?:[.,]\d+)?\s*(?:-|–|to)\s*\d+(?:[.,]\d+)?)"
    r"(?:\s+(?P<unit>(?![HL]{1,2}(?:\s|$))[^\s\d]\S*))?\s*(?P<flag>\b[HL]{1,2})?\s*"
)
# Thousands grouped by commas ("30,000"), a decimal comma before a unit ("3,2 mg/dl"), or a plain number.
_NUMBER = r"(\d{1,3}(?: , \d{3})+|\d+ , \d{1,2}(?= [a-z])|\d+(?:\.\d+)?)"
# Whose limit a stated range is: "(our range 7-56)", "(lab ULN 21)", "local reference range".
_WHOSE_LIMIT = r"(?:our|lab|local|site|hospital|institutional|the lab s|our lab s) "
# A value may also group its thousands by spaces ("plts 30 000", as typed in much of Europe); a reference
# range may not ("(ref 40-129)" is normalised to "40 129").
_VALUE = r"(\d{1,3}(?: \d{3})+(?![\d.])|" + _NUMBER[1:]
_SKIP = (
    r"(?:(?:is|was|were|are|of|at|=|:|now|today|todays|this|am|pm|morning|came|come|back|to|only|just|still|"
    r"level|levels|count|counts|value|result|the|currently|about|around|approx|like|dropped|fell|rose|risen|"
    # the day a value was taken, before it ("plt D1 180, D4 140", "plt day 8: 200"): not the value, nor the
    # thousands of "1 180"
    r"increased|decreased|up|down|went|gone|has|had|have|of|yesterday|overnight|pre|dose|predose|on|"
    r"(?:d|day) \d{1,2}(?= (?:(?::|is|was|were|=) )?\d)|d|day|"
    r"patient|pt|her|his|the patient|of patient|\d+ (?:am|pm)|-|\(|>|<|over|above|greater than|more than|"
    r"almost|nearly|approximately|of about|roughly|slightly|just over|well over|at least|climbing|rising|"
    r"increasing|trending up|from|persistently|peaked|peaking|"
    r"consistently|repeatedly|again|very|still|low|high|"
    r"elevated|raised|"
    # a value told against the patient's own baseline: "plts at her usual baseline of 90", "plts lower than
    # baseline (250 -> 175)"; not "back to baseline (22)", a recovery that may end a hold
    r"doubled|tripled|halved|lower|higher|(?:than|from|usual|pretreatment|pre treatment) baseline|"
    # "a": the French "at" ("thrombopenie a 30 G/L"); a verb of staying before "at": "plts stuck at 45",
    # "ANC sitting at 0.8", "bili peaked at 4"
    r"a|(?:stuck|sitting|holding|hovering|steady|stable|static|plateaued|peaked|remains?|remained|staying)"
    r" at) ){0,5}"
)
_WHEN = r"(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun|today|yesterday|(?:d|day) \d{1,2})(?: :)? "
_DAY_NAMED = re.compile(rf" {_WHEN}")
_THOUSANDS = re.compile(r"\d , 0\d\d(?![\d.])")  # "92 , 000"
# "150, 90, now 45"; each step may carry the day it was taken ("Mon 35, Wed 62, Fri 118", "d1 2.4, d8 1.1")
# ... or the day after the earlier value ("ALT 40 yesterday, 52 today"): a recent past day, so the next is
# later. Not "last week": whether a count low last week and normal now still asks for the rule, writers
# disagree (final set 36 says it does), and the first value is then kept, which fires it.
_EARLIER_DAY = r"(?: (?:yesterday|last night|mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun|(?:d|day) \d{1,2}))?"
_TREND = re.compile(rf"{_EARLIER_DAY} (?:> |to |then |now |, )+(?:{_WHEN})?{_NUMBER}(?![\d.])")
# An earlier value told after today's: "ALT 35 (was 180)", "plt 160, previously 40", "ALT 35, down from 180"
_WAS_BEFORE = re.compile(
    r"^ ?(?:[(,;] )?(?:was|previously|prev|initially|down from|up from|from|after being|having been) "
    + _NUMBER
    + r"(?![\d.])"
)
# A value taken back in the same breath: "plt 65 sorry 165", "bili 1.0 - sorry, 3.0 mg/dL", "Plt 98k,
# correction 198k", "ANC 1.1 - scrap that, 11.0", "ANC 1.6 - actually 0.6", "ALT 90 (no - 19)": the number
# after the correction is the value (a unit of the first may come between).
_CORRECTED = re.compile(
    r"(?: (?![.?;!] )[^ ]+){0,3}? (?:- |, )?(?:sorry|correction|corrected|i mean|i meant|scrap that|"
    r"scratch that|make that|typo|should read|should be|no wait|actually|\( no)(?: typo)?(?: ,| :| -)? "
    r"(?:it s |its |is |was )?" + _NUMBER + r"(?![\d.])"
)
# A value told by its number of digits: "ALT in the 3 figures (~300)", "plts in single figures"
_FIGURES = re.compile(r"(?:in )?(?:the )?(\w+) (?:figures|figure|digits)(?= |$)")
_WHOLE = re.compile(r"\d+|\d{1,3}(?: , \d{3})+|\d{1,3}(?: \d{3})+")  # no decimals
_GRADE_WORDS = r"(?:ctcae )?(?:grade|gr|g)(?: \.)? ([0-4]|iv|iii|ii|i)"
_GRADE = re.compile(rf"{_GRADE_WORDS}(?![a-z0-9])")
_GRADE_BEFORE = re.compile(rf"(?<![a-z0-9]){_GRADE_WORDS} $")  # "g 3 neutropenia", "grade 2 ast"
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4}
_ULN = (
    r"(?:the |la |il |el |o )?(?:uln|upper limit(?: of normal)?|upper normal limit|upper normal|normal"
    r"|above normal|the normal|upper limit normal|normale|limite superiore(?: della norma| normale)?"
    r"|limite superior(?: normal)?|lsn)"
)
# Between a multiple and the ULN: "5-fold", "3 fois", "5 volte", "two time more than", "1.5x compared with".
_TIMES = (
    r"(?: ?(?:x|times?|fold|fois|volte|veces|vezes|mal)"
    r"(?: (?:of|more than|above|over|higher than|greater than|compared with|compared to|vs))*)?"
)
# A value written a few words after its name ("platelets this morning were 35", "ALT in ukat/L: today 2.9
# ukat/L", "ANC, repeated twice today, is still only 0.7"): words, commas and colons only, in one sentence.
_NOW = frozenset({"now", "today", "currently"})
# ... or a follow-up that opens with a value and its time, naming no test ("ALT 40 yesterday", then "today 41.
# go?", "41 this morning"): the value of the test told before
_ALONE = re.compile(
    r"^(?:(?:and|so|ok|okay|but|update) )?(?:(?:now|today|todays|currently|this morning|this am|tonight)"
    r"(?: (?:its|is|s|at|of|was))? \d+(?:\.\d+)?(?: (?P<after>\S+))?"
    r"|\d+(?:\.\d+)? (?:now|today|this morning|this am|tonight)(?= |$))"
)
_SENTENCE_END = re.compile(r"[.;?!]")
_UPPER = ("uln", "upper")
_LOWER = ("lln", "lower")


def _holds_char(doc: Doc, span: Span, at: int) -> bool:
    """The tokens of ``span`` cover character ``at`` of the doc's text."""
    return doc.starts[span.start] <= at < doc.after(span)


def _side(label: str, bound: str) -> str:
    """The side of the range a stated limit gives: "high" (an upper limit), "low", or "" (either)."""
    if label.startswith(_UPPER) or bound in {"<", "<=", "up to", "until", "till", "below", "under"}:
        return "high"
    if label.startswith(_LOWER) or bound in {">", ">=", "above", "over"}:
        return "low"
    return ""


# What may stand before a value written before its test's name: the start of a clause ("ok, 45k plts").
_CLAUSE_OPENERS = frozenset({",", ";", ":", ".", "(", "-", "!", "?"})
# Words that may stand between a test's name and the unit its values follow in ("Bili trend umol/L: 45 -> 32",
# "plt (k/uL) 30, 45, 70"), and the brackets and colon around that unit.
_HEADING_WORDS = frozenset(
    {"trend", "trends", "series", "values", "results", "level", "levels", "count", "counts"}
)
_UNIT_MARKS = frozenset({"(", ")", "[", "]", ":", "-", "in"})
_HIGH_FLAG = "h"  # "today 71 H": a report's flag for a high value, not hours
# A report's flag after a value, before its unit, its range or the end of its line ("Bili Total 1.4 H mg/dL
# [0.2-1.2]", "ALP 110 H (35-104 U/L)"): the lab's own verdict against its own range.
_FLAG_WORD = r"(?P<flag>hh|h|ll|l|high|low)"
_FLAG = re.compile(_FLAG_WORD + r"(?= [(\[,;.]| ?$)")
_FLAG_THEN = re.compile(_FLAG_WORD + " ")  # ... or before the value's unit ("1.4 H mg/dL")
_FLAG_SIDE = {"hh": "high", "h": "high", "high": "high", "ll": "low", "l": "low", "low": "low"}
# A pronoun that gives the value of the test named before it ("until plts recover? they're 40"); the text
# layer writes "they're" and "it's" as "theyre" and "its".
_PRONOUN_VALUE = frozenset({"theyre", "its"})
# Only in the present: "it was 35 last week" gives an earlier value, not today's.
_PRONOUN_VERB = {"they": frozenset({"are"}), "it": frozenset({"is"})}
_LOOSE = re.compile(r"^(?:(?:[a-z]+|,|:|\(|\)) ){1,10}?" + r"(\d{1,3}(?: , \d{3})+|\d+(?:\.\d+)?)(?![\d.])")
# ... or further, after a clause about the sample, when a verb gives the value ("Platelets, repeated after the
# clumped sample and checked on the citrate tube, came back at 31", "The ALT, which the lab phoned through as
# critical, is 690").
_LOOSE_TOLD = re.compile(
    r"^(?:(?:[a-z]+|,|:|\(|\)) ){1,24}?(?:came back|came out|come back|resulted|is|was|are|were|reads)"
    r"(?: (?:at|as|of|only|now|still))? (\d{1,3}(?: , \d{3})+|\d+(?:\.\d+)?)(?![\d.])"
)
# A count's unit as a power of ten per volume, normalised: "x 10 5 ul", "10 11 l", "x 10 3 mm 3".
_POWER = re.compile(r"(?:x )?10 (?P<exp>\d{1,2}) (?P<per>mm 3|ul|l)(?= |$)")
# A number followed by "x" or "fold" with no limit named (not the "x 10^9" of a count's unit, nor an "x"
# before a count of its own: "ANC 0.6 x2 wks" is that value for two weeks).
_BARE_MULTIPLE = re.compile(
    r"^(?:x(?! \d)|times?|fold)(?! ?10 )"
    r"(?: (?P<of>baseline|previous|before|last|from|pre|the baseline|the previous))?(?![a-z0-9])"
)
# For a value told further on with its unit: the sentence it must be in, and how far it may be.
_SENTENCE_END = re.compile(r" [.;?!](?: |$)")
_NUMBER_TOKEN = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?![\w.])")
_UNIT_REACH = 30
# A value from long before this decision (recent ones still count: "plt 30 two days ago" may be today's; so
# does one "at baseline", told before our drug starts: "bili 2.0 at baseline - start the ino?").
_LONG_AGO = re.compile(
    r"^ ?(?:[a-z]+ ){0,3}(?:,? ?(?:at|on|during) "
    r"(?:diagnosis|admission|presentation|relapse|induction)\b"
    r"|(?:\d+|one|two|three|four|five|six|a few|several) (?:months?|years?) ago\b|last (?:month|year)\b"
    r"|in (?:19|20)\d\d\b)"
)
# The last of three or more values in a row ("35, 78, 150 and 232"), read from the first of them; each may
# carry its day in brackets ("28 (d1) -> 55 (d8) -> 131 (d15, today)").
_SERIES_TAIL = re.compile(
    r"(?:\d+(?:\.\d+)? (?:\( [^()]{1,30}?\) )?(?:, |, and |and |, then |then |> )){2,}"
    r"(\d+(?:\.\d+)?)(?![\d.]| , \d)"
)


def _grade(match: re.Match[str]) -> int:
    return _ROMAN.get(match.group(1)) or int(match.group(1))


def _as_reference(cell: str) -> str:
    """A range cell as the row's reference range ("150-450 L" -> "(ref 150-450) L"), its unit before it
    ("150-400 x10^3/uL" -> "x10^3/uL (ref 150-400)"); others as typed."""
    found = _RANGE_CELL.fullmatch(cell)
    if not found:
        return cell
    unit = f"{found['unit']} " if found["unit"] else ""
    return f"{unit}(ref {found['range']})" + (f" {found['flag']}" if found["flag"] else "")


def _trailing_times(cells: list[str]) -> list[str]:
    """The times that end a line ("D1  D8"), also after other words typed before them on it; none after a
    value: "01/05  210  4.1  0.6" is a row of values, whose decimals only look like dates ("4.1")."""
    start = len(cells)
    while start and _TIME_CELL.fullmatch(cells[start - 1]):
        start -= 1
    if any(_VALUE_CELL.fullmatch(c) for c in cells[:start]):
        return []
    return cells[start:]


class LabReader:
    """Finds analyte names and reads the value, multiple of the limit or grade written next to them."""

    def __init__(self, limits: LabLimits, where: str) -> None:
        self._limits = limits
        self._every_name = frozenset(normalise(n) for a in limits.analytes.values() for n in a.names)
        self._names = {key: Terms(a.names, f"{where}: {key}.names") for key, a in limits.analytes.items()}
        self._findings = {
            key: Terms(a.findings, f"{where}: {key}.findings")
            for key, a in limits.analytes.items()
            if a.findings
        }
        words = "|".join(sorted((re.escape(w) for w in limits.number_words), key=len, reverse=True))
        amount = rf"(?P<a>{_NUMBER}|{words})" if words else rf"(?P<a>{_NUMBER})"
        self._multiple = re.compile(
            rf"^{_SKIP}(?:{amount}(?P<half> and a half)?{_TIMES} {_ULN}"
            rf"|x (?P<b>{_NUMBER}) {_ULN}|(?P<c>{_NUMBER}) xuln)(?![a-z])"
        )
        self._value_any = re.compile(rf"^{_SKIP}{_VALUE}")
        # Three or more numbers in a row are a series, judged by the last ("plts 210, 150, 95, 60"), not one
        # number with thousands or a decimal comma ("30,000", "0,4").
        self._series = re.compile(
            rf"^{_SKIP}(?!\d{{1,3}}(?: , \d{{3}})+(?![\d.]| , \d)){_SERIES_TAIL.pattern}"
        )
        # Every word of every test's name: a number after another test's name is that test's. A test's own
        # words may stand between ("bilirubin total 47", "GPT (ALT) is 198").
        own = {
            k: frozenset(w for n in [*a.names, *a.findings] for w in n.split())
            for k, a in limits.analytes.items()
        }
        every = frozenset().union(*own.values()) | limits.value_words.other_tests
        self._other_names = {k: every - words for k, words in own.items()}
        self._skip = re.compile(rf"^{_SKIP}")
        # Longest unit first: "x 10 9 l" before "l"-less "x 10 9".
        self._units = {k: sorted(a.units, key=len, reverse=True) for k, a in limits.analytes.items()}
        # Beside a value with its unit, the unit's words name no other test ("mg" of "mg/dL" is no magnesium).
        unit_words = {k: {w for u in a.units for w in u.split()} for k, a in limits.analytes.items()}
        self._other_names_by_unit = {k: self._other_names[k] - words for k, words in unit_words.items()}
        # The lab's own limits stated after the value (and its unit): "(ULN 40)", "(ref < 21)", "(LLN 1.8)",
        # a range "(ref 40-130)" -> "40 130", "(10-50)", "[7-56]", "our lab range 10-45", "ref 150-400",
        # "(paeds ref for age 130-400)", "(Norm < 50)", "(Ref. 140-360)".
        # Nothing with a digit may come between ("ALT 45, plt 155 (150-400)": that range is the platelets').
        number = _NUMBER[1:-1]
        self._stated_range = re.compile(
            rf"^[^.;?!\d]{{0,30}}?(?P<open>[(\[] ?)?(?:with |and |, )?(?:a |an |the )?"
            rf"(?:{_WHOSE_LIMIT}){{0,2}}"
            r"(?P<label>uln|lln|ref range|reference range|reference interval|normal range|lab range|range|"
            r"ref|reference|rr|nr|normal|nl|norm|normwert|norm value)(?: \.)?"
            r"(?: (?:for|in) [a-z]+(?: [a-z]+)?)?"
            r"(?: of| is| =| :)? "
            r"(?:(?P<bound><|<=|up to|>|>=) )?"
            rf"(?:(?P<low>{number}) (?:to )?)?(?P<high>{number})"
        )
        # ... or bare in brackets: "(10-50)", "[<50]", "(> 1.5)"
        self._stated_bare = re.compile(
            rf"^[^.;?!\d]{{0,30}}?[(\[] ?(?:(?P<bound><|<=|>|>=) |(?P<low>{number}) (?:to )?)"
            # ... with the value's unit inside the brackets: "(35-104 U/L)"
            rf"(?P<high>{number})(?: [a-z]+){{0,3}} ?[)\]]"
        )
        # A limit stated anywhere in the conversation ("our lab's ULN for ALT is 33", "Upper limit in that lab
        # is 1.0", "Ref range for bili here is 0.2-1.2", "In our lab ALT normal is until 33"): stated_limits.
        self._statement = re.compile(
            r"(?<![a-z])(?P<label>uln|lln|upper (?:reference )?limit(?: of normal)?|"
            r"lower (?:reference )?limit(?: of normal)?|ref range|reference range|reference interval|"
            r"normal range|lab range|range|"
            r"reference|ref|norm|normwert|normal(?= (?:is|up to|until|till|below|under)\b))(?: \.)?"
            # words between ("for ALT", "in our lab") only before a verb: "ULN during cycle 1" states none
            r"(?:(?:(?: (?!(?:not|no|and|but|or)\b)[a-z]+){1,6}? (?:is|are|=|:|of))|(?: (?:is|are|=|:|of))?)"
            r"(?: (?P<bound><|<=|>|>=|up to|until|till|below|under|above|over))?"
            rf" (?P<low>{number})(?: (?:to )?(?P<high>{number}))?(?![\d.])"
        )

    @property
    def not_values_before(self) -> frozenset[str]:
        """Words after a number that make it a duration, count or unit rather than a value ("6 hours")."""
        return self._limits.value_words.not_after

    def value_alone(self, text: str) -> bool:
        """The text opens with a value and its time and no test's name ("today 41. go?"); not a duration or
        a count ("now 3 days since the dose")."""
        match = _ALONE.match(normalise(text))
        return bool(match) and match.group("after") not in self.not_values_before

    @property
    def other_tests(self) -> frozenset[str]:
        """Tests with no limit here ("INR", "QTc"): clinical words, not names of other products."""
        return self._limits.value_words.other_tests

    def untabulate(self, text: str) -> str:
        """A pasted table read row by row, each value beside its column's test: "Time  Neut  Plt  ALT" over
        "06:00  0.9 L  63 L  72 H" is "Time 06:00, Neut 0.9 L, Plt 63 L, ALT 72 H." Columns are cells
        apart by a tab, two spaces or a pipe ("Date | ALT | Plt", a markdown table, whose rule line under the
        header is skipped); a header names at least two tests; a row has as many cells."""
        if _SERIES_HINT.search(text):
            text = _DATED_SERIES.sub(self._dated_series, text)
        if "\t" not in text and "  " not in text and "|" not in text and ";" not in text:
            return text  # no cells: most messages
        lines = text.splitlines()
        out: list[str] = []
        header: list[str] = []
        times: list[str] = []
        for line in lines:
            if header and _RULE_ROW.fullmatch(line):
                continue
            cells = [c for c in _CELL_GAP.split(line.strip()) if c]
            heading = _trailing_times(cells)
            if len(heading) >= _TABLE_TESTS:
                times = heading  # a header of times: the rows under it are tests over time
                out.append(line)
                continue
            if times and self._over_time(cells, times):
                out.append(self._latest_last(cells, times))
                continue
            times = []
            dated = self._dated_row(cells)
            if dated:
                out.append(dated)
                continue
            tests = sum(map(self._names_test, cells)) if len(cells) >= _TABLE_TESTS else 0
            # (a header names tests and holds no value: "Pt  A:  plt  188  alt  126" is spaced values)
            if tests >= _TABLE_TESTS and not any(_VALUE_CELL.fullmatch(c) for c in cells):
                header = cells
                continue
            if header and len(cells) == len(header):
                out.append(", ".join(f"{h} {c}" for h, c in zip(header, cells, strict=True)) + ".")
                continue
            # ... a row labelled in a column the header leaves blank ("        Plt  ANC" over "D8  118  3.3")
            if header and len(cells) == len(header) + 1 and not _VALUE_CELL.fullmatch(cells[0]):
                pairs = zip(header, cells[1:], strict=True)
                out.append(f"{cells[0]}: " + ", ".join(f"{h} {c}" for h, c in pairs) + ".")
                continue
            if header:
                out.append(" ".join(header))  # no row under it: kept as typed
            header = []
            # (a row label may name its test before a comma: "Bilirubin, Total", "Neutrophils, Abs")
            if len(cells) >= _TABLE_TESTS and normalise(cells[0].split(",")[0]) in self._every_name:
                # a row per test ("PLT | 145 | 150-400"): its value, then a range cell as its reference range
                out.append(" ".join(_as_reference(c) for c in cells) + ".")
                continue
            out.append(line)
        if header:
            out.append(" ".join(header))
        return "\n".join(out)

    def _dated_series(self, match: re.Match[str]) -> str:
        """A test's dated values joined by arrows or commas ("ALT: 02/06 210 -> 09/06 120 -> 16/06 36") read
        as the row of dated cells it is ("ALT: 210 -> 120 -> 36"), so that a date is not read as a value."""
        text = match.group(0)
        named = text[: re.search(r"\d", text).start()]  # the test's name is among the words before the values
        for word in re.finditer(r"(?<![A-Za-z])[A-Za-z]", named):  # ("note ALT: ...": from "ALT")
            row = self._dated_row(_SERIES_JOIN.split(text[word.start() :]))
            if row:
                return text[: word.start()] + row
        return text

    def _names_test(self, cell: str) -> bool:
        """A table cell names a test, with or without its unit: "ALT", "Bili (mg/dL)", "Bili umol/L",
        "Plt x10^9/L" (not a value: "ALT 300")."""
        words = normalise(_UNIT_IN_CELL.sub(" ", cell)).split()
        return any(
            " ".join(words[:k]) in self._every_name and not any(w[:1].isdigit() for w in words[k:])
            for k in range(1, min(len(words), _NAME_WORDS) + 1)
        )

    def _dated_row(self, cells: list[str]) -> str:
        """A test's values each beside its date or day, in one row ("ALT (U/L): 11/02 96 H | 11/03 71 H |
        11/05 39"), as a series ending with the last ("ALT (U/L): 96 -> 71 -> 39."); "" when it is not one."""
        first = _NAMED_FIRST.fullmatch(cells[0]) if len(cells) >= _TABLE_TESTS else None
        if first is None:
            return ""
        name = normalise(first.group("name")).split()
        if not name or name[0] not in self._every_name:
            return ""
        found = [_DATED_CELL.fullmatch(c) for c in [first.group("cell"), *cells[1:]]]
        if not all(found):
            return ""
        values = [m.group(1) for m in found if m]
        return f"{first.group('name').strip()} " + " -> ".join(values) + "."

    def _over_time(self, cells: list[str], times: list[str]) -> bool:
        """A row of a table headed by times: a test's name, then one value per time."""
        values = cells[1:]
        return (
            self._names_test(cells[0])
            and len(values) == len(times)
            and all(_VALUE_CELL.fullmatch(v) for v in values)
        )

    @staticmethod
    def _latest_last(cells: list[str], times: list[str]) -> str:
        """A test's values over time as a series ending with the latest ("Plt 180 -> 95."): the column
        headed "today" or "now", else the last, as tables run from left to right in time."""
        latest = next((i for i, t in enumerate(times) if _LATEST_CELL.fullmatch(t)), len(times) - 1)
        values = cells[1:]
        ordered = [v for i, v in enumerate(values) if i != latest] + [values[latest]]
        return f"{cells[0]} " + " -> ".join(ordered) + "."

    @property
    def analyte_names(self) -> dict[str, Terms]:
        return self._names

    @property
    def finding_names(self) -> dict[str, Terms]:
        return self._findings

    def read(
        self, doc: Doc, scales: Mapping[str, float] | None = None, limits: Mapping[str, float] | None = None
    ) -> list[LabReading]:
        """The values read in ``doc``. ``scales``: the unit (as its factor) each test's values were given in
        earlier in the conversation, which reads a bare number plausible in two ("bili 70" then "bili now
        18": umol/L). ``limits``: the limit the conversation last states for a test (``stated_limits``),
        which outranks one stated beside the value ("ALT 50 (ref 7-56)", then "our ULN for ALT is 33")."""
        scales, limits = scales or {}, limits or {}
        readings: list[LabReading] = []
        named: list[tuple[Span, str]] = []  # where each test's name stands
        unread: list[tuple[Span, str]] = []  # ... and those with no value after them
        for names, read_next in ((self._names, self._read_after), (self._findings, self._finding_after)):
            for key, terms in names.items():
                analyte = self._limits.analytes[key]
                for span in terms.find(doc):
                    if names is self._names:
                        named.append((span, key))
                    reading = read_next(doc, span, key, analyte, scales.get(key), limits.get(key))
                    reading = reading or self._grade_before(doc, span, key, analyte)
                    if reading is not None:
                        readings.append(reading)
                    elif names is self._names:
                        unread.append((span, key))
        for span, key in unread:
            reading = self._value_before(doc, span, key, readings, scales.get(key), limits.get(key))
            reading = reading or self._unit_first(doc, span, key, limits.get(key))
            if reading is not None:
                readings.append(reading)
        # "our lab's ULN for ALT is 33" states a limit, not a value of ALT
        stated = [m.start("low") for m in self._statement.finditer(doc.text)]
        readings = [r for r in readings if not any(_holds_char(doc, r.span, at) for at in stated)]
        return readings + self._elided(doc, readings, named, scales, limits)

    def _elided(
        self,
        doc: Doc,
        readings: list[LabReading],
        named: list[tuple[Span, str]],
        scales: Mapping[str, float],
        limits: Mapping[str, float],
    ) -> list[LabReading]:
        """A value that opens a clause with "now" or a pronoun and no name ("bilirubin was high at diagnosis
        but normalised; now 0.7", "hold until plts recover? they're 40"): the value of the test named last
        before it, read with that test's limits."""
        out = []
        surface = doc.surface

        def opens(at: int) -> bool:
            """The word at ``at`` opens a clause."""
            return at == 0 or not surface[at - 1][0].isalnum()

        for i, word in enumerate(surface[:-1]):
            number = surface[i + 1]
            pronoun = i > 0 and word in _PRONOUN_VERB.get(surface[i - 1], ()) and opens(i - 1)
            opening = (word in _NOW or word in _PRONOUN_VALUE) and opens(i)
            if not (opening or pronoun) or not re.fullmatch(_NUMBER, number):
                continue
            after = surface[i + 2] if i + 2 < len(surface) else ""
            if after in self.not_values_before and after != _HIGH_FLAG:
                continue  # "now 3 days since the dose", "it's 2 cycles in": a duration or a count
            if any(r.span.start <= i + 1 < r.span.end for r in readings):
                continue
            before = [(span, key) for span, key in named if span.end <= i]
            if not before:
                continue
            key = max(before, key=lambda sk: sk[0].end)[1]
            name = self._limits.analytes[key].names[0].lower().split()
            read = self._read_as_named(name, surface[i + 1 : i + 5], key, scales.get(key), limits.get(key))
            if read is not None:
                out.append(replace(read, span=Span(i, i + 2), words=" ".join(doc.surface[i : i + 2])))
        return out

    def _value_before(
        self,
        doc: Doc,
        span: Span,
        key: str,
        readings: Sequence[LabReading],
        told: float | None,
        conversation_limit: float | None,
    ) -> LabReading | None:
        """A value written before the test's name with nothing but its unit between ("85 000/mm3 plts
        today", "45k platelets"), read as if written after it. Not a value another test has read ("ALT 45
        plts ok"), nor one after a word that counts it ("D8 plts", "cycle 2 bili"): it must open a clause."""
        surface = doc.surface
        units = {w for u in self._units[key] for w in u.split()}
        start = span.start
        while start > 0 and (surface[start - 1] in units or surface[start - 1] == "x"):
            start -= 1  # the unit: "mm 3", "x 10 9 l", "k"
        value = start
        while value > 0 and surface[value - 1][:1].isdigit():
            value -= 1  # the number, its thousands grouped by spaces: "85 000"
        while value > 1 and surface[value - 1] == "," and surface[value - 2][:1].isdigit():
            value -= 2  # ... or by commas: "85 , 000"
        if value == span.start or not surface[value][:1].isdigit():
            return None
        if value > 0 and surface[value - 1] not in _CLAUSE_OPENERS and value not in doc.dashed:
            return None  # "D8 plts", "ALT 45 plt", "grade >= 3 AST": the number belongs to what is before it
        if any(r.span.start <= value < r.span.end for r in readings):
            return None
        read = self._read_as_named(
            surface[span.start : span.end], surface[value : span.start], key, told, conversation_limit
        )
        if read is None or read.span.end != span.end - value:  # the name's tokens, then the value's
            return None  # the words before the name are not all its value and unit
        return replace(read, span=Span(value, span.end), words=" ".join(surface[value : span.end]))

    def _read_as_named(
        self,
        name: Sequence[str],
        values: Sequence[str],
        key: str,
        told: float | None,
        conversation_limit: float | None,
        unit_first: tuple[str, float] | None = None,
    ) -> LabReading | None:
        """``values`` read as if written right after the test's ``name``; the reading's span counts the
        name's tokens first (``_elided``, ``_value_before`` and ``_unit_first`` map it back)."""
        tokens = [*name, *values]
        analyte = self._limits.analytes[key]
        where = Span(0, len(name))
        return self._read_after(
            Doc.of(tokens, tokens), where, key, analyte, told, conversation_limit, unit_first=unit_first
        )

    def _unit_first(
        self, doc: Doc, span: Span, key: str, conversation_limit: float | None
    ) -> LabReading | None:
        """Values written after their unit, as a flowsheet heads a column ("Bili trend umol/L: 45 -> 32 ->
        22", "plt (k/uL) 30, 45, 70, 110"): read as if the unit followed each value."""
        surface = doc.surface
        at = span.end
        while at < len(surface) and surface[at] in _HEADING_WORDS | _UNIT_MARKS:
            at += 1
        unit, factor, _ = self._unit(" ".join(surface[at:]), key, self._limits.analytes[key])
        if unit is None:
            return None
        at += len(unit.split())
        while at < len(surface) and surface[at] in _UNIT_MARKS:
            at += 1
        if at >= len(surface) or not surface[at][:1].isdigit():
            return None
        name = surface[span.start : span.end]
        read = self._read_as_named(name, surface[at:], key, None, conversation_limit, (unit, factor))
        if read is None:
            return None
        end = at + read.span.end - len(name)
        return replace(read, span=Span(span.start, end), words=" ".join(surface[span.start : end]))

    def _finding_after(
        self,
        doc: Doc,
        span: Span,
        key: str,
        analyte: Analyte,
        told: float | None = None,
        conversation_limit: float | None = None,
    ) -> LabReading | None:
        """A grade ("neutropenia G3") or an abnormal value ("thrombocytopenia at 30 G/L") after the name of a
        finding. A value that is not abnormal ("neutropenia 5 days") is not its value: the name stands."""
        reading = self._grade_after(doc, span, key, analyte)
        if reading is None:
            reading = self._read_after(doc, span, key, analyte, told, conversation_limit)
            if reading is not None and reading.status != "present":
                return None
        return reading

    def _grade_after(self, doc: Doc, span: Span, key: str, analyte: Analyte) -> LabReading | None:
        start = doc.after(span)
        grade = _GRADE.match(doc.text, start)
        if not grade:
            return None
        where = self._span(doc, span, start, grade.end() - start)
        return self._graded(doc, where, key, analyte, _grade(grade))

    def _grade_before(self, doc: Doc, span: Span, key: str, analyte: Analyte) -> LabReading | None:
        """A grade written before the name: "g 2 ast", "grade 3 neutropenia"."""
        start = doc.starts[span.start]
        grade = _GRADE_BEFORE.search(doc.text[:start])
        if not grade:
            return None
        first = span.start
        while first > 0 and doc.starts[first - 1] >= grade.start():
            first -= 1
        return self._graded(doc, Span(first, span.end), key, analyte, _grade(grade))

    def _read_after(
        self,
        doc: Doc,
        span: Span,
        key: str,
        analyte: Analyte,
        told: float | None = None,
        conversation_limit: float | None = None,
        unit_first: tuple[str, float] | None = None,
    ) -> LabReading | None:
        """The value after a test's name; ``told``: the factor of the unit its values were given earlier;
        ``conversation_limit``: the limit the conversation states for the test; ``unit_first``: the unit
        (and its factor) written before the values."""
        # The text after the analyte name: where the next token starts (or the end of the text).
        start = doc.after(span)
        rest = doc.text[start:]
        skipped = len(rest) - len(self._skip.sub("", rest, count=1))
        grade = _GRADE.match(rest, skipped)
        if grade:
            return self._graded(doc, self._span(doc, span, start, grade.end()), key, analyte, _grade(grade))
        multiple = self._multiple.match(rest)
        if multiple and analyte.direction == "high":
            value = self._number(multiple.group("a") or multiple.group("b") or multiple.group("c"))
            if value is None:
                return None
            value += 0.5 if multiple.group("half") else 0
            where = self._span(doc, span, start, multiple.end())
            if value <= 1:
                return self._reading(doc, where, key, analyte, "'{words}' read as normal", present=False)
            reason = f"'{{words}}' read as {analyte.label} above the upper limit of normal: {value:g} x ULN"
            return self._reading(doc, where, key, analyte, reason + self._grade_text(analyte, value))
        found = (
            self._figures(rest, skipped, analyte)
            or self._series.match(rest)
            or self._value_any.match(rest)
            or self._loose(rest, key)
            or self._with_unit(rest, key)
        )
        if not found:
            found = self._spoken(rest, skipped, key, analyte)
        if not found:
            return None
        # A trend ("bili 1.8 -> 2.9 -> 4.2 mg/dL", "ALT 80 to 240") is judged by its latest value.
        steps = []
        not_after = self._limits.value_words.not_after
        while trend := _TREND.match(rest, (steps or [found])[-1].end()):
            following = rest[trend.end() :].split()[:1]
            if following and following[0] in not_after:
                break  # "plt 30 yesterday, 2 units given": a count, not the next value
            steps.append(trend)
        # a trend joined only by one comma is a list or a decimal comma ("0,4, give"), unless a day is named
        one = steps[0].group(0) if len(steps) == 1 else ""
        if len(steps) > 1 or (steps and ("," not in one or _DAY_NAMED.search(one))):
            found = steps[-1]
        # the values before the last, if told in a row (not in words, not corrected)
        row = rest[skipped : found.start(1)] if isinstance(found, re.Match) else ""
        while corrected := _CORRECTED.match(rest, found.end()):
            found, row = corrected, ""  # "plt 84,000 - sorry, 184,000": a typo, not a recovery
        after = rest[found.end() :].lstrip()
        fold = _BARE_MULTIPLE.match(after)
        if fold:  # "transaminases up 3x": a multiple with its limit left out is one of the ULN
            value = self._number(found.group(1))
            if fold.group("of") or analyte.direction != "high" or value is None or value <= 1:
                return None  # "3x baseline", "plt down 3x": a multiple of something else
            where = self._span(
                doc, span, start, found.end() + len(rest[found.end() :]) - len(after) + fold.end()
            )
            reason = f"'{{words}}' read as {analyte.label} above the upper limit of normal: {value:g} x ULN"
            return self._reading(doc, where, key, analyte, reason + self._grade_text(analyte, value))
        flagged = self._flag(after, key, analyte)
        if flagged:
            after = after[flagged.end() :].lstrip()
        unit, factor, unit_len = self._unit(after, key, analyte)
        if unit is None and unit_first is not None:
            unit, factor = unit_first
        if _LONG_AGO.match(after[unit_len:]):
            return None  # "platelets were 45 at diagnosis two months ago, 212 today": not today's value
        raw = self._number(found.group(1))
        if raw is None:
            return None
        limit, judges_normal = analyte.limit.value, analyte.judges_normal
        stated = conversation_limit
        if stated is None:
            stated = self._stated_limit(after[unit_len:], analyte)
        scale = factor if unit is not None else None  # to this file's unit, for the CTCAE grade
        if stated is not None and _same_scale(raw, stated):  # the lab's limit, in the value's unit
            limit, factor, unit, judges_normal = stated, 1.0, unit or "the stated limit", True
        elif stated is not None and scale is not None and _same_scale(raw * scale, stated):
            # "Plt 92,000/uL (ref 150-400k)": the limit in this file's unit, the value in another
            limit, judges_normal = stated, True
        else:
            stated = None
        hint = " (told by its number of digits)" if isinstance(found, _Figures) else ""
        if unit is None:
            readings = self._unitless(raw, analyte, decimals=not _WHOLE.fullmatch(found.group(1)))
            if not readings:
                return None  # implausible in every unit: the number alone says nothing
            # "bili 70" then "now 18": the conversation's unit, when the number is plausible in it
            earlier = [r for r in readings if r[1] == told]
            if earlier and len(readings) > 1:
                readings, hint = earlier, f" (in {earlier[0][0]}, the unit of the earlier value)"
            determined = readings[0][1] if len(readings) == 1 else None
        else:
            readings = [(unit, factor)]
            determined = scale  # the typed unit's factor; None when only a stated limit was given
        verdicts = {self._judge(raw * f, limit, analyte, judges_normal) for _, f in readings}
        if len(verdicts) != 1:
            return None  # "bili 8": 8 mg/dL is grade 4, 8 umol/L is normal; only a unit or a word can tell
        verdict = verdicts.pop()
        where = self._span(doc, span, start, len(rest) - len(after) + unit_len)
        side = _FLAG_SIDE[flagged.group("flag")] if flagged else ""
        if verdict != "abnormal" and stated is None and side == analyte.direction:
            # "ALT 38 H": the lab's own range, not told here, puts it outside
            reason = f"'{{words}}' read as {analyte.label} flagged {side} by the lab's report"
            return self._reading(doc, where, key, analyte, reason + hint, scale=determined)
        if verdict in ("normal", "not low"):
            was = _WAS_BEFORE.match(after[unit_len:])
            earlier = self._earlier_values(row) + ([n] if was and (n := self._number(was.group(1))) else [])
            # "ANC back up to 4.0", "plt recovered to 160": the words before the value tell a recovery
            told = rest[: found.start(1)].split() if isinstance(found, re.Match) else []
            recovered = (analyte.direction == "low" and self._recovery_told(told)) or any(
                self._judge(value * f, limit, analyte, judges_normal) == "abnormal"
                for value in earlier
                for _, f in readings
            )
            if verdict == "normal":
                reason = "'{words}' read as " + ("back to normal" if recovered else "normal") + hint
            else:  # no lower reference limit recorded: not called normal
                reason = "'{words}' read as " + ("recovered" if recovered else "not low") + hint
            reading = self._reading(
                doc, where, key, analyte, reason, present=False, clears=verdict == "normal", scale=determined
            )
            return replace(reading, recovered=recovered)
        value = raw * readings[0][1]
        if analyte.direction == "high":
            source = (
                f"{limit:g} {analyte.limit.unit}"
                if limit == analyte.limit.value
                else f"{limit:g} (as stated)"
            )
            ratio = value / limit
            reason = f"'{{words}}' read as {analyte.label} above the reference upper limit {source}: "
            reason += f"{ratio:.1f} x ULN"
            return self._reading(
                doc, where, key, analyte, reason + self._grade_text(analyte, ratio) + hint, scale=determined
            )
        if stated is not None:
            reason = f"'{{words}}' read as a low {analyte.label}: below the stated lower limit {limit:g}"
            grade = self._grade_text(analyte, raw * scale) if scale is not None else ""
            return self._reading(doc, where, key, analyte, reason + grade + hint, scale=determined)
        reason = f"'{{words}}' read as a low {analyte.label}: {value:g} {analyte.limit.unit}, below {limit:g}"
        return self._reading(
            doc, where, key, analyte, reason + self._grade_text(analyte, value) + hint, scale=determined
        )

    def _figures(self, rest: str, skipped: int, analyte: Analyte) -> _Spoken | None:
        """A value told by its number of digits: "ALT in the 3 figures", "plts in single figures". A high
        limit is judged by the smallest such number (100 for three figures), a low one by the largest (9)."""
        told = _FIGURES.match(rest, skipped)
        if not told:
            return None
        # "double", "triple" and the numbers in words are lab_limits.yaml's number_words
        digits = 1 if told.group(1) == "single" else self._number(told.group(1))
        if digits is None or not 1 <= digits <= 6:
            return None
        value = 10 ** (int(digits) - 1) if analyte.direction == "high" else 10 ** int(digits) - 1
        return _Figures(f"{value:g}", told.end())

    def _recovery_told(self, words: list[str]) -> bool:
        """Whether ``words`` (between a test's name and its value) hold a recovery phrase."""
        text = f" {' '.join(words)} "
        return any(f" {phrase} " in text for phrase in self._limits.value_words.recovered)

    def _earlier_values(self, row: str) -> list[float]:
        """The values of a series or trend before its latest ("190 > 104 > 58 >": 190, 104, 58); none when
        they have thousands separators ("92,000 > 150,000"), which a list's commas cannot be told from."""
        if _THOUSANDS.search(row):
            return []
        undated = _DAY_NAMED.sub(" ", f" {row}")  # "d 8 1.1": the 8 is a day, not a value
        numbers = [self._number(n) for n in _NUMBER_TOKEN.findall(undated)]
        return [n for n in numbers if n is not None]

    def _spoken(self, rest: str, skipped: int, key: str, analyte: Analyte) -> _Spoken | None:
        """A value in words ("platelets twenty-two this morning", "ANC one point two"), when a unit, a
        punctuation mark or the time of the test follows it (not "platelets one more time")."""
        spoken = spoken_number(rest[skipped:])
        if spoken is None:
            return None
        value, length = spoken
        end = skipped + length
        following = rest[end:].lstrip()
        unit, _, _ = self._unit(following, key, analyte)
        first = following.split(" ", 1)[0] if following else ""
        if following and first not in _SPOKEN_FOLLOWERS and unit is None:
            # Dictation has no punctuation ("platelets ninety two neutrophils one point one can we give"): a
            # value all the same, unless it is a lone "one" ("platelets one more time") or counts something
            # ("platelets two days ago were 40").
            said = rest[skipped:end]
            counted = quantities(f"{value:g} {following}")
            if said == "one" or any(w.startswith(f"{value:g} ") for w in counted.values()):
                return None
        return _Spoken(f"{value:g}", end)

    def _loose(self, rest: str, key: str) -> re.Match[str] | None:
        """A value a few words after the name, when nothing between names another test and the number is
        not a day, a cycle, a count or a duration."""
        found = _LOOSE.match(rest) or _LOOSE_TOLD.match(rest)
        if not found:
            return None
        between = rest[: found.start(1)].split()
        after = rest[found.end() :].split()[:2]
        words = self._limits.value_words
        flagged = self._flag(rest[found.end() :].lstrip(), key, self._limits.analytes[key])
        # "transaminases bumped to 3x, skip?": a multiple ending its clause is one of the ULN (not "3 times
        # this week", "2 x daily")
        ended = len(after) < 2 or not after[1][:1].isalnum()
        multiple = after[:1] in (["x"], ["times"], ["fold"]) and ended
        unlike = (between and between[-1] in words.not_before) or (
            after and after[0] in words.not_after and not multiple
        )
        if unlike and not flagged:  # "Bili Total 1.4 H mg/dL": a report's flag, not hours
            return None
        if any(w in self._other_names[key] for w in between):
            return None  # another test's value
        if not (between and between[-1] in _NOW) and any(w in words.earlier for w in between):
            # an earlier value ("plt nadir was 30"), unless "now" comes last ("low before, now 260")
            return None
        return _SERIES_TAIL.match(rest, found.start(1)) or found  # "platelet series 35, 78, 150 and 232"

    def _with_unit(self, rest: str, key: str) -> re.Match[str] | None:
        """A value further on in the same sentence that carries one of the test's own units ("bilirubin this
        morning - and I double-checked it - is 3.8 mg/dL"): the unit says whose value it is."""
        sentence = _SENTENCE_END.split(rest, maxsplit=1)[0]
        words = self._limits.value_words
        since = 0  # where the words since the last number start: "previous 0.9 mg/dL, now 3.0 mg/dL"
        for number in _NUMBER_TOKEN.finditer(sentence):
            before, between = sentence[: number.start()].split(), sentence[since : number.start()].split()
            since = number.end()
            if len(before) > _UNIT_REACH or any(w in self._other_names_by_unit[key] for w in before):
                return None
            after = sentence[number.end() :].lstrip()
            unit = next((u for u in self._units[key] if " " in u and (after + " ").startswith(u + " ")), None)
            if (
                unit
                and not (between and between[-1] in words.not_before)
                and words.earlier.isdisjoint(between)
            ):
                return number
        return None

    @staticmethod
    def _reading(
        doc: Doc,
        where: Span,
        key: str,
        analyte: Analyte,
        reason: str,
        *,
        present: bool = True,
        clears: bool = True,
        scale: float | None = None,
    ) -> LabReading:
        """One reading of ``where``; ``reason`` names the words read as ``{words}``."""
        words = doc.words(where)
        status = "present" if present else "negated"
        reason = reason.format(words=words)
        return LabReading(key, analyte.condition, status, where, words, reason, clears, scale)

    @staticmethod
    def _judge(value: float, limit: float, analyte: Analyte, judges_normal: bool) -> str:
        if analyte.direction == "high":
            return "abnormal" if value > limit else "normal"
        if value < limit:
            return "abnormal"
        return "normal" if judges_normal else "not low"

    def limit_tokens(self, doc: Doc) -> frozenset[int]:
        """The tokens of ``doc`` that give a stated limit ("ULN for ALT is 60"), not a value."""
        statements = self._statement.finditer(doc.text)
        at = [m.start(g) for m in statements for g in ("low", "high") if m.start(g) >= 0]
        return frozenset(i for i, start in enumerate(doc.starts) if start in at)

    def stated_limits(self, docs: Sequence[Doc]) -> dict[str, float]:
        """The limit each test has in the conversation (``docs``, oldest first): the last one stated for it.

        A statement is of the test named nearest before its number in the same sentence ("our lab's ALT range
        is 0-65", "ULN for ALT is 33"), or else of the one test the conversation gives a value of whose side
        the statement gives ("ALT 50 on ino, rest normal." then "Our lab's ULN is 56 by the way"): an upper
        limit for a test that is abnormal when high, a lower one for a count.
        """
        found: list[tuple[str | None, str, re.Match[str], bool]] = []
        for doc in docs:
            statements = list(self._statement.finditer(doc.text))
            if not statements:
                continue
            names = [(doc.starts[sp.start], k) for k, terms in self._names.items() for sp in terms.find(doc)]
            for m in statements:
                sentence = max((e.end() for e in _SENTENCE_END.finditer(doc.text, 0, m.start())), default=0)
                near = [(at, k) for at, k in names if sentence <= at < m.start("low")]
                side = _side(m.group("label"), m.group("bound") or "")
                # "our lab's ULN for both is 60": of every test given a value, not of the one named nearest
                every = not _EVERY_TEST.isdisjoint(m.group(0).split())
                found.append((max(near)[1] if near and not every else None, side, m, every))
        if not found:
            return {}
        valued = {r.analyte for doc in docs for r in self.read(doc)}  # the tests given a value
        limits: dict[str, float] = {}
        for key, side, m, every in found:
            if key is not None:
                keys = [key]
            else:
                fitting = [k for k in valued if side in ("", self._limits.analytes[k].direction)]
                keys = fitting if len(fitting) == 1 or every else []
            for key in keys:
                analyte = self._limits.analytes[key]
                if side and side != analyte.direction:
                    continue  # "ULN" beside a count: not its limit
                low, high = m.group("low"), m.group("high")
                value = self._number(high if high and analyte.direction == "high" else low)
                if value is not None:
                    limits[key] = value
        return limits

    def _stated_limit(self, after: str, analyte: Analyte) -> float | None:
        """The limit the text states for the value just read, on the analyte's side: the upper end of a
        range for a test that is abnormal when high, the lower end for a count."""
        found = self._stated_range.match(after)
        if found and found.group("label") in {"normal", "nl"} and not found.group("open"):
            found = None  # "bili 2.4, ALT normal 30": "normal" gives a limit only in brackets
        if not found:
            bare = self._stated_bare.match(after)
            if not bare:
                return None
            low, high = bare.group("low"), bare.group("high")
            if (bare.group("bound") or "").startswith(">"):
                low, high = high, None  # "(> 1.5)": only a lower limit
        else:
            low, high = found.group("low"), found.group("high")
            bound, label = found.group("bound") or "", found.group("label")
            if bound.startswith(">") or label == "lln":
                low, high = high, None  # "(ref > 1.5)", "(LLN 1.8)": only a lower limit
            elif bound or label == "uln":
                low = None  # "(ref < 21)", "(ULN 40)": only an upper limit
        wanted = high if analyte.direction == "high" else low
        return self._number(wanted) if wanted else None

    def _graded(self, doc: Doc, where: Span, key: str, analyte: Analyte, grade: int) -> LabReading:
        if grade == 0:
            return self._reading(doc, where, key, analyte, "'{words}' read as normal", present=False)
        change = "raised" if analyte.direction == "high" else "low"
        return self._reading(
            doc, where, key, analyte, f"'{{words}}' read as {change} {analyte.label} (CTCAE grade {grade})"
        )

    @staticmethod
    def _span(doc: Doc, name: Span, start: int, length: int) -> Span:
        """The tokens from the analyte name to the end of what was read (``length`` characters after it)."""
        end_char = start + length
        end = name.end
        while end < len(doc.starts) and doc.starts[end] < end_char:
            end += 1
        return Span(name.start, end)

    def _flag(self, after: str, key: str, analyte: Analyte) -> re.Match[str] | None:
        """A report's flag at the start of ``after`` (the text after a value): before a bracket, a mark or the
        line's end ("ALP 110 H (35-104 U/L)"), or before the value's unit ("1.4 H mg/dL")."""
        flag = _FLAG.match(after)
        if flag:
            return flag
        flag = _FLAG_THEN.match(after)
        if flag and self._unit(after[flag.end() :], key, analyte)[0] is not None:
            return flag
        return None

    def _unit(self, after: str, key: str, analyte: Analyte) -> tuple[str | None, float, int]:
        for unit in self._units[key]:
            if after == unit or after.startswith(unit + " "):
                return unit, analyte.units[unit], len(unit)
        power = _POWER.match(after)
        if power and power.group("per") in analyte.powers_of_ten:
            exponent = int(power.group("exp")) + analyte.powers_of_ten[power.group("per")]
            return power.group(0), 10.0**exponent, power.end()
        return None, 1.0, 0

    @staticmethod
    def _unitless(raw: float, analyte: Analyte, *, decimals: bool) -> list[tuple[str, float]]:
        """Every unit a bare number is plausible in ("bili 5.2" is not umol/L, reported in whole numbers)."""
        return [
            (r.unit, r.factor)
            for r in analyte.unitless_ranges
            if r.min <= raw <= r.max and not (decimals and r.whole)
        ]

    def _number(self, text: str) -> float | None:
        if text in self._limits.number_words:
            return self._limits.number_words[text]
        if re.fullmatch(r"\d{1,3}(?: \d{3})+", text):  # "30 000"
            text = text.replace(" ", "")
        parts = text.split(" , ")
        try:
            if len(parts) > 1 and all(len(p) == 3 for p in parts[1:]):
                return float("".join(parts))
            if len(parts) == 2:  # a decimal comma: "3,2 mg/dl"
                return float(f"{parts[0]}.{parts[1]}")
            return float(text)
        except ValueError:
            return None

    @staticmethod
    def _grade_text(analyte: Analyte, value: float) -> str:
        if analyte.direction == "high" and analyte.grades:
            grade = 1 + sum(value > bound for bound in analyte.grades)
        elif analyte.direction == "low" and analyte.grade_cutoffs:
            grade = 1 + sum(value < bound for bound in analyte.grade_cutoffs)
        else:
            return ""
        return f", CTCAE grade {grade}"
