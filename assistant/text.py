"""THE text layer: one spelling of any text, read once and shared by every stage.

Why one module: retrieval, answerability, conversation, the guardrail and the language-model checks must
see the same words. Before this module existed BM25 tokenised and stemmed on its own, the guardrail folded
look-alike letters that retrieval never saw, and coverage counted words that BM25 split differently.

- ``normalise``: lower case, invisible characters dropped, look-alike letters and dashes folded, acronyms
  joined ("S.O.S." -> "sos"), punctuation as tokens, digits split from letters ("C3D1" -> "c 3 d 1").
- ``read``: a text's tokens, words and stems (memoised: a question is read once per ``ask``).
- ``stem``: the one English (Snowball) stemmer.
- ``Speller``: typo correction by edit distance with transpositions ("ofetn" -> "often"), and by sound
  ("prolongashun" -> "prolongation").
- ``fold_spelling``: the spelling of a Greek-derived medical word with ph/f, th/t, y/i, ae/e, oe/e, k/c and
  doubled letters merged, so that "anafilactic" or "trombocitopenia" (Romance-language spellings) meet the
  English word.
- ``negates_word``: "afebrile" is not a typo of "febrile" but its negation (a privative prefix).
- ``is_everyday_word``: common English ("recognised", "worry", "kids") as opposed to a rare term
  ("ursodiol", "voriconazole"), from the ``wordfreq`` frequency lists (bundled data, no download);
  ``is_everyday_compound``: two such words typed as one ("timepoints").
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import Stemmer
from pydantic import BaseModel, ConfigDict, field_validator
from rapidfuzz import process
from rapidfuzz.distance import OSA
from wordfreq import top_n_list, zipf_frequency

from .data import load_data
from .errors import AssistantError

EVERYDAY_ZIPF = 3.0  # a word used at least once per million words of English is everyday English
ENGLISH_ZIPF = 2.5  # a word seen this often (about 3 per 10 million words) is a word, not a typo
BASIC_ZIPF = 4.0  # a word used at least 10 times per million words ("first", "dose") is basic English
# A word used at least 100 times per million words ("note", "plan", "sorry"); first names ("Tom") are rarer
COMMON_ZIPF = 5.0
VERB_FORM_ZIPF = 1.5  # an inflected form seen this often (about 3 per 100 million words) exists
_G_DROPPED_MIN = 4  # "doin" and shorter are left alone ("bin" is no "bing")
_ENGLISH_LIST = 30000  # the most frequent English words: about those with a Zipf frequency of 3 and more

__all__ = [
    "AUXILIARIES",
    "CLAUSE_DASH",
    "EMPHASIS",
    "EVERYDAY_ZIPF",
    "INTENSIFIERS",
    "POLITE",
    "QUERIED",
    "QUESTION_WORDS",
    "Speller",
    "Text",
    "Translator",
    "common_word_meant",
    "english_words",
    "fold_spelling",
    "g_dropped",
    "inflections",
    "is_basic_word",
    "is_common_word",
    "is_everyday_compound",
    "is_everyday_word",
    "join_split",
    "negates_word",
    "normalise",
    "phrases_in",
    "quantities",
    "read",
    "spoken_number",
    "spoken_values",
    "stem",
    "vowels_put_back",
    "without_intensifiers",
    "words",
]

_FOLD = str.maketrans(
    {
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-"),
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u00b4`", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
        "\u00d7": " x ",
        # arrows written for a lab going up or down ("LFTs \u2191\u2191", "plt \u2193")
        **dict.fromkeys("\u2191\u2b06", " raised "),
        **dict.fromkeys("\u2193\u2b07", " low "),
        # arrows between values of a series ("T.Bil 1.1 \u2192 1.4 \u2192 1.9"), read as "->" is
        **dict.fromkeys("\u2192\u21d2\u27f6\u2794\u279e", " > "),
        "\u2265": ">",
        "\u2264": "<",
        "\u00b5": "u",  # micro sign: "µmol/L" is "umol/L"
        "\u03bc": "u",  # Greek mu typed for micro
        # Lower-case Cyrillic and Greek letters that look like Latin ones ("ЅОЅ" typed or pasted with a
        # Cyrillic keyboard layout). A small, fixed list: not beta, which clinicians use as itself.
        **dict(zip("абвекмнорстухіјѕһԁԛԝ", "abbekmhopctyxijshdqw", strict=True)),
        **dict(zip("αεικνορτυχ", "aeiknoptux", strict=True)),
    }
)
_COMBINING = re.compile(r"[\u0300-\u036f]")
# Superscript digits, as a lab report pastes a count's unit ("plt 95 x10\u2079/L"): the power, as "x10^9/L" is
# typed (folding alone would glue it to the 10: "x109")
_SUPERSCRIPTS = "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"
_SUPERSCRIPT = re.compile(f"[{_SUPERSCRIPTS}]+")
_SUPERSCRIPT_DIGITS = str.maketrans(_SUPERSCRIPTS, "0123456789")
# An up or down arrow between two values is a trend, as "->" is ("bili 0.5 \u2191 0.9 \u2191 1.6"); beside one
# value it says the value is high or low (_FOLD)
_ARROW_BETWEEN = re.compile(r"(?<=\d)\s*[\u2191\u2b06\u2193\u2b07]\s*(?=\d)")
# A slash with spaces around it between values separates a series of them, as an arrow does ("bili 12 / 15 /
# 24": read as "12 > 15 > 24", not as "12,015,024"); a slash without spaces joins a ratio, a pressure or a
# date ("118/70", "12/03"). So does a dash between three or more values ("bili 1,2 - 1,5 - 1,7"; two are a
# range).
_SPACED_SLASH = re.compile(r"(?<=\d) +/ +(?=\.?\d)")
_DASHED_SERIES = re.compile(r"\d[\d.,]*(?: +- +\d[\d.,]*){2,}")
# Tests named together and their values given together, as a flowsheet pastes them ("ALT/AST/ALP/TB:
# 22/19/66/0.4"): each test beside its own value ("ALT 22, AST 19, ALP 66, TB 0.4"), when there are as many
# values as names. Not a unit ("mg/dL 1.2/1.5" is no pair of tests).
_SLASHED_NAMES = re.compile(
    r"(?<![\w/])([A-Za-z]{2,}(?:/[A-Za-z]{2,})+) *[:=]? *"
    r"(\d+(?:[.,]\d+)?(?: */ *\d+(?:[.,]\d+)?)+)(?![\w/]|[.,]\d)"
)
_UNIT_NAMES = frozenset({"mg", "dl", "ml", "mmol", "umol", "mol", "kg", "min", "hr", "hrs", "day", "days"})


def _paired(match: re.Match[str]) -> str:
    """ "ALT/AST: 22/19" as "ALT 22, AST 19"; as typed when the counts differ or a name is a unit."""
    names, values = match.group(1).split("/"), [v.strip() for v in match.group(2).split("/")]
    if len(names) != len(values) or any(n.lower() in _UNIT_NAMES for n in names):
        return match.group(0)
    return ", ".join(f"{n} {v}" for n, v in zip(names, values, strict=True))


_ACRONYM = re.compile(r"(?<![a-z])(?:[a-z]\.){2,}")
_HYPHENATED_LETTERS = re.compile(r"(?<![a-z0-9])[a-z](?:-[a-z]){2,}(?![a-z0-9])")  # "s-o-s" -> "sos"
# "IT" in capitals before what is given into the spinal fluid is "intrathecal", not the pronoun ("the IT MTX",
# "IT methotrexate", "IT chemo"); read before the text is lower-cased
_INTRATHECAL = re.compile(
    r"(?<![A-Za-z])IT(?= (?:[Mm]ethotrexate|METHOTREXATE|MTX|[Mm]tx|[Cc]hemo|CHEMO|[Cc]ytarabine|[Aa]ra-?[Cc]"
    r"|[Tt]riple|[Hh]ydrocortisone|[Tt]herapy|[Ii]njection|[Dd]ose)\b)"
)
# "GOT" before a value in U/L or beside "GPT" is the aspartate aminotransferase (SGOT), as German and Dutch
# labs print it ("GOT 38 U/l", "GOT/GPT normal", "GPT/GOT"); elsewhere "got" stays the verb ("we got 38
# units"). In any case: a question's meaning does not change with its capitals (tests/test_guardrail.py).
# "ALL" in capitals as the disease, not the word "all", when offered as a choice with another disease in
# capitals ("for ALL or AML", "ALL vs CLL"); not "in ALL patients", "hold ALL doses" (alone, "in ALL?" is left
# as typed: read as the disease it made questions about Ph+ ALL answerable by the indication)
_ALL_DISEASE = re.compile(r"\bALL(?=\s+(?:or|vs|versus)\s+(?:[a-z]+\s+){0,2}[A-Z]{2,4}\b)")
_GOT = re.compile(
    r"(?<![a-z])got(?=\s*[:=(]?\s*\d+(?:[.,]\d+)?\s*(?:i?u|ukat)\s*/\s*l\b|\s*/\s*gpt\b|\s+(?:and|und|&)\s+gpt\b)"
    r"|(?<=gpt/)got(?![a-z])",
    re.IGNORECASE,
)
# Dictated letters: "L F T" -> "LFT" (not the "R B" of "R/R B-ALL")
_SPACED_CAPITALS = re.compile(r"(?<![A-Za-z0-9/-])[A-Z](?: [A-Z])+(?![A-Za-z0-9/-])")
# Dictated with a dot after each letter and a space ("A. N. C. of 0.8"): the letters, spaced (``join_split``)
_DOTTED_LETTERS = re.compile(r"(?<![a-z0-9])[a-z]\.(?: [a-z]\.)+(?= |$)")
# A letter glued by a dot to the word it abbreviates with ("T.Bil", "S.Cr"): two words, as "t bil" is written
_LETTER_DOT_WORD = re.compile(r"(?<![a-z0-9.])([a-z])\.(?=[a-z]{2,})")
# Speech-to-text's spelling of the drug's short name, InO said aloud ("on in oh day fifteen")
_SPOKEN_INO = re.compile(r"(?<![a-z])in oh(?![a-z])")
# A line that ends without punctuation ends a sentence: a message's lines are its items ("3) Mr M: ALT
# 130\nWho can I start?"), and a monograph heading is not part of the sentence under it.
_LINE_END = re.compile(r"(?<=[a-z0-9)%])[ \t]*\n\s*(?=\S)")
_NUMBER_SIGN = re.compile(r"#(?=\s*[a-z])|(?<![a-z])no\.(?=\s*of\b)")  # "# of cycles", "no. of cycles"
# A dash between spaces before a word opens a clause ("ALT 150 - start meropenem?"), kept as the token "~";
# before a number it joins a range ("150 - 400")
CLAUSE_DASH = "~"
_CLAUSE_DASH = re.compile(r"(?<=\S) +-{1,2} +(?=[a-z])")
# A question mark against the word after it ("bili 1.9, ?early VOD. Give D15?", "(?SOS)") marks a finding as
# queried: "query early vod"; it ends no sentence.
QUERIED = "query"
_QUERY_MARK = re.compile(r"(?:(?<=^)|(?<=[\s(\[/,;:]))\?(?=[a-z])")
_INNER_APOSTROPHE = re.compile(r"(?<=[a-z0-9])'(?=[a-z])")
_OTHER = re.compile(r"[^a-z0-9.,;:?!()\[\]{}\"<>=+%~ ]+")
_DECIMAL_POINT = re.compile(r"(?<=\d)\.(?=\d)")
_LEADING_POINT = re.compile(r"(?<![\w.])\.(?=\d)")  # "ANC .7" is 0.7
# Thousands marked with a dot, as much of Europe and Latin America writes a count per microlitre ("neutrofilos
# 2.100/mm3", "plaquetas 189.000/uL"): no count per microlitre has three decimals
_DOT_THOUSANDS = re.compile(
    r"(?<![\d.,])(\d{1,3})\.(\d{3})(?= ?(?:/|per |cells )? ?(?:mm ?\^? ?3|ul|mcl|microl))"
)
# Punctuation said aloud in a dictated message ("platelets forty two thousand comma should we hold question
# mark"); not "period" or "colon", which are also words of their own.
_PUNCT_SAID = {"comma": ",", "question mark": "?", "full stop": ".", "exclamation mark": "!"}
_SPOKEN_PUNCT = re.compile(r"\b(?:" + "|".join(_PUNCT_SAID) + r")\b")
# Thousands grouped the Indian way ("plt 1,80,000/cumm" is 180,000; lakhs are grouped in twos): one number
_INDIAN_GROUPS = re.compile(r"(?<![\d,.])\d{1,2}(?:,\d{2})+,\d{3}(?![\d,])")
# A count in lakhs ("plt 1.9 lakh" is 190,000), as Indian labs and clinicians say it: a lakh is a hundred
# thousand, written or said ("one lakh sixty thousand")
_LAKH = 100_000
_LAKH_WORDS = ("lakh", "lakhs")
_LAKHS = re.compile(r"(?<![\d,.])(\d{1,3}(?:\.\d{1,2})?) ?(?:lakhs?|lacs?)\b")
# "ANC 1,9", "bili 0,5": a decimal comma, as much of Europe types it (not "30,000", nor a list "1,8,15")
_DECIMAL_COMMA = re.compile(r"(?<![\d,.])(\d{1,3}),(\d{1,2})(?!\d|,\d)")
_PUNCT = re.compile(r"""([.,;:?!()\[\]{}"<>=+%~])""")
_DIGIT_LETTER = re.compile(r"(?<=\d)(?=[a-z])|(?<=[a-z])(?=\d)")
# A ward's bay and bed ("7C-3", "5B-03", "bed 6A11"): one token, not "7 c 3" (cycle 3) nor loose values. Not a
# letter that joins numbers ("2x10", "1e9", "21h30"). The hyphen goes first (``_BAY_HYPHEN``).
_BAY = r"\d{1,2}[abcfgi-wyz]"  # "7C", "12B" (rules.yaml's patient_ref spells the bay-and-bed token too)
_BAY_BED = re.compile(_BAY + r"\d{1,3}")  # a whole token
_BAY_HYPHEN = re.compile(rf"(?<![\w.,/-])({_BAY})-(?=\d{{1,3}}(?![\w/-]|[.,]\d))")


# Text-message spellings of time words with a digit for its sound ("plts 2day 190", "2moro"): the word, so
# that the digit is not read as a value (not "b4": "vitamin B4" is a name)
_TEXTSPEAK = re.compile(r"(?<![\w.,])2(day|nite|night|moro|morro|morow|morrow)(?!\w)")
_TEXTSPEAK_WORDS = {"day": "today", "nite": "tonight", "night": "tonight"}


# A temperature by its chart letter ("T 38.3", "T37.9C"): "temp", so that every reading of a temperature
# applies (a body temperature in degrees Celsius; not "T 40 ms" nor "T3 N0")
_CHART_TEMPERATURE = re.compile(
    r"(?<![\w.])t[ \t]*(?=(?:3[5-9]|4[0-2])(?:\.\d+)?(?![\d.])"
    r"(?![ \t]*(?:(?:ms|mg|mcg|min|mins|kg|ml|mmol|umol|iu|u|x)\b|%)))"
)


# A cycle by its chart abbreviation, with its number or ordinal ("Cyc 3 D8", "cyc3", "3rd cyc", "Cx #3"):
# "cycle", so that every reading of a cycle applies (not alone: "cx" is also a cervix or a cancellation,
# "CYC 500 mg" cyclophosphamide)
_CYCLE_SHORT = re.compile(
    r"(?<![\w.])(?:cycl?|cx)[ \t]*(?=#?[ \t]*\d{1,2}(?!\d|[.,]\d))"
    r"|(?<![\w.])(?P<ordinal>(?:\d(?:st|nd|rd|th)|next|last|first|second|third|fourth|fifth)[ \t]+)"
    r"cycl?(?![a-z])"
)
_CYCLES_SHORT = re.compile(r"(?<![\w.])cycs(?![a-z])")


def _cycle_word(match: re.Match[str]) -> str:
    return (match.group("ordinal") or "") + "cycle "


def _textspeak(match: re.Match[str]) -> str:
    return _TEXTSPEAK_WORDS.get(match.group(1), "tomorrow")


def normalise(text: str) -> str:
    """One canonical spelling for questions, passages and data-file phrases alike.

    Lower case; invisible format characters dropped (zero-width space/joiner, soft hyphen: "S\u200bO\u200bS"
    is "sos"); accents, unicode dashes and quotes folded; Latin-looking Cyrillic/Greek letters read as Latin;
    "S.O.S.", "s-o-s" and "S O S" -> "sos"; "T.Bil" -> "t bil"; "can't" -> "cant"; "# of" and "no. of" ->
    "number of"; "?VOD" -> "query vod"; a line break after a word ends a sentence ("."); a spaced dash before
    a word -> "~" (it opens a clause); other hyphens, slashes and symbols -> spaces, arrows between values ->
    ">"; punctuation kept as its own token (it ends clauses); digits split from letters ("4th" -> "4 th",
    "3x" -> "3 x") but decimals kept ("2.5", and "1,9" as 1.9; "1,80,000" and "1.8 lakh" as 180000);
    "cycle three day eight", "day eight" and "grade three" in digits; punctuation said aloud ("comma",
    "question mark") as the mark; "IT methotrexate" -> "intrathecal methotrexate", "GOT 38 U/l" -> "sgot 38
    u l"; "12 / 15", "1,2 - 1,5 - 1,7" and "0.5 \u2191 0.9" as a series ("12 > 15"); "ALT/AST: 22/19" as
    "ALT 22, AST 19"; "2day", "2moro" as the words; "T 38.3" as "temp 38.3"; "Cyc 3" as "cycle 3"; "for
    ALL or AML" as the disease. Whole tokens separated by single spaces.
    """
    text = _GOT.sub("SGOT", _INTRATHECAL.sub("intrathecal", _SLASHED_NAMES.sub(_paired, text)))
    text = _ALL_DISEASE.sub("acute lymphoblastic leukemia", text)
    text = _SPACED_SLASH.sub(" > ", _ARROW_BETWEEN.sub(" > ", text))
    text = _DASHED_SERIES.sub(lambda m: re.sub(r" +- +", " > ", m.group(0)), text)
    text = _SPACED_CAPITALS.sub(lambda m: m.group(0).replace(" ", ""), text)
    text = _SUPERSCRIPT.sub(lambda m: " " + m.group(0).translate(_SUPERSCRIPT_DIGITS), text)
    text = unicodedata.normalize("NFKD", text.translate(_FOLD)).lower().translate(_FOLD)
    text = _TEXTSPEAK.sub(_textspeak, text)
    text = _CHART_TEMPERATURE.sub("temp ", text)
    text = _CYCLES_SHORT.sub("cycles", _CYCLE_SHORT.sub(_cycle_word, text))
    if not text.isascii():  # only non-ASCII text can hold format characters (category Cf)
        text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    text = _COMBINING.sub("", text)
    text = _DOTTED_LETTERS.sub(lambda m: m.group(0).replace(".", ""), text)
    text = _ACRONYM.sub(lambda m: m.group(0).replace(".", ""), text)
    text = _LETTER_DOT_WORD.sub(r"\1 ", text)
    text = _SPOKEN_INO.sub("ino", text)
    text = _HYPHENATED_LETTERS.sub(lambda m: m.group(0).replace("-", ""), text)
    text = _BAY_HYPHEN.sub(r"\1", text)
    text = _INNER_APOSTROPHE.sub("", text)
    text = _QUERY_MARK.sub(QUERIED + " ", text)
    text = _CLAUSE_DASH.sub(f" {CLAUSE_DASH} ", text.replace(CLAUSE_DASH, " "))  # a typed "~" is dropped
    text = _NUMBER_SIGN.sub(" number ", text)
    text = _LINE_END.sub(" . ", text)
    text = _SPOKEN_PUNCT.sub(lambda m: _PUNCT_SAID[m.group(0)], text)
    text = _OTHER.sub(" ", text)
    text = _INDIAN_GROUPS.sub(lambda m: m.group(0).replace(",", ""), text)
    text = _LAKHS.sub(lambda m: f"{round(float(m.group(1)) * _LAKH)}", text)
    text = _DECIMAL_COMMA.sub(r"\1.\2", text)
    text = _LEADING_POINT.sub("0.", text)
    text = _DOT_THOUSANDS.sub(r"\1\2", text)
    text = _DECIMAL_POINT.sub("\x00", text)
    text = _PUNCT.sub(r" \1 ", text).replace("\x00", ".")
    text = " ".join(
        token if _BAY_BED.fullmatch(token) else _DIGIT_LETTER.sub(" ", token) for token in text.split()
    )
    text = _COUNTED_WORD.sub(
        lambda m: f"{m.group(1)} {_UNITS[m.group(2)]} day {_UNITS.get(m.group(3), m.group(3))}", text
    )
    text = _DAY_WORD.sub(lambda m: f"day {_UNITS[m.group(1)]}", text)
    return _GRADE_WORD.sub(lambda m: f"{m.group(1)} {_UNITS[m.group(2)]}", text)


# Adverbs that only add emphasis or politeness: "how does it actually kill", "what dose, please".
EMPHASIS = frozenset(
    {"actually", "really", "just", "basically", "genuinely", "definitely", "exactly", "precisely"}
)
POLITE = frozenset({"kindly", "please", "pls", "plz"})  # before a verb, they make it a request
# The verbs that open a question or follow a question word ("when DO we restart?", "is this ok?")
AUXILIARIES = frozenset(
    {"can", "could", "should", "shall", "do", "does", "did", "is", "are", "was", "were", "will", "would"}
    | {"may", "might", "must", "has", "have", "had"}
)
INTENSIFIERS = EMPHASIS | POLITE
# The words that ask a question ("what about in kids?" asks none after its lead; "and why limit it?" does)
QUESTION_WORDS = frozenset({"what", "whats", "which", "when", "how", "why", "whether", "who", "where"})


def phrases_in(
    tokens: Sequence[str], names: Collection[str], sizes: Sequence[int] = (3, 2)
) -> list[tuple[int, int]]:
    """Where names of several words stand in ``tokens`` ("st johns wort" among the medicines), as (start,
    end) token positions, longest first."""
    return [
        (at, at + size)
        for size in sizes
        for at in range(len(tokens) - size + 1)
        if " ".join(tokens[at : at + size]) in names
    ]


def without_intensifiers(normalised: str) -> str:
    """A normalised text without emphasis words, so that a pattern for "how does it kill" also reads "how
    does it actually kill"."""
    return " ".join(w for w in normalised.split() if w not in INTENSIFIERS)


_CONTRACTED = ("ll", "ve", "re", "d", "s")  # "theyll", "shouldve", "wifes"
_SPELLING = (("ph", "f"), ("th", "t"), ("ae", "e"), ("oe", "e"), ("y", "i"), ("k", "c"))
_DOUBLED = re.compile(r"([a-z])\1+")


def fold_spelling(word: str) -> str:
    """One spelling for the ways languages write the same Greek-derived medical word: "anaphylactic" and
    "anafilactic" both give "anafilactic", "thrombocytopenia" and "trombocitopenia" "trombocitopenia"."""
    for written, said in _SPELLING:
        word = word.replace(written, said)
    return _DOUBLED.sub(r"\1", word)


@dataclass(frozen=True)
class Text:
    """A text as every stage sees it."""

    normalised: str
    tokens: tuple[str, ...]  # words and punctuation, in order
    words: tuple[str, ...]  # the tokens that are words or numbers
    stems: tuple[str, ...]  # one stem per word


_JOINED_MIN = 6  # a word split in two ("plate lets") is this long at least; shorter joins are chance


def join_split(tokens: Sequence[str], targets: Collection[str]) -> list[str]:
    """Words that dictation or a slipped space bar split, as the one word they spell: "plate lets" ->
    "platelets", letters spoken one by one "a l t" -> "alt". Only when the joined word is one of ``targets``
    (the words a stage knows as terms) and, for two words, neither part is one."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        end = i
        while end < len(tokens) and len(tokens[end]) == 1 and tokens[end].isalpha():
            end += 1
        spelled = next(
            (j for j in range(end, i + 1, -1) if "".join(tokens[i:j]) in targets), None
        )  # "u l a s t" (U/L, then AST): the longest run from here that is a term
        if spelled is not None:
            out.append("".join(tokens[i:spelled]))
            i = spelled
            continue
        if i + 1 < len(tokens) and tokens[i].isalpha() and tokens[i + 1].isalpha():
            joined = tokens[i] + tokens[i + 1]
            parts_known = tokens[i] in targets or tokens[i + 1] in targets
            if len(joined) >= _JOINED_MIN and joined in targets and not parts_known:
                out.append(joined)
                i += 2
                continue
        out.append(tokens[i])
        i += 1
    return out


@lru_cache(maxsize=4096)
def read(text: str) -> Text:
    """Read a text once: normalise, tokenise, stem. Memoised (pure)."""
    normalised = normalise(text)
    tokens = tuple(normalised.split())
    found = tuple(t for t in tokens if t[0].isalnum())
    return Text(normalised, tokens, found, tuple(stem(w) for w in found))


_ITEM_LABEL = re.compile(r"\d{1,2}|[ivx]{1,4}|[a-h]")  # "1", "12", "ii", "b"


def _label_value(label: str) -> int | None:
    """Where a bare item label counts from: "3" is 3, "c" is 3 (roman numerals are left to brackets)."""
    if label.isdigit():
        return int(label)
    return ord(label) - ord("a") + 1 if len(label) == 1 and "a" <= label <= "h" else None


def list_markers(tokens: Sequence[str]) -> list[tuple[int, int]]:
    """The labels that open the items of an enumerated list, as token spans: "(1) ... (2) ...", "(a) ...,
    (b) ...", or unbracketed "1) ... 2) ...", "a) ... b) ...". Two at least, so that "(B-ALL)" or one "(i)"
    is no list. Unbracketed labels must count up from the first, one by one, so that "(grade 2)" or "plt 40
    (was 88)" is none. They are what marks a message's items, whether typed on lines of their own or on
    one line (``normalise`` keeps a line break only as a full stop after a word)."""
    bracketed = [
        (i, i + 3)
        for i in range(len(tokens) - 2)
        if tokens[i] == "(" and tokens[i + 2] == ")" and _ITEM_LABEL.fullmatch(tokens[i + 1])
    ]
    if len(bracketed) > 1:
        return bracketed
    bare = [
        (i, _label_value(tokens[i]))
        for i in range(len(tokens) - 1)
        if tokens[i + 1] == ")" and (i == 0 or tokens[i - 1] != "(") and _ITEM_LABEL.fullmatch(tokens[i])
    ]
    run: list[tuple[int, int]] = []
    expected = None
    for i, value in bare:
        if value is not None and value == expected:
            run.append((i, i + 2))
            expected += 1
        elif value == 1 and len(run) < 2:  # a list starts at "1" or "a"
            run, expected = [(i, i + 2)], 2
    return run if len(run) > 1 else []


def words(text: str) -> list[str]:
    """The word tokens of a text ("QT-prolonging" gives "qt", "prolonging")."""
    return list(read(text).words)


@cache
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


@lru_cache(maxsize=16384)
def stem(word: str) -> str:
    """English (Snowball) stem, so "checked" meets "check" and "infusions" meets "infusion"."""
    return _stemmer().stemWord(word)


@lru_cache(maxsize=16384)
def is_everyday_word(word: str) -> bool:
    """True for common English words: they carry no clinical topic the monograph could lack. A comparative
    or superlative of one is one too ("riskier", "safest", "bigger")."""
    if zipf_frequency(word, "en") >= EVERYDAY_ZIPF:
        return True
    # a contraction or possessive typed without its apostrophe ("theyll", "wifes"): the word it is built on
    for ending in _CONTRACTED:
        base = word[: -len(ending)]
        if word.endswith(ending) and len(base) > 1 and zipf_frequency(base, "en") >= EVERYDAY_ZIPF:
            return True
    return any(zipf_frequency(base, "en") >= EVERYDAY_ZIPF for base in _comparative_bases(word))


def is_basic_word(word: str) -> bool:
    """True for the commonest English words; below them a noun names a thing ("penicillin", "latex")."""
    return zipf_frequency(word, "en") >= BASIC_ZIPF


def is_common_word(word: str) -> bool:
    """True for the few hundred commonest English words, which name no person ("Note: ...", "Plan: ...")."""
    return zipf_frequency(word, "en") >= COMMON_ZIPF


# "timepoints" is "time" + "points"; shorter parts join too many words by chance ("quinine")
_COMPOUND_PART_MIN = 4


def is_everyday_compound(word: str) -> bool:
    """True for two everyday words typed as one that English does not use as one word ("timepoints",
    "bloodwork"): no rare term the monograph could lack. A word English has is its own term, however it is
    built ("antifungal" is no "anti" + "fungal")."""
    return not is_english_word(word) and any(
        is_everyday_word(word[:i]) and is_everyday_word(word[i:])
        for i in range(_COMPOUND_PART_MIN, len(word) - _COMPOUND_PART_MIN + 1)
    )


def is_english_word(word: str) -> bool:
    """True for a word English uses at all (about 3 per 10 million words: "vitals"), which is not a typo of
    another English word, however close it is to one ("vials")."""
    return zipf_frequency(word, "en") >= ENGLISH_ZIPF


def _comparative_bases(word: str) -> list[str]:
    """The adjectives a word may be the comparative or superlative of: "riskier" -> "risky"."""
    for ending, y_ending in (("iest", "y"), ("ier", "y"), ("est", ""), ("er", "")):
        if word.endswith(ending) and len(word) > len(ending) + 2:
            base = word[: -len(ending)]
            doubled = [base[:-1]] if len(base) > 2 and base[-1] == base[-2] else []  # "bigger" -> "big"
            return [base + y_ending, *doubled] if y_ending else [base, base + "e", *doubled]
    return []


def g_dropped(word: str) -> str:
    """A word typed without the "g" of its "-ing" ("startin", "givin") as the everyday word it stands for,
    or the word itself."""
    if word.endswith("in") and len(word) > _G_DROPPED_MIN and not is_everyday_word(word):
        full = word + "g"
        if is_everyday_word(full):
            return full
    return word


@lru_cache(maxsize=4096)
def is_verb_form(word: str) -> bool:
    """True when English has "-ed" or "-ing" forms of the word's stem ("predisposes" -> "predisposed"):
    a verb, not the name of a drug or a thing, which has no such forms ("ursodiol", "voriconazole")."""
    base = stem(word)
    # ... and of the word itself, where the stem cuts more than an inflection does ("enumerate" -> "enumer")
    own = (word + "d", word[:-1] + "ing") if word.endswith("e") else (word + "ed", word + "ing")
    # ... with its last consonant doubled ("recurs" -> "recurred", "recurring")
    doubled = (base + base[-1] + "ed", base + base[-1] + "ing") if base and base[-1] not in _VOWELS else ()
    forms = (base + "ed", base + "ing", *own, *doubled)
    return any(zipf_frequency(form, "en") >= VERB_FORM_ZIPF for form in forms)


# Prefixes that negate the word they are put before ("afebrile", "anuric", "nonfebrile", "unremarkable").
_PRIVATIVE_PREFIXES = ("a", "an", "non", "un")


def negates_word(word: str, base: str) -> bool:
    """True when ``word`` is ``base`` with a privative prefix: the opposite of ``base``, not a typo of it."""
    return any(word == prefix + base for prefix in _PRIVATIVE_PREFIXES)


# Numbers written as words, as clinicians count cycles and doses ("two courses", "a third one").
_CARDINALS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "both": 2}
_ORDINAL_WORDS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
}  # fmt: skip


_NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
_NUMBER_WORDS += ["eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen"]
_NUMBER_WORDS += ["nineteen"]
_UNITS = {word: n for n, word in enumerate(_NUMBER_WORDS)} | {"nought": 0, "naught": 0}
_TENS = {word: 10 * n for n, word in enumerate(["twenty", "thirty", "forty", "fifty"], start=2)}
_TENS |= {word: 10 * n for n, word in enumerate(["sixty", "seventy", "eighty", "ninety"], start=6)}
# A cycle and its day in number words are read as digits: "cycle three day fifteen" is "cycle 3 day 15", as
# "C3D15" is (a cycle alone keeps its words: "round three" counts cycles given).
_NUMBER_ALT = "|".join(w for w, n in _UNITS.items() if n)
_COUNTED_WORD = re.compile(rf"\b(cycle|course) ({_NUMBER_ALT}) day ({_NUMBER_ALT}|\d+)\b")
# ... as is a dose day alone, said in a dictated message: "ok for day eight" is "ok for day 8"
_DAY_WORD = re.compile(rf"\bday ({_NUMBER_ALT})\b(?! (?:hundred|thousand|point)\b)")
# ... and so is a grade: "grade three" is "grade 3", as every grade cut-off is written.
_GRADE_WORD = re.compile(r"\b(grade|gr) (zero|one|two|three|four|five)\b")
_SPOKEN = re.compile(
    r"(?:(?:"
    + "|".join([*_UNITS, *_TENS, "hundred", "thousand", *_LAKH_WORDS, "point", "and"])
    + r")(?: |$))+"
)


def spoken_number(text: str) -> tuple[float, int] | None:
    """The number that normalised ``text`` opens with in words, and its length in characters ("twenty two",
    "five hundred", "one point two", "two forty" = 240); None when it opens with none."""
    found = _SPOKEN.match(text)
    if not found:
        return None
    words = found.group(0).split()
    while words and words[-1] in ("and", "point"):
        words.pop()
    if not words or words == ["and"]:
        return None
    total, current, decimals, after_point = 0.0, 0.0, "", False
    for i, word in enumerate(words):
        if after_point:
            if word not in _UNITS or _UNITS[word] > 9:
                break
            decimals += str(_UNITS[word])
        elif word == "point":
            after_point = True
        elif word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            # "two forty", "one fifty": a digit said before tens counts hundreds (platelets "two forty" = 240)
            said_hundreds = i and words[i - 1] in _UNITS and 0 < _UNITS[words[i - 1]] < 10 and current < 10
            current = current * 100 + _TENS[word] if said_hundreds else current + _TENS[word]
        elif word == "hundred":
            current = (current or 1) * 100
        elif word == "thousand":
            total, current = total + (current or 1) * 1000, 0.0
        elif word in _LAKH_WORDS:
            total, current = total + (current or 1) * _LAKH, 0.0
    value = total + current + (float(f"0.{decimals}") if decimals else 0.0)
    return value, len(" ".join(words))


# A number said in words counts as a told value from ten up or with a decimal point ("it is forty", "two
# point one"); below ten it is as often no number at all ("the one I asked about", "those two").
_SPOKEN_VALUE_MIN = 10


def spoken_values(words: Sequence[str]) -> list[tuple[int, int, str]]:
    """The numbers said in words among normalised ``words`` ("sorry i misread it it is forty"): each as its
    (start, end) word positions and its digits ("40"), from ten up or with a decimal point."""
    out: list[tuple[int, int, str]] = []
    i = 0
    while i < len(words):
        rest = " ".join(words[i:]) if words[i] in _UNITS or words[i] in _TENS else ""
        found = spoken_number(rest) if rest else None
        if found is None:
            i += 1
            continue
        value, length = found
        end = i + len(rest[:length].split())
        if value >= _SPOKEN_VALUE_MIN or "point" in words[i:end]:
            out.append((i, end, f"{value:g}"))
        i = end
    return out


# Amounts of time, percentages and intervals in ms, in one unit per dimension, so that "60 min" is "1 hour"
# and "2 weeks" is "14 days". A month counts 30 days: the monograph's only months are "one month".
_PER_UNIT = {
    **dict.fromkeys(["min", "mins", "minute", "minutes"], ("hours", 1 / 60)),
    **dict.fromkeys(["h", "hr", "hrs", "hour", "hours"], ("hours", 1.0)),
    **dict.fromkeys(["day", "days", "d"], ("days", 1.0)),
    **dict.fromkeys(["wk", "wks", "week", "weeks"], ("days", 7.0)),
    **dict.fromkeys(["mo", "mos", "month", "months"], ("days", 30.0)),
    **dict.fromkeys(["%", "percent", "per cent"], ("%", 1.0)),
    **dict.fromkeys(["ms", "msec", "millisecond", "milliseconds"], ("ms", 1.0)),  # a QTc: "more than 500 ms"
    # a multiple of the upper limit of normal: "above 1.5 x ULN", "3 times the ULN"
    **dict.fromkeys(["x uln", "times uln", "x the uln", "times the uln", "fold uln", "uln"], ("x ULN", 1.0)),
}
_AMOUNT = re.compile(
    r"\b(?:(?P<digits>\d+(?:\.\d+)?)|(?P<words>(?:half\s+an?|"
    + "|".join(_NUMBER_WORDS[1:13])
    + r"|half|an?))\s+)\s*(?P<unit>"
    + "|".join(sorted(map(re.escape, _PER_UNIT), key=len, reverse=True))
    + r")(?![a-z0-9])"
)
# What a word before a unit or "times" counts: a number word ("two"), "half (an)", "a", "once", "twice".
_AMOUNT_WORDS = {**_UNITS, "half": 0.5, "half a": 0.5, "half an": 0.5, "a": 1, "an": 1}
_AMOUNT_WORDS |= {"once": 1, "twice": 2, "thrice": 3}
# How often, in times per week: "twice weekly", "3 times a week", "daily", "weekly".
_PER_PERIOD = {"day": 7.0, "daily": 7.0, "week": 1.0, "weekly": 1.0, "month": 0.25, "monthly": 0.25}
_FREQUENCY = re.compile(
    r"\b(?:(?P<times>once|twice|thrice|\d+\s+times|(?:"
    + "|".join(_NUMBER_WORDS[2:8])
    + r")\s+times)\s+(?:a\s+|per\s+|each\s+|every\s+)?)?(?P<period>daily|weekly|monthly|day|week|month)\b"
)


def quantities(text: str) -> dict[tuple[float, str], str]:
    """The amounts of time, the percentages and the multiples of a ULN normalised ``text`` names, each as
    (value, unit) in one unit per dimension ("60 min" and "1 hour" are both (1.0, "hours")), with the words
    that named it."""
    found: dict[tuple[float, str], str] = {}
    spans: list[tuple[int, int]] = []  # frequencies: "3 times a week" names no week-long time
    for match in _FREQUENCY.finditer(text):
        times, period = match.group("times"), match.group("period")
        if times is None and period in ("day", "week", "month"):
            continue  # "a day", "this week": a time, not how often
        count = 1.0 if times is None else _amount(times.split()[0])  # "3 times": 3
        found.setdefault((round(count * _PER_PERIOD[period], 3), "per week"), match.group(0).strip())
        spans.append(match.span())
    for match in _AMOUNT.finditer(text):
        if any(start <= match.start() < end for start, end in spans):
            continue
        number = _amount(match.group("digits") or match.group("words"))
        unit, factor = _PER_UNIT[match.group("unit")]
        found.setdefault((round(number * factor, 3), unit), match.group(0).strip())
    return found


def _amount(said: str) -> float:
    """The number, in digits or words, that an amount or frequency opens with ("2.5", "half an", "twice")."""
    return float(said) if said[0].isdigit() else float(_AMOUNT_WORDS[said])


def cardinal(word: str) -> int:
    """The count a token names ("two", "both", "3"), or 0."""
    if word.isdigit() and len(word) < 3:
        return int(word)
    return _CARDINALS.get(word, 0)


def ordinal_word(word: str) -> int:
    """The position an ordinal word names ("third" -> 3), or 0. Digits with a suffix ("3rd") are two
    tokens after ``read``: "3", "rd"."""
    return _ORDINAL_WORDS.get(word, 0)


def ordinal(n: int) -> str:
    """3 -> "3rd", 13 -> "13th"."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


_INFLECTION_LIST = 500000  # every listed English word, for the inflections of the monograph's words
_PREFIX = 4  # letters an inflection shares with its base before stemming decides


def inflections(base: Iterable[str]) -> frozenset[str]:
    """English words that share a stem with one of ``base`` ("prolonging" for "prolong"), so that a typo of
    an inflection the monograph never uses ("prolongign") is corrected to that inflection."""
    return _inflections(frozenset(base))


@cache
def _inflections(base: frozenset[str]) -> frozenset[str]:
    stems = {stem(w) for w in base}
    prefixes = {w[:_PREFIX] for w in base if len(w) >= _PREFIX}
    candidates = (w for w in top_n_list("en", _INFLECTION_LIST) if w[:_PREFIX] in prefixes)
    return frozenset(
        w
        for w in candidates
        if w.isalpha() and w.isascii() and stem(w) in stems and zipf_frequency(w, "en") >= VERB_FORM_ZIPF
    )


@cache
def english_words() -> frozenset[str]:
    """Everyday English words (letters only), for telling a typo of one ("devleoped") from a rare term."""
    return frozenset(w for w in top_n_list("en", _ENGLISH_LIST) if w.isalpha() and w.isascii())


@cache
def _common_words() -> dict[str, tuple[str, ...]]:
    """Common English words (Zipf >= COMMON_ZIPF, about the 1,500 commonest) by their first letter."""
    by_first: dict[str, list[str]] = {}
    for w in sorted(english_words()):
        if len(w) >= _SWAPPED_MIN and zipf_frequency(w, "en") >= COMMON_ZIPF:
            by_first.setdefault(w[0], []).append(w)
    return {k: tuple(v) for k, v in by_first.items()}


@lru_cache(maxsize=8192)
def common_word_meant(word: str) -> str | None:
    """The common English word one edit from ``word`` (a swap of two neighbouring letters is one edit),
    when ``word`` is no English word itself: "durign" -> "during", "cuase" -> "cause". Only common words,
    with the first letter kept, and below ``_COMMON_TYPO_MIN`` letters only two letters swapped, so that an
    abbreviation or another medicine's short name is not read as one ("posa" is not "post"; callers skip
    the names they know: "blina" is not "blind")."""
    if len(word) < _SWAPPED_MIN or not word.isalpha() or is_english_word(word):
        return None
    near = [
        w
        for w, _, _ in process.extract(
            word, _common_words().get(word[0], ()), scorer=OSA.distance, score_cutoff=1
        )
    ]
    if len(word) < _COMMON_TYPO_MIN:
        near = [w for w in near if sorted(w) == sorted(word)]
    return _likeliest(word, near) if near else None


def _likeliest(word: str, tied: Sequence[str]) -> str:
    """Of known words equally near a typo, one with its letters (two swapped), then the commonest."""
    return max(tied, key=lambda w: (sorted(w) == sorted(word), zipf_frequency(w, "en")))


_COMMON_TYPO_MIN = 6  # shorter words are abbreviations more often than typos ("posa", "picc", "neut") ...
_SWAPPED_MIN = 4  # ... unless two of their letters are swapped ("cuase", "wiht")


_COMPOUND_MIN = 8  # a word this long may be two words typed without a space ("riskfactor")
_PART_MIN = 3  # ... each of at least this many letters ("antiinfectives" -> "anti infectives")
_PREFIX_MIN = 6  # a cut-off word this long is specific enough to stand for one word ("myelosupp")
_PREFIX_CUT = 3  # ... when at least this many letters were cut
_CONSONANTS_MIN = 4  # a word typed without vowels needs this many consonants to name one word ("pltlts")
_VOWELS = frozenset("aeiou")
# First letters that spell the same sound: a typo may hit the first letter only by one of these ("sycles" for
# "cycles").
_SOUND_ALIKE = {"s": "c", "c": "sk", "k": "c", "z": "s"}
_COLLAPSE_MIN = 6  # a shorter word is too near too many others once its doubled letters are merged ("picc")


def _collapse(word: str) -> str:
    """The word with each run of one letter written once ("dubble" -> "duble")."""
    return _DOUBLED.sub(r"\1", word)


def _consonants(word: str) -> str:
    return "".join(c for c in word if c not in _VOWELS)


# Spellings of one sound beyond ``fold_spelling``'s, as a word may be typed by ear ("prolongashun", "enzims"),
# applied in order after it.
_SPELLINGS_OF_A_SOUND = (
    (re.compile(r"(?:tion|sion|shun|tian|cian)"), "xn"),
    (re.compile(r"q|c(?![ei])"), "k"),
    (re.compile(r"c|z"), "s"),
    (re.compile(r"x(?!n)"), "ks"),
    (re.compile(r"(?<=.)h"), ""),
)
_SOUND_MIN = 6  # a shorter word sounds like too many others
_SOUND_LENGTH_GAP = 2  # letters a spelling by ear adds or drops ("enzims" for "enzymes")


def _sound(word: str) -> str:
    """A key that words spelled differently but said alike share: each sound in one spelling, the vowels
    after the first letter left out and each run of one letter written once ("enzims", "enzymes" ->
    "ensms")."""
    word = fold_spelling(word)
    for pattern, spelling in _SPELLINGS_OF_A_SOUND:
        word = pattern.sub(spelling, word)
    return _collapse(word[0] + _consonants(word[1:]))


def _within(word: str, target: str) -> bool:
    """``word`` is ``target`` with some of its vowels left out: its letters in order, only vowels skipped."""
    i = 0
    for letter in target:
        if i < len(word) and word[i] == letter:
            i += 1
        elif letter not in _VOWELS:
            return False
    return i == len(word)


def letters_swapped(word: str, known: Collection[str]) -> str | None:
    """The known word ``word`` is with two neighbouring letters swapped back ("ltfs" -> "lfts", "cylces" ->
    "cycles"), the commonest typo of a fast typist; None when there is none, or more than one."""
    found = {
        swapped
        for i in range(len(word) - 1)
        if word[i] != word[i + 1] and (swapped := word[:i] + word[i + 1] + word[i] + word[i + 2 :]) in known
    }
    return found.pop() if len(found) == 1 else None


def letter_dropped(word: str, known: Collection[str]) -> str | None:
    """The known word ``word`` is with one letter put back ("chils" -> "chills", "fevr" -> "fever"), a typo
    as common as a swap; None when there is none, or more than one."""
    found = {
        typed
        for i in range(len(word) + 1)
        for letter in string.ascii_lowercase
        if (typed := word[:i] + letter + word[i:]) in known
    }
    return found.pop() if len(found) == 1 else None


def vowels_put_back(word: str, targets: Iterable[str]) -> str | None:
    """The target ``word`` may be typed without some of its vowels, as in a text message ("pltlets",
    "blrbn" for "bilirubin"): same first letter, the word's letters in order, only vowels skipped; the
    commonest if several are; none when the word has too few consonants to name one word."""
    if len(_consonants(word)) < _CONSONANTS_MIN:
        return None
    found = [t for t in targets if t[:1] == word[:1] and len(t) > len(word) and _within(word, t)]
    return max(found, key=lambda w: (zipf_frequency(w, "en"), w)) if found else None


class Speller:
    """The known word a misspelt word most likely meant: the closest by edit distance, where swapping two
    neighbouring letters counts as one edit ("ofetn" -> "often", "cyles" -> "cycles").

    ``min_length``: shorter words are never corrected. One edit is allowed, two from ``long_length`` letters
    (None: one edit whatever the length).
    ``compounds``: a word that is two known words typed as one is split ("riskfactor" -> "risk factor").
    ``by_sound``: a word spelled as it sounds is corrected to a known word said alike ("prolongashun"); only
    for a small vocabulary: among all English words too many are said alike ("azoles", "assholes").
    ``same_first_letter``: typos rarely hit the first letter, and requiring it avoids "premedication" ->
    "medication".
    """

    def __init__(
        self,
        known: Iterable[str],
        targets: Iterable[str],
        *,
        min_length: int = 4,
        long_length: int | None = 8,
        same_first_letter: bool = True,
        compounds: bool = False,
        by_sound: bool = False,
    ) -> None:
        self._known = frozenset(known)
        self._min, self._long, self._first = min_length, long_length, same_first_letter
        self._compounds = compounds
        self._by_sound = by_sound
        self._targets: dict[str, list[str]] = {}
        for word in sorted(set(targets)):
            if word.isalpha() and len(word) >= min_length - 1:
                self._targets.setdefault(word[0] if same_first_letter else "", []).append(word)
        # Each target with its doubled letters written once ("occurred" -> "ocured"), to meet a typo
        # that doubles or undoubles a letter ("ocured", "dubble" -> "duble", one edit from "double")
        self._collapsed = {
            first: {_collapse(t): t for t in reversed(pool)} for first, pool in self._targets.items()
        }
        self.correct = lru_cache(maxsize=8192)(self._correct)
        self._sounds: dict[str, dict[str, list[str]]] = {}

    def _said_alike(self, first: str) -> dict[str, list[str]]:
        """The targets beginning with ``first`` by their sound key, built when first needed: most questions
        have no word spelled by ear."""
        if first not in self._sounds:
            keyed: dict[str, list[str]] = {}
            for target in self._targets.get(first, ()):
                if len(target) >= _SOUND_MIN - _SOUND_LENGTH_GAP:
                    keyed.setdefault(_sound(target), []).append(target)
            self._sounds[first] = keyed
        return self._sounds[first]

    def _correct(self, word: str) -> str:
        if word in self._known or len(word) < self._min or len(word) > 40 or not word.isalpha():
            return word
        limit = 2 if self._long is not None and len(word) >= self._long else 1
        pool = [
            t
            for t in self._targets.get(word[0] if self._first else "", ())
            if abs(len(t) - len(word)) <= limit
        ]
        near = process.extract(word, pool, scorer=OSA.distance, score_cutoff=limit, limit=None)
        if not near and len(word) >= _COLLAPSE_MIN:
            # A letter doubled that is single, or the other way round, costs no edit ("dubble" is one
            # edit from "double" once "bb" is read as "b"; "ocured" from "occurred"); one more edit at most
            collapsed = self._collapsed.get(word[0] if self._first else "", {})
            near = [
                (collapsed[c], d, i)
                for c, d, i in process.extract(
                    _collapse(word), list(collapsed), scorer=OSA.distance, score_cutoff=1, limit=None
                )
            ]
        if not near and self._first:
            # The first letter swapped for one that sounds the same, the rest as typed ("sycles" -> "cycles")
            near = [
                (alike, 1, 0)
                for letter in _SOUND_ALIKE.get(word[0], "")
                if (alike := letter + word[1:]) in self._targets.get(letter, ())
            ]
        key = _sound(word) if not near and self._by_sound and len(word) >= _SOUND_MIN else ""
        if len(key) >= _CONSONANTS_MIN:
            # Spelled as it sounds ("prolongashun", "enzims"): a known word said alike, of about its length
            said = self._said_alike(word[0] if self._first else "").get(key, ())
            near = [(t, 0, 0) for t in said if abs(len(t) - len(word)) <= _SOUND_LENGTH_GAP]
        if near:
            # Of the words equally near, one with the same letters (two swapped: "cuase" is "cause", not
            # "case"), then the one written most often ("childen": "children", not "childe")
            closest = min(distance for _, distance, _ in near)
            tied = [choice for choice, distance, _ in near if distance == closest]
            return _likeliest(word, tied)
        # Typed without its vowels, as in a text message ("pltlets", "drpping", "monitring"): a known word
        # that is the word with vowels put back (the commonest, if several are)
        unvowelled = vowels_put_back(word, self._targets.get(word[0] if self._first else "", ()))
        if unvowelled:
            return unvowelled
        if len(word) < _PREFIX_MIN:
            return word
        # Clinicians shorten long words by cutting them ("myelosupp", "thrombocytop"): a word that begins
        # exactly one known word that is clearly longer stands for it.
        extended = [
            t
            for t in self._targets.get(word[0] if self._first else "", ())
            if t.startswith(word) and len(t) >= len(word) + _PREFIX_CUT
        ]
        return extended[0] if len(extended) == 1 else self._split(word)

    def _split(self, word: str) -> str:
        """Two known words typed as one ("riskfactor", "antiinfectives") as the two words, or the word."""
        if not self._compounds or len(word) < _COMPOUND_MIN:
            return word
        for cut in range(_PART_MIN, len(word) - _PART_MIN + 1):
            head, tail = word[:cut], word[cut:]
            if head in self._known and tail in self._known:
                return f"{head} {tail}"
        return word


# Chinese and Japanese script: words are written without spaces, so a term is found anywhere in the text
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")
_FOREIGN_MIN = {True: 2, False: 3}  # shortest term, by script (CJK or not): shorter ones hide in other words


def _unaccented(text: str) -> str:
    """The text with accents dropped and apostrophes made straight, nothing else changed ("fièvre" ->
    "fievre"; case, lines and Chinese kept)."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFC", _COMBINING.sub("", unicodedata.normalize("NFKD", text)))
    return text.replace("\u2019", "'")


class Languages(BaseModel):
    """``corpus/languages.yaml``: foreign clinical terms by the English they say, and by language."""

    model_config = ConfigDict(extra="forbid")
    source: str
    day_letters: list[str] = []
    terms: dict[str, dict[str, list[str]]]

    @field_validator("terms")
    @classmethod
    def _usable(cls, terms: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, list[str]]]:
        wrong = [
            f"{term!r} ({why})"
            for by_language in terms.values()
            for forms in by_language.values()
            for term in forms
            if (why := Translator.check_term(term))
        ]
        if wrong:
            raise ValueError(f"unusable terms: {', '.join(wrong)}")
        return terms


def _trie_pattern(terms: Iterable[str]) -> str:
    """A regular expression matching any of ``terms`` (a space matches any run of spaces), built as a trie:
    where two terms share a start it is read once, and a longer term is tried before a shorter one."""
    trie: dict = {}
    for term in terms:
        node = trie
        for char in term:
            node = node.setdefault(char, {})
        node[""] = {}

    def branch(node: dict) -> str:
        alternatives = [
            (r"\s+" if char == " " else re.escape(char)) + branch(child)
            for char, child in sorted(node.items())
            if char
        ]
        if not alternatives:
            return ""
        body = alternatives[0] if len(alternatives) == 1 else f"(?:{'|'.join(alternatives)})"
        return f"(?:{body})?" if "" in node else body

    return branch(trie)


class Translator:
    """Clinical words of other languages in English, before any stage reads a message: staff write
    "plaquettes 35, on suspend ?" or "血小板 45，要不要暂停？" to an English-only reader.

    ``terms``: each English phrase with the foreign words and phrases that say it (``corpus/languages.yaml``).
    ``day_letters``: a letter written for "day" before a cycle day ("J8" in French).
    A message with none of them is returned unchanged; otherwise accents are dropped and each term is
    replaced by its English (whole words in Latin script, anywhere in Chinese or Japanese).
    """

    def __init__(self, terms: Mapping[str, Iterable[str]], day_letters: Iterable[str] = ()) -> None:
        english: dict[str, str] = {}
        for target, forms in terms.items():
            for form in forms:
                english.setdefault(" ".join(_unaccented(form).lower().split()), target)
        self._english = english
        # One pattern branching letter by letter, longer terms first ("choc anaphylactique" before "choc"): a
        # list of ~3,500 alternatives would be tried one by one at every position of every message
        latin = _trie_pattern(t for t in english if not _CJK.search(t))
        cjk = _trie_pattern(t for t in english if _CJK.search(t))
        days = "|".join(re.escape(d) for d in day_letters)
        patterns = [
            *([rf"(?<![^\W\d_])(?:{latin})(?![^\W\d_])"] if latin else []),
            *([cjk] if cjk else []),
            *([rf"(?<![^\W_])(?:{days})(?=\d)"] if days else []),
        ]
        self._days = frozenset(d.lower() for d in day_letters)
        self._pattern = re.compile("|".join(patterns) or "(?!)", re.IGNORECASE)

    @classmethod
    def from_file(cls, path: Path, error: type[AssistantError]) -> Translator:
        """Read ``corpus/languages.yaml`` (a wrong file raises ``error`` naming it)."""
        data = load_data(path, Languages, error)
        terms: dict[str, list[str]] = {}
        for target, by_language in data.terms.items():
            terms[target] = [form for forms in by_language.values() for form in forms]
        return cls(terms, data.day_letters)

    @staticmethod
    def check_term(term: str) -> str | None:
        """Why a foreign term cannot be used, or None: an English word ("normal") would turn English text
        into something else, and a very short term hides inside other words."""
        folded = " ".join(_unaccented(term).lower().split())
        if folded != term:
            return "write it in lower case without accents"
        if len(term) < _FOREIGN_MIN[bool(_CJK.search(term))]:
            return "too short"
        if " " not in term and is_everyday_word(term):
            return "also an everyday English word"
        return None

    def _said(self, match: re.Match[str]) -> str:
        found = " ".join(match.group(0).lower().split())
        if found in self._days:
            return "day "
        # Chinese and Japanese terms stand between other characters; a Latin-script one between spaces
        # already, which are kept as typed (a table's columns are lined up with them)
        return f" {self._english[found]} " if _CJK.search(found) else self._english[found]

    def english(self, text: str) -> str:
        """``text`` with every foreign term in English (see the class)."""
        folded = _unaccented(text)
        if not self._pattern.search(folded):
            return text
        return self._pattern.sub(self._said, folded)
