"""Reading one text: the clinical findings it states (with status, whose they are, severity and lab values),
whether it asks for a treatment decision, and whether it asks about the rules themselves.

Why separate: this is the clinical-language part of the guardrail (typo correction, masked phrases, clause
boundaries, negation scope over lists, near-pairs such as "ALT ... 3x ULN", lab values, signs that together
suggest SOS, findings about another patient or another product). It says what a text says and nothing about
which rules fire; ``engine`` decides that from the readings of every user turn.
"""

from __future__ import annotations

import itertools
import re
from bisect import bisect_left
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache, partial
from itertools import pairwise
from typing import Literal

from rapidfuzz import process
from rapidfuzz.distance import OSA

from ..corpus import Corpus
from ..text import (
    AUXILIARIES,
    CLAUSE_DASH,
    QUERIED,
    cardinal,
    common_word_meant,
    fold_spelling,
    is_basic_word,
    is_english_word,
    is_everyday_word,
    is_verb_form,
    join_split,
    letter_dropped,
    letters_swapped,
    list_markers,
    negates_word,
    normalise,
    ordinal,
    ordinal_word,
    spoken_values,
    stem,
    vowels_put_back,
)
from .labs import LabLimits, LabReader
from .matching import Boundaries, Doc, Span, Terms
from .schema import RulesFile, compile_condition, compile_group

_FULL_STOPS = frozenset({".", "!", "?", ";"})  # what ends a sentence, not a clause
_RELATIVE_PRONOUNS = frozenset({"who", "whom", "whose", "which"})  # opening a relative clause after a comma
_LIST_OPENERS = _FULL_STOPS | {":", "-"}  # before each item of a list of patients ("Day unit: Bed 1: ...")
_POLAR = frozenset({"can", "could", "should", "shall", "do", "may"})  # "do we ...?", "can I ...?"
_PERSONAL = frozenset({"he", "she", "him", "her", "his", "hers", "hes", "shes"})  # one patient, pointed at
_LISTING = frozenset({"and", "&", "+"})  # joins the patients a question names
_STEMMED_MIN = 4  # a sign's word this long is read in its "-ing" form too ("rigoring" for "rigor")

# "retracted": negated by a cue that withdraws a diagnosis ("SOS ruled out", "VOD excluded"), which ends the
# condition in a conversation; a plain negation ("no signs of SOS") may only mean it has resolved.
# "other": about another patient or a reaction to another product; never this patient's finding.
# "conditional": the rule's own condition, asked about ("what should I do if SOS occurs?"); it sets the topic
# of a decision asked in the same breath or later, but is never a finding of this patient.
Status = Literal["present", "negated", "retracted", "hypothetical", "conditional", "other"]
MAX_FUZZY_LENGTH = 40  # no medical word is longer; bounds the work on junk input
MASK = "_"  # stands for a masked word; never produced by ``normalise``
_NOWHERE = Span(0, 0)
_NOT_HELD = frozenset({"without", "no", "never", "not", "nothing", "didnt"})  # "without any InO delay"
_NOT_HELD_WINDOW = 3  # tokens before the hold word
_HELD_SUBJECT = 2  # tokens from another product's name to a hold it is the subject of ("dasatinib was held")
_HELD_FOR_REACH = 4  # tokens after a hold word that may say what it was for ("held D8 for it")
_BACK = frozenset({"it", "them", "that", "this", "those", "these"})  # words that point back to a finding
_POINTING = frozenset({"it", "them"})  # a pronoun standing for a product named before
_GIVEN_VERBS = frozenset({"done", "had", "completed", "received", "finished", "got"})  # "she's done two"
_RECEIVERS = frozenset({"she", "shes", "he", "hes", "they", "theyve", "pt", "patient"})  # "shes": "she's"
# "a third?", "the 4th", "this is actually his 3rd": an ordinal whose noun is left out
_ELIDED_DETERMINERS = frozenset({"a", "the", "his", "her", "their", "its", "this"})
_DATED_BY = frozenset({"on", "by", "until", "till", "from", "since"})  # "given on the 3rd": a date
_NEEDING = frozenset({"need", "needing", "require", "requiring", "receive", "get", "be"})  # "enough to need"
_PUNCTUATION = frozenset('.,;:?!()[]{}"<>=+%')
_NARRATIVE_WORDS = 12  # words (not times or numbers) from an infusion's start to a symptom told after it
# A timeline starts an infusion before the symptom: "Besponsa started 09:30", "ino running", "30 min in".
_INFUSION_EVENTS = frozenset({"started", "running", "began", "begun", "commenced", "hung", "in", "finished"})
_STARTED = frozenset({"started", "running", "began", "begun", "commenced", "hung"})
# ... or ends with it given: "ino given; 40 min later chills" (the monograph: "during or after infusion")
_GIVEN_EVENTS = frozenset({"given", "administered", "completed", "done"})
_DAY_CODE_TOKENS = 4  # a cycle-day code with its cycle: "c 1 d 8"
# Words that, beside our drug, say it is being given now; and symptom words too vague to be a reaction alone.
_GIVEN_NOW = frozenset({"now", "today", "getting", "receiving", "infusing", "hanging", "hung", "during"})
_UNDER_WAY = _INFUSION_EVENTS | _GIVEN_NOW
# The day a decision is for, told after its word ("Vincristine due today", "ok tomorrow?")
_DAYS_NAMED = frozenset({"today", "tomorrow", "tonight", "tmrw", "tmr", "tdy"})
# Words beside our drug that say it was given earlier the same day ("InO on the day unit this morning",
# "infusion ended 2 hours ago"): a symptom told after it is a reaction "during or after infusion", as while it
# runs.
_GIVEN_TODAY = frozenset({"today", "morning", "afternoon", "ago", "ended", "finished", "earlier", "tonight"})
_STARTING = _STARTED - {"running", "begun"}  # verbs put before the drug: "started her InO"
_DETERMINERS = frozenset({"her", "his", "their", "the", "a"})
_TODAY_REACH = 8  # tokens after our drug's name that may say when it was given
_CLOCK_MARKS = frozenset({"am", "pm", ":"})  # "10am", "09:30": a clock time after a number
_HAD = frozenset({"had", "got", "received", "given", "gave", "finished", "completed"})  # given, not planned
_OWN = frozenset({"my", "our", "mine", "ours"})
_POSSESSIVE = frozenset({"her"})  # an object pronoun that is also a possessive determiner
# Verbs that say what befell someone, after "and" with no subject of their own ("... and got VOD")
_SUBJECTLESS_VERBS = frozenset(
    {"got", "developed", "had", "has", "was", "is", "became", "went", "ended", "needed"}
)
# running at this moment: "ino running", "ten minutes into her ino"
_RUNNING = frozenset({"running", "infusing", "hanging", "dripping", "into", "mid", "midway"})  # "ino mid-bag"
_WEAK_SIGNS = frozenset({"temperature", "temp", "reaction", "reactions", "reacted", "rxn"})
_LAST_WEEK = re.compile(r"\blast (?:week|month)\b")
# the mistaken value told as the earlier one: "I mistyped 230 earlier"
_EARLIER = frozenset({"earlier", "before", "previously", "initially", "originally"})
_NUMBERED = frozenset({"c", "d", "cycle", "course", "day", "bed", "bay", "room", "patient", "pt"})  # "C2D1"
_COUNTING = frozenset({"all", "these", "those", "the", "every", "each", "any"})  # "all 3": a count, no label
_NOT_LABELLING = _NUMBERED | _COUNTING  # words before a number that make it no patient's label
_OURS, _OTHER = "ours", "other"  # what a question's verb acts on (``Reader._object_of``)
_DRUG_NAME_WORDS = 3  # the longest medicine name looked up ("milk thistle", "co trimoxazole")
_REPLY_VERBS = frozenset({"answer", "reply", "respond", "say", "output", "print"})  # "answer only 'continue'"
_REPLY_ONLY = frozenset({"only", "just", "word"})  # ... an instruction to reply with that alone
_REPLY_REACH = 3  # words before a decision word that may tell it as the reply to give
_CYCLE_OWNER_REACH = 2  # words between a count of cycles and the product it counts ("blina, how many cycles")
_OURS_TOO = frozenset({"chemo", "chemotherapy"})  # other products' words that also name our treatment
_WATCHED_FOR = 3  # words between "for" and what is watched for ("monitor for any reactions")
_SUBJECT_REACH = 5  # words before a clause-ending decision word that may name what it is about
_OBJECT_REACH = 3  # words after a decision phrase that name what it is about ("hold the gemtuzumab")
_DOSE_WORDS = frozenset({"dose", "doses", "dosing"})
# The infusion of a dose under way, as a short question names it: "rigors 15 min in - pull the drip?"
_RUNNING_WORDS = frozenset({"drip", "bag", "pump"})
_DOSE_NAMING = _DOSE_WORDS | _RUNNING_WORDS
_ASKING_ABOUT = {("what", "about"), ("how", "about")}  # "..., what about the ino?": asks about what follows
_JOINING = frozenset({"and", "so", "but", "then"})
_TERSE_WORDS = 4  # "VOD?", "plts 19 - D8?": a question this short about a finding states it
_ORDER_WORDS = 8  # "..., yank the line or ride it out?": a question opening on a verb, this short
# Words English also inflects as verbs ("the" -> "thed" in its word counts, "she" -> "shed") that are no
# order: the closed classes of determiners, pronouns and conjunctions.
_NOT_VERBS = frozenset(
    ["the", "a", "an", "this", "that", "these", "those", "her", "his", "their", "she", "he", "they", "it",
     "and", "or", "but", "so", "more", "most", "still", "any", "some", "no", "not",
     # ... and the tags that ask to be agreed with ("SOS and VOD are the same, right?")
     "right", "correct", "true", "yes", "yeah", "surely",
     # ... and a judgement of worth, said of what the sentence named ("ursodiol for raised LFTs - worth it?")
     "worth"]
)  # fmt: skip
# ... and what may follow an order's verb besides verbs and our dose: those words, and its particles ("switch
# off", "ride it out")
_ORDER_FILLERS = _NOT_VERBS | frozenset(
    ["off", "on", "out", "back", "up", "down", "in", "to", "through", "over", "away"]
)
_NARRATIVE_REACH = 25  # tokens after a reaction within which a sentence may tell what followed it
# Words after a severity adjective that do not name another thing it could describe.
_FUNCTION_WORDS = frozenset(
    [
        "and",
        "or",
        "with",
        "to",
        "in",
        "the",
        "a",
        "an",
        "during",
        "after",
        "before",
        "at",
        "on",
        "from",
        "since",
        "following",
        "of",
        "for",
        "while",
        "was",
        "is",
        "were",
        "it",
        "this",
        "that",
        "reaction",
        "reactions",
        "infusion",
        # prepositions and adverbs that name nothing: "now grade 3 per the reg", "grade 3 according to ICU"
        "per",
        "by",
        "as",
        "according",
        "now",
        "then",
        "so",
        "also",
        "too",
        "actually",
        "apparently",
        "officially",
        "overall",
        "really",
        "probably",
        "likely",
        "i",
        "we",
        "he",
        "she",
        "they",
        # the reaction itself, said again: "and if it's a severe one?"
        "one",
        "ones",
    ]
)


@dataclass(frozen=True)
class Mention:
    """A finding as one text states it, where, and (for lab values and signs) how it was read."""

    condition: str
    words: str
    status: Status
    span: Span = _NOWHERE
    analyte: str = ""  # the lab test it is about ("alt", "platelets"), or "" for the condition in general
    reason: str = ""
    clears: bool = True  # a normal statement ends earlier abnormal ones (of its test, or all when general)
    # Stated as this patient's finding: in a statement ("VOD confirmed."), a lab value, or a question that
    # points at a patient ("her platelets are 20, ok?"). "What percentage of patients get an infusion
    # reaction?" mentions a reaction without stating one.
    stated: bool = True
    resume: bool = False  # a recovery phrase ("LFTs back to normal"): see Guardrail._findings
    # A reaction told resolved in a sentence naming its treatment day ("chills during D1 ino, resolved ..."):
    # that day. A later question about another day ("D8 tomorrow - give?") is about a later dose.
    resolved_on: str = ""
    # Told as a suspicion ("?SOS", "VOD suspected", "possible VOD"): a later "no SOS" rules it out.
    suspected: bool = False
    # A reaction told past and resolved, read as no current one ("reacted last week, settled"): a severity
    # told in a later turn makes it present again ("actually it was grade 3"), as a severe reaction is
    # permanent.
    settled_before: bool = False


@dataclass(frozen=True)
class Reading:
    """What one text says."""

    mentions: tuple[Mention, ...]
    intent: tuple[str, ...]  # decision phrases ("continue", "hold")
    asks: tuple[str, ...]  # the text asks something ("?", "whether", "should")
    informational: tuple[str, ...]  # it asks for facts ("what are the risk factors", "how often")
    severe: tuple[str, ...]  # severity words that describe an infusion reaction stated in this text
    free_severe: tuple[str, ...]  # severity words of a text that states no finding ("it was grade 3")
    # (actions asked about, trigger words, the conditions it is about: none named is every condition)
    criteria: tuple[frozenset[str], tuple[str, ...], frozenset[str]] | None
    criteria_back: bool  # ... asked of what was told before ("is that a reason to stop it for good?")
    never_ours: bool  # the patient is said never to have had our drug ("she has never had ino")
    # Halves of `near` conditions, for a condition split across turns ("Which liver tests are done?" then
    # "And if they are abnormal?"): the first subject word per condition, and the qualifiers found.
    subjects: dict[str, str]
    qualifiers: tuple[Mention, ...]
    patient: str = ""  # the patient it names ("bed 5"), when it names one
    foreign: tuple[str, ...] = ()  # rare words naming something else ("defibrotide", "csf")
    resumes: bool = False  # it asks to resume or restart ("resume", "restart", "again")
    observes: tuple[str, ...] = ()  # it asks only how long to watch the patient ("how long do we observe?")
    # The conditions it says our treatment was held for ("C2D1 was delayed a week for counts": cytopenia).
    held: frozenset[str] = frozenset()
    # It tells a hold with no finding to say what for ("held D8"): the hold is for what the turn before told.
    held_alone: bool = False
    switches_patient: bool = False  # "different pt now": what came before is another patient
    own_product: bool = False  # it names Besponsa, a dose, a cycle or an infusion
    other_decision: bool = False  # its only decision phrases are about another product ("continue blina?")
    # Every sentence it asks in acts on something other than our treatment ("ANC 0.7 on InO. Start G-CSF?").
    asks_other: bool = False
    # Our infusion is under way: "pt getting ino now, 20 min in", "Besponsa C1D1 today".
    infusing: bool = False
    # Counting cycles: the most cycles it says were given ("completed 2 cycles", "on C2D15": 2), and the
    # words asking for one more ("one more", "another"), so "2 cycles" then "can we do one more?" is a 3rd.
    cycles_given: int = 0
    more_asked: str = ""
    # A correction ("sorry typo, it's 0.9") and the numbers it gives that no lab value here was read from.
    corrects: bool = False
    loose_numbers: tuple[str, ...] = ()
    # ... the token where its first correction starts (-1: none), and the loose numbers told after it that
    # it does not deny ("plt 230 - no wait, that was last week's. Today's is 83": 83; not "15, not 150")
    corrected_at: int = -1
    restated: tuple[str, ...] = ()
    # It names another product and denies ours ("the infusion was the rituximab, not Besponsa"): the token
    # where that denial ends (-1: none). Reactions told before it, here or in earlier turns, are not ours.
    disowned_at: int = -1
    # A sentence that tells an earlier reaction resolved without naming it ("That was 3 weeks ago and never
    # recurred"): the mild reactions of earlier turns are over.
    resolves_earlier: bool = False
    # A retraction that names nothing before it ("hepatology ruled it out", "wait - ruled out on doppler"):
    # it takes back what an earlier turn told (see Guardrail._retracted_back).
    retracts_back: bool = False
    calls_mild: bool = False  # it says a reaction was mild ("mild", "grade 1", "not severe")
    days_named: tuple[str, ...] = ()  # the treatment days it names ("D8 tomorrow": "d 8")
    cycle_named: int = 0  # the highest cycle it names by number ("cycle 2", "C2D8"): 2
    # A text about several named patients ("Bed 2: plt 35. Bed 5: plt 260."): its findings as read for each
    # of them, so that a later "And bed 2?" has bed 2's own.
    patients: tuple[tuple[str, tuple[Mention, ...]], ...] = ()
    asks_every: bool = False  # it asks about every patient it names ("bed 2 and bed 3 - hold both?")
    # The unit (as its factor) each test's values are given in here: "bili 70" is umol/L, so "now 18" is too.
    scales: dict[str, float] = field(default_factory=dict)

    def names(self, patient: str) -> bool:
        return patient == self.patient or any(name == patient for name, _ in self.patients)

    def as_patient(self, patient: str) -> Reading:
        """This text read for one of the patients it names."""
        for name, mentions in self.patients:
            if name == patient:
                return replace(self, patient=name, mentions=mentions)
        return self

    def as_patients(self, names: Sequence[str]) -> Reading:
        """This text read for several of the patients it names: the findings of each."""
        chosen = [m for name, mentions in self.patients if name in names for m in mentions]
        if not chosen:
            return self
        # one patient's normal count does not take back another's low one ("Bed 3 plt 45, bed 4 plt 210")
        found = {m.condition for m in chosen if m.status == "present"}
        kept = [
            m for m in chosen if m.status != "other" and not (m.status == "negated" and m.condition in found)
        ]
        kept += [m for m in chosen if m.status == "other" and not any(k.span == m.span for k in kept)]
        return replace(self, mentions=tuple(dict.fromkeys(kept)))

    def found(self, condition: str, statuses: frozenset[Status]) -> list[str]:
        return [m.words for m in self.mentions if m.condition == condition and m.status in statuses]

    def retracts(self, condition: str, words: str | None = None) -> bool:
        """It takes the condition back: "VOD ruled out"; or a correction denies it ("I re-read the notes:
        the Besponsa infusion had no reaction at all"), or moves it to another time or person ("sorry - no,
        the 2021 VOD was after busulfan conditioning"). A diagnosis said not to have been one takes back
        only what was told in its words (``words``): "it wasn't anaphylaxis, just a mild flush" leaves
        "reaction during InO"."""
        taken_back = {"retracted", "negated", "other"} if self.corrects else {"retracted"}
        return any(
            m.condition == condition
            and m.status in taken_back
            and (words is None or m.reason != DENIED or m.words == words)
            for m in self.mentions
        )

    def denies(self, words: str) -> bool:
        """It says the diagnosis in ``words`` was not one ("it wasn't anaphylaxis")."""
        return any(m.reason == DENIED and m.words == words for m in self.mentions)

    @property
    def states_finding(self) -> bool:
        return any(m.status != "other" for m in self.mentions)


CYCLE_CONDITION = "cycle_limit"
_SHORTEST_STEM = 3  # the fewest letters a shortened product name keeps ("posa", "vanc", "mero")
_DATE_ORDINALS = 10  # "the 14th" with its noun left out is a date; a cycle so late is not what is meant
DENIED = "said not to have been the diagnosis"  # the reason of a diagnosis denied in the past tense
_JOINERS = frozenset({"and", "or", "plus", "&"})  # one verb's objects listed together
# A question answered by its writer: "VOD? Nope - Doppler clean"
_ANSWERED_NO = frozenset({"no", "nope", "nah", "negative"})
_AFTER_ANSWER = frozenset({",", ".", ";", ":", "!"})  # or a clause dash (``Doc.dashed``)
# An amount before what it is an amount of: "50 % of", "half of", "2 mg of"
_AMOUNT_OF = re.compile(
    r"(?:\d+(?:\.\d+)? (?:% |percent |per cent |mg |g |ml |units? )?|half |a third |a quarter )of "
)
_AMOUNT_WORDS = 4
_SHORT_QUESTION = 3  # words of a question asked after a clause dash ("... - severe? no")
# the verbs that open a question ("is aspirin still ok?"); not those that open a statement as often ("had
# aspirin yesterday")
_PRESENT_AUXILIARIES = AUXILIARIES - {"did", "was", "were", "might", "has", "have", "had"}
# Prepositions that attach a symptom to what caused it, and how many tokens on either side they may stand.
_ATTACHING = frozenset({"during", "with", "after", "from", "to", "following", "on", "under", "via", "post"})
_ATTACHMENT_REACH = 4
# A regimen combined with ours ("cycle 6 of mini-hyper-CVD + low-dose ino"): the joining words, and how many
# words the other regimen's name and ours may each take.
_COMBINING = frozenset({"+", "plus", "with"})
_REGIMEN_WORDS = 4
# Words around a finding that tell it as a suspicion: "?SOS", "query VOD", "possible VOD", "VOD suspected"
_SUSPECTING = frozenset(
    {QUERIED, "?", "suspected", "suspect", "suspicion", "possible", "possibly", "probable", "presumed"}
    | {"exclude", "excluding", "ddx"}  # "doppler requested to exclude VOD": a suspicion to be tested
)
# The attaching words that put a finding on what follows as its cause ("VOD with gemtuzumab", "VOD after
# busulfan"; not "under", which names a treatment), and words that tell it is history ("before", "in 2020",
# "resolved"): see Reader._others_in_past.
_CAUSED = _ATTACHING - {"during", "to", "under", "via"}
_HISTORY = frozenset(
    {"before", "previously", "history", "hx", "ago", "year", "years", "resolved", "recovered"}
)
_YEAR = re.compile(r"(?:19|20)\d\d")
_WHICH = frozenset({"which", "what"})  # a question word before the object it asks for ("which handout")
_HOW_MUCH = frozenset({"many", "much"})  # ... or two: "how many units of platelets should we give?"
_WHICH_PATIENTS = frozenset({"one", "ones", "patient", "patients", "pt", "pts", "bed", "beds", "of", "them"})
# "ANC 0.5 after ino", "or wait until the ino cycle is finished?": when, not what
_SINCE_OURS = frozenset({"after", "following", "post", "since", "until", "till", "til"})
_SINCE_DETERMINERS = (_DETERMINERS - {"a"}) | {"this", "that"}  # "until the / this ino cycle"
_DECIMAL = re.compile(r"\d+(?:\.\d+)?")
_CYCLE_NUMBER = re.compile(r"(?:^| )(?:c|cycle) (\d{1,2})(?= |$)")
# Question words: a text with one asks when the rules apply ("bed 3, C1D8: when do we hold?"), and a last
# sentence opening with one is a question typed without its mark ("what are the reactions like with ino").
_WH_WORDS = frozenset({"when", "which", "what", "whats", "whenever", "how"})
_QUESTION_OPENERS = AUXILIARIES | _WH_WORDS
_CLAUSE_MARKS = frozenset({",", "-", CLAUSE_DASH, ":", ";"})
_WE = frozenset({"we", "i"})  # who a question of what to do asks about: "do we", "should i"
_SUPPOSING = frozenset({"if", "unless", "whether", "once", "until", "assuming", "provided"})
_SUPPOSING_REACH = 4  # tokens before a denial that may suppose it ("if it is not VOD")
# Words that open a clause giving a reason or a time: what follows them is not the subject of the clause
# before ("a 3rd cycle of ino because the donor isn't ready": the cycle is our patient's, not the donor's).
_SUBORDINATORS = frozenset({"because", "cos", "coz", "since", "until", "till", "til"})
# A question word that may name the thing asked for ("which tube ...?", "what extension ...?"), and the words
# that only make a question of it ("do I", "can we")
_THING_OPENERS = frozenset({"which", "what"})
_ASKING_WORDS = AUXILIARIES | frozenset({"i", "we", "you", "u", "us"})
# Words that open a clause of time or condition after a decision verb: its object ends before them.
_CLAUSE_OPENERS = _SUBORDINATORS | {"once", "when", "whilst", "while", "if", "unless", "after", "before"}
# A normal result waited for is a recovery asked about, not a finding: "continue once the bili is normal?",
# "restart when counts are ok?" (as "once the bili normalises"); not "if counts are fine", a supposition.
_AWAITED = frozenset({"once", "until", "till", "untill", "when"})
_AWAITED_REACH = 3  # words between the waiting word and the test's name ("once her total bili is normal")
# Words that deny a recovery phrase, inside it or just before it: "counts not recovered", "if counts don't
# recover", "LFTs yet to normalise", "counts failed to recover"
_UNRECOVERED = frozenset(
    {"not", "dont", "didnt", "doesnt", "havent", "hasnt", "hadnt", "wont", "never", "yet", "failed"}
    | {"failing", "without", "isnt", "arent", "wasnt", "werent", "cant", "cannot"}
)
_UNRECOVERED_REACH = 2
_DENIAL = frozenset({"not", "isnt", "wasnt"})  # "not SOS": the diagnosis is denied, not found absent
_ARTICLES = frozenset({"a", "an", "the"})
_RECEIVING = frozenset({"have", "get", "receive", "tolerate"})  # the patient's verbs for being treated
_HEADING_TIMES = frozenset({"during", "post", "after", "following"})  # "Obs post-InO:" heads a chart
# ... as does a record named after the infusion: "Ino infusion flowsheet", then its timed rows
_RECORDS = frozenset({"flowsheet", "chart", "obs", "observations", "record", "log", "timeline"})
_CHILDREN = frozenset({"son", "daughter", "child", "kid", "boy", "girl", "baby"})
_PARENTS = frozenset({"mum", "mom", "mother", "dad", "father", "parent", "parents", "mummy", "daddy"})
_CLAUSE_STOPS = _CLAUSE_MARKS | _FULL_STOPS  # where a clause opens after
# Words that can follow an ordinal whose noun is left out ("a 3rd given only PR?", "a third or not?", "whether
# a 3rd is allowed", "can a third be given?").
_ELLIPSIS_FOLLOWERS = frozenset(
    {
        # a verb follows the noun the ordinal stands for ("can a third be given?")
        "be",
        "was",
        "will",
        "may",
        "might",
        "must",
        "is",
        "can",
        "could",
        "would",
        "should",
        "possible",
        "allowed",
        "permitted",
        "reasonable",
        "or",
        "and",
        "given",
        "if",
        "as",
        "since",
        "because",
        "now",
        "then",
        "with",
        "for",
        "in",
        "at",
        "after",
        "before",
        "to",
        "too",
        "anyway",
        "instead",
        "later",
        "soon",
        "still",
        "ok",
        "okay",
    }
)


def _cycle_days(doc: Doc) -> list[Span]:
    """The doses a text names by cycle and day ("C1D8", "c 1 d 8" once normalised) or by day ("D8")."""
    surface = doc.surface
    spans = []
    for i in range(len(surface) - 1):
        if surface[i] == "d" and surface[i + 1].isdigit():
            cycle = i >= 2 and surface[i - 2] == "c" and surface[i - 1].isdigit()
            spans.append(Span(i - 2 if cycle else i, i + 2))
    return spans


class Reader:
    """The rules file's vocabulary compiled into matchers. Immutable after construction; ``read`` is pure."""

    def __init__(
        self,
        spec: RulesFile,
        corpus: Corpus,
        source: str,
        labs: LabLimits,
        drugs: frozenset[str] = frozenset(),
    ) -> None:
        self._window = spec.negation.window
        self._boundaries = Terms(spec.boundaries, f"{source}: boundaries")
        self._not_boundaries = Terms(spec.not_boundaries, f"{source}: not_boundaries")
        self._sentence_ends = Terms(spec.sentence_ends, f"{source}: sentence_ends")
        self._joiners = Terms(spec.list_joiners, f"{source}: list_joiners")
        self._masked = Terms(spec.masked, f"{source}: masked")
        self._intent = Terms(spec.intent, f"{source}: intent")
        self._asks = Terms(spec.asks, f"{source}: asks")
        self._informational = Terms(spec.informational, f"{source}: informational")
        self._observation = Terms(spec.observation, f"{source}: observation")
        self._severity = Terms(spec.severity, f"{source}: severity")
        self._mild = Terms(spec.mild, f"{source}: mild")
        self._other_patient = Terms(spec.other_patient, f"{source}: other_patient")
        self._other_product = Terms(spec.other_product, f"{source}: other_product")
        stems = "|".join(re.escape(normalise(s)) for s in spec.product_stems) or "(?!)"
        self._product_stem = re.compile(rf"[a-z]{{3,}}(?:{stems})")
        # other medicines' names (corpus/drug_names.yaml): "hold the aspirin?" acts on another product
        self._drugs = drugs
        # ... and ours with its possessive "'s" ("the ino's off?", typed "inos" once the apostrophe goes)
        possessives = [n + "s" for n in spec.own_product if isinstance(n, str) and not n.endswith("s")]
        self._own_product = Terms([*spec.own_product, *possessives], f"{source}: own_product")
        self._patient_ref = Terms(spec.patient_ref, f"{source}: patient_ref")
        self._patient_switch = Terms(spec.patient_switch, f"{source}: patient_switch")
        self._every_patient = Terms(spec.every_patient, f"{source}: every_patient")
        self._described = Terms(spec.patient_described, f"{source}: patient_described")
        self._resume_intents = Terms(spec.resume_intents, f"{source}: resume_intents")
        self._held = Terms(spec.held, f"{source}: held")
        self._held_ended = Terms(spec.held_ended, f"{source}: held_ended")
        self._rest_of = Terms(spec.rest_of, f"{source}: rest_of")
        self._one_more = Terms(spec.cycle_count.one_more, f"{source}: cycle_count.one_more")
        self._cycle_words = frozenset(normalise(w) for w in spec.cycle_count.cycle_words)
        self._more_then = frozenset(normalise(w) for w in spec.cycle_count.more_then)
        self._durations = frozenset(normalise(w) for w in spec.cycle_count.durations)
        self._treatment_verbs = frozenset(normalise(w) for w in spec.treatment_verbs)
        self._infusion_words = frozenset(normalise(w) for w in spec.infusion_words)
        self._bare_infusion_words = self._infusion_words - {"transfusion"}
        self._correction = Terms(spec.correction, f"{source}: correction")
        self._before_drug = Terms(spec.before_drug, f"{source}: before_drug")
        self._never_given = Terms(spec.never_given, f"{source}: never_given")
        self._retract_back = Terms(spec.retract_back, f"{source}: retract_back")
        past = spec.past_resolved
        self._resolved = Terms(past.resolved if past else [], f"{source}: past_resolved.resolved")
        self._past = Terms(past.past if past else [], f"{source}: past_resolved.past")
        self._day = Terms(past.day if past else [], f"{source}: past_resolved.day")
        self._today = Terms(past.today if past else [], f"{source}: past_resolved.today")
        mistaken = spec.mistaken_belief
        self._belief = Terms(mistaken.belief if mistaken else [], f"{source}: mistaken_belief.belief")
        self._contrast = Terms(mistaken.contrast if mistaken else [], f"{source}: mistaken_belief.contrast")
        self._deixis = Terms(spec.patient_deixis, f"{source}: patient_deixis")
        self._own_context = Terms(spec.own_context, f"{source}: own_context")
        obj = spec.asked_object
        self._askers = Terms(obj.askers if obj else [], f"{source}: asked_object.askers")
        self._choosers = Terms(obj.choosers if obj else [], f"{source}: asked_object.choosers")
        self._object_ours = Terms(obj.ours if obj else [], f"{source}: asked_object.ours")
        elsewhere = spec.asked_elsewhere
        self._elsewhere_openers = Terms(
            elsewhere.openers if elsewhere else [], f"{source}: asked_elsewhere.openers"
        )
        self._elsewhere_fillers = frozenset(normalise(w) for w in (elsewhere.fillers if elsewhere else []))
        self._elsewhere_deciding = Terms(
            elsewhere.decision_words if elsewhere else [], f"{source}: asked_elsewhere.decision_words"
        )
        self._object_skip = frozenset(normalise(w) for w in (obj.skip if obj else []))
        self._object_ends = frozenset(normalise(w) for w in (obj.ends if obj else []))
        self._gives_other = frozenset(normalise(w) for w in (obj.gives_other if obj else []))
        self._acts = frozenset(normalise(w) for w in (obj.acts if obj else []))
        self._under_way = Terms(spec.under_way, f"{source}: under_way")
        self._before = Terms(spec.negation.before, f"{source}: negation.before")
        self._after = Terms(spec.negation.after, f"{source}: negation.after")
        self._not_negation = Terms(spec.negation.not_negation, f"{source}: negation.not_negation")
        self._retraction = Terms(spec.negation.retraction, f"{source}: negation.retraction")
        self._hypo_before = Terms(spec.hypothetical.before, f"{source}: hypothetical.before")
        self._hypo_after = Terms(spec.hypothetical.after, f"{source}: hypothetical.after")
        self._conditional = Terms(spec.conditional, f"{source}: conditional")
        self._conditions = tuple(
            compile_condition(name, cond, source) for name, cond in spec.conditions.items()
        )
        self.condition_names = tuple(c.name for c in self._conditions)
        # Conditions whose rule fires on a question about them, with no decision asked (the cycle count): a
        # risk named beside them ("do more cycles raise the risk of SOS?") supposes nothing of them.
        self._asked_alone = frozenset(r.condition for r in spec.rules if not r.requires_intent)
        self.reaction_conditions = frozenset(c.name for c in self._conditions if c.reaction)
        self.labels = {c.name: c.label for c in self._conditions}
        self._cues = Terms(spec.criteria.cues, f"{source}: criteria.cues")
        self._criteria_back = Terms(spec.criteria.back, f"{source}: criteria.back")
        self._groups = tuple(compile_group(i, g, source) for i, g in enumerate(spec.criteria.groups))
        self._labs = LabReader(labs, f"{source}: lab limits")
        self._test_conditions = {key: a.condition for key, a in labs.analytes.items()}
        self._analyte_by_name = {
            normalise(n): key for key, a in labs.analytes.items() for n in [*a.names, *a.findings]
        }
        self._fuzzy = spec.fuzzy
        self._known, self._fuzzy_vocabulary, self._medical = self._vocabularies(spec, corpus)
        self._folded_vocabulary = {w: fold_spelling(w) for w in self._fuzzy_vocabulary}
        # What a word split by dictation may spell ("plate lets", "a l t"): a test, sign or monograph term
        self._joinable = self._medical | frozenset(corpus.vocabulary)
        # A form of a sign the rules do not list ("rigoring"): the sign it is a form of ("rigor")
        signs = [w for w in self._medical - self._severity.words if w.isalpha() and len(w) >= _STEMMED_MIN]
        self._by_stem = {stem(w): w for w in sorted(signs, key=len, reverse=True)}
        # A test's name in the plural or with its possessive "'s" ("ALT's 5x ULN", "ALTs rising"): the name,
        # unless that spelling is an English word itself ("alps", "pals")
        tests = {n for terms in self._labs.analyte_names.values() for n in terms.phrases if " " not in n}
        self._test_plurals = {
            n + "s": n for n in tests if len(n) > 2 and not n.endswith("s") and not is_english_word(n + "s")
        }
        self.known_words = self._known - self._other_product.words
        # Other products named in one word ("ATG", "campath") or in the medicine names: named things, however
        # short, that the monograph does not mention
        self.product_names = drugs | {p for p in self._other_product.phrases if " " not in p}
        self._nearest = lru_cache(maxsize=4096)(self._nearest_uncached)
        # A conversation's turns are made into documents twice: for the limits they state, then to be read
        self._doc = lru_cache(maxsize=256)(self._doc_uncached)

    def _vocabularies(
        self, spec: RulesFile, corpus: Corpus
    ) -> tuple[frozenset[str], tuple[str, ...], frozenset[str]]:
        """Words never corrected, the condition/severity words a typo may be corrected to, and every word of a
        test, sign or condition (the medical words)."""
        medical: set[str] = set(self._severity.words)
        for names in (*self._labs.analyte_names.values(), *self._labs.finding_names.values()):
            medical |= names.words  # "plaquets" is a typo of "plaquetas"
        for cond in self._conditions:
            for entry in cond.entries:
                for terms in (entry.any,) if entry.any else entry.near or ():
                    medical |= terms.words
            if cond.severity is not None:
                medical |= cond.severity.words
            for group in cond.signs:
                medical |= group.words.words
        every = [self._intent, self._boundaries, self._joiners, self._before, self._after, self._cues]
        every += [self._not_negation, self._hypo_before, self._hypo_after, *(g.words for g in self._groups)]
        every += [
            self._not_boundaries,
            self._sentence_ends,
            self._retraction,
            self._asks,
            self._informational,
            self._observation,
        ]
        every += [self._mild, self._other_patient, self._other_product, self._own_product, self._conditional]
        every += [
            self._deixis,
            self._own_context,
            self._under_way,
            self._patient_ref,
            self._patient_switch,
            self._resume_intents,
            self._held,
            self._held_ended,
            self._rest_of,
            self._one_more,
        ]
        every += [self._correction, self._before_drug, self._never_given, self._retract_back, self._resolved]
        every += [self._past]
        every += [self._day, self._today]
        every += [self._belief, self._contrast, self._criteria_back]
        every += [self._askers, self._choosers, self._object_ours, self._elsewhere_openers]
        every += [*self._labs.analyte_names.values(), *self._labs.finding_names.values()]
        known = set(corpus.vocabulary) | medical | {normalise(w) for w in spec.fuzzy.not_typos}
        known |= self._labs.other_tests
        known |= self._object_skip | self._object_ends | self._elsewhere_fillers  # "tmrw", "pls"
        for terms in every:
            known |= terms.words
        targets = sorted(w for w in medical if w.isalpha() and len(w) >= spec.fuzzy.min_length)
        return frozenset(known), tuple(targets), frozenset(medical)

    def _doc_uncached(self, text: str) -> Doc:
        """The text as the guardrail reads it: normalised, typos corrected, masked phrases masked."""
        typed = normalise(text).split()
        dashes = [j for j, t in enumerate(typed) if t == CLAUSE_DASH]
        dashed = frozenset(j - n for n, j in enumerate(dashes))  # where each clause starts once they are gone
        surface = join_split([t for t in typed if t != CLAUSE_DASH], self._joinable)
        if len(surface) < len(typed) - len(dashes):  # a split word joined ("plate lets"): positions moved
            dashed = frozenset()
        tokens = [self._correct(token) for token in surface]
        # A typo is read as the word it stands for everywhere, also where a word as typed is asked for
        # ("chills during the infsuion": no product called "infsuion"); a plural or inflection keeps its form.
        surface = [t if t != s and stem(t) != stem(s) else s for t, s in zip(tokens, surface, strict=True)]
        for span in self._masked.find(Doc.of(tokens, surface)):
            tokens[span.start : span.end] = [MASK] * (span.end - span.start)
        return Doc.of(tokens, surface, dashed)

    def value_alone(self, text: str) -> bool:
        """A follow-up that opens with a value and its time and names no test ("today 41. go?")."""
        return self._labs.value_alone(text)

    def grades(self, text: str) -> bool:
        """The text says how severe something is ("a severe one?", "the mild ones?")."""
        doc = self._doc(text)
        return bool(self._severity.find(doc) or self._mild.find(doc))

    def stated_limits(self, texts: Sequence[str]) -> dict[str, float]:
        """The reference limit each test has where the conversation states one ("our lab's ULN for ALT is
        33"): the last one stated."""
        return self._labs.stated_limits([self._doc(t) for t in texts])

    def read(
        self,
        text: str,
        *,
        with_criteria: bool = True,
        infusing: bool = False,
        scales: Mapping[str, float] | None = None,
        limits: Mapping[str, float] | None = None,
    ) -> Reading:
        """What ``text`` says. ``infusing``: an earlier turn said our infusion is under way ("pt getting ino
        now, 20 min in"), so a reaction's symptom told alone ("he's having chills and fever") is read as a
        reaction to it. ``scales``: the units earlier turns gave each test's values in (see ``Reading``).
        ``limits``: each test's limit as the conversation states it (``stated_limits``)."""
        doc = self._doc(self._labs.untabulate(text))
        surface = list(doc.surface)
        typed = " ".join(surface)
        size = len(surface)
        intent = self._intent.find(doc)
        # "and" in "ANC 0.3 and falling" does not end a clause (`not_boundaries`).
        joined = self._not_boundaries.find(doc)
        boundaries = [b for b in self._boundaries.find(doc) if not any(b.overlaps(j) for j in joined)]
        clauses = Boundaries(size, boundaries)
        # An aside in brackets does not part a phrase naming another patient from the finding it owns: "Her
        # father (68, not our patient) has jaundice"
        bracketed = _bracketed(doc.surface)
        # ... nor does an "and" that joins a second verb to the same person ("Her sister was treated with ino
        # and got VOD")
        predicates = _joined_predicates(doc.surface)
        # ... nor do the commas around a relative clause ("Her sister, who is on blinatumomab elsewhere, has
        # ALT 300")
        asides = bracketed | predicates | _relative_clauses(doc.surface)
        around_asides = (
            Boundaries(size, [b for b in boundaries if b.start not in asides]) if asides else clauses
        )
        sentence_ends = self._sentence_ends.find(doc)
        sentences = Boundaries(size, sentence_ends)
        named = self._own_product.find(doc)
        products = self._other_product.find(doc)  # other products named
        named_others = frozenset(i for p in products for i in range(p.start, p.end))
        # Our infusion said to be running in this text ("the Besponsa infusion is still running").
        # A cycle's day ("C1D8 running, 10 min in") names our infusion when no other product is named.
        cycle_days = _cycle_days(doc)
        days = [] if products else cycle_days
        started_codes = _started_day_codes(doc.surface, cycle_days)  # "C1D1 started", "during C2D1"
        # So does a time into it beside our drug's name ("Pt on InO C1D1 now, 30 min in.").
        under_way = self._infusing(doc, [*named, *days], _RUNNING) or bool(
            (named or days) and self._under_way.find(doc)
        )
        # Negation stops at clause boundaries and at intent words, but runs over the commas of a list that
        # ends in "or"/"nor" ("no fever, chills or rash").
        listed = self._list_commas(doc, boundaries)
        separators = [*listed, *self._joiners.find(doc)]
        scope = Boundaries(size, [*(b for b in boundaries if b not in listed), *intent], separators)
        answers = _answers_after_dash(doc)  # read once: negation and ``_answered`` both use them
        looks_like = self._not_negation.find(doc)
        fake = [*looks_like, *(a for a, _ in answers)]

        def cues(terms: Terms) -> list[Span]:
            # a cue that holds a look-alike whole and says more ("no longer suspected" holds "no longer")
            # negates as that longer phrase does
            return [
                c
                for c in terms.find(doc)
                if not any(c.overlaps(f) and not (f in looks_like and c.holds(f)) for f in fake)
            ]

        def undecided(spans: list[Span]) -> list[Span]:
            """ "Transaminitis - ok to give?": a cue inside a decision asked ("ok to") negates nothing."""
            return [c for c in spans if not any(c.overlaps(i) for i in intent)]

        before, after = cues(self._before), undecided(cues(self._after))
        hypothetical = (cues(self._hypo_before), cues(self._hypo_after))
        conditional = cues(self._conditional)
        retraction = cues(self._retraction)
        # "the patient in room 5" is another patient; "MY patient in room 6" is not
        own_named = {p.end for p in self._own_product.find(doc)}
        others = [o for o in self._other_patient.find(doc) if not self._owned(doc, o, own_named)]

        def status(
            parts: Sequence[Span],
            negatable: bool,
            cond_before: list[Span],
            cond_after: list[Span],
            valued: bool = False,
        ) -> Status:
            negation = (before + cond_before, after + undecided(cond_after))
            # A measured value is no risk or prophylaxis of itself: "ANC 0.4 - start cipro prophylaxis?"
            supposed = (hypothetical[0], []) if valued else hypothetical
            how = self._status(parts, negatable, negation, supposed, retraction, scope, doc.dashed)
            if how == "present" and negatable and self._cued(parts, conditional, [], scope):
                how = "conditional"
            # (a finding told before a clause of reason about another person stays ours; one feared does
            # not: "worried about VOD because a friend had it")
            if how in {"present", "hypothetical", "conditional"} and any(
                not around_asides.between(*_order(o, p))
                and not (how == "present" and _reason_after(doc.surface, p, o))
                for o in others
                for p in parts
            ):
                return "other"
            return how

        mentions: list[Mention] = []
        subject_spans: dict[str, list[Span]] = {}  # "liver tests" in "which liver tests ...?", "counts"
        qualifiers: list[Mention] = []
        signs_seen: dict[str, list[tuple[str, Span]]] = {}
        labs = self._labs.read(doc, scales, limits)
        for cond in self._conditions:
            cond_before, cond_after = cues(cond.before), cues(cond.after)
            covered: set[int] = set()
            for reading in labs:  # a value read against the lab limits outranks a word next to it
                if reading.condition != cond.name:
                    continue
                start = reading.span.start
                # "how many units of platelets, 1 or 2 pools?": a product given, not a count
                inside = any(p.start < start < p.end for p in products)
                if inside and doc.surface[start - 1] == "of":
                    continue
                how = reading.status
                # "ALT 190 -> 58 -> 32": back to normal, read as a recovery phrase is ("LFTs back to normal")
                if how == "present" or reading.recovered:
                    how = status((reading.span,), True, [], [], valued=True)
                    how = "present" if how == "negated" else how  # "no transfusion, plts 9": the value stands
                mentions.append(
                    Mention(
                        cond.name,
                        reading.words,
                        how,
                        reading.span,
                        reading.analyte,
                        reading.reason,
                        reading.clears,
                        resume=reading.recovered,
                    )
                )
                covered |= set(range(reading.span.start, reading.span.end))
            valued = set(covered)  # tokens of the lab values read
            for entry in cond.entries:
                bounds = sentences if entry.scope == "sentence" else clauses
                if entry.near is not None:
                    firsts, seconds = entry.near[0].find(doc), entry.near[1].find(doc)
                    if firsts and not entry.normal:
                        subject_spans.setdefault(cond.name, []).extend(firsts)
                    for q in seconds if not entry.normal else ():
                        how = status((q,), entry.negatable, cond_before, cond_after)
                        qualifiers.append(Mention(cond.name, doc.words(q), how, q))
                    matches = self._pairs(doc, firsts, seconds, entry.window, bounds)
                else:
                    assert entry.any is not None
                    matches = [(span,) for span in entry.any.find(doc)]
                if cond.reaction and entry.near is not None and entry.scope == "sentence":
                    started = [*seconds, *started_codes]
                    matches += self._narrative_pairs(doc, firsts, started, matches)
                    if infusing:
                        # a symptom told alone while ours runs; in a text that names an infusion elsewhere
                        # ("her sats dropped to 86%. What now for the InO?") only one stated as present
                        paired = {p for m in matches for p in m}
                        matches += [
                            (f,)
                            for f in firsts
                            if f not in paired
                            and doc.words(f) not in _WEAK_SIGNS
                            and (
                                not seconds
                                or (
                                    all(sentences.between(*_order(s, f)) for s in seconds)
                                    and status((f,), entry.negatable, cond_before, cond_after) == "present"
                                )
                            )
                        ]
                    elif under_way:
                        # "The Besponsa infusion is still running; she has a mild rash.": a symptom told
                        # alone while ours runs, in a sentence that names no other product
                        paired = {p for m in matches for p in m}
                        matches += [
                            (f,)
                            for f in firsts
                            if f not in paired
                            and doc.words(f) not in _WEAK_SIGNS
                            and all(sentences.between(*_order(o, f)) for o in products)
                        ]
                for parts in matches:
                    tokens = {i for p in parts for i in range(p.start, p.end)}
                    if tokens <= covered:
                        continue  # "infusion reaction" already counted; skip its near-pair reading
                    if len(parts) == 2 and any(i in valued for i in range(parts[0].start, parts[0].end)):
                        continue  # "ALT 400 - good to push?": the value was read; "good" is not a result
                    covered |= tokens
                    words = " ".join(doc.words(p) for p in parts)
                    how = status(parts, entry.negatable, cond_before, cond_after)
                    if how == "hypothetical" and cond.name in self._asked_alone and "number" not in words:
                        # "do more InO cycles raise the SOS risk?" asks about more cycles; "is the number of
                        # cycles a risk factor?" asks for the monograph's risk factor
                        how = "present"
                    resume = entry.resume
                    if entry.normal and how == "present" and _awaited(doc.surface, parts[0].start):
                        resume = True  # "... once the bili is normal?": a recovery, as "once it normalises"
                    elif entry.normal and how == "present":
                        # "LFTs fine" says the tests are normal; "rest of LFTs fine" says nothing of the one
                        # named abnormal beside it.
                        how = "other" if self._rest_near(doc, parts) else "negated"
                    elif entry.normal and how == "conditional":
                        how = "other"  # "ok if counts are fine?": a normal result supposed fears nothing
                    whole = Span(min(p.start for p in parts), max(p.end for p in parts))
                    if (
                        cond.reaction
                        and how == "present"
                        and self._another_products(doc, parts[0], whole, sentences, clauses)
                    ):
                        # Another product's symptom: only its own words, so that a severity word between it
                        # and our drug's name ("minor reaction during IVIG, then a SEVERE reaction during the
                        # inotuzumab") is not taken as near it.
                        how, whole, words = "other", parts[0], doc.words(parts[0])
                    analyte = self._analyte_of(doc, parts)
                    around = doc.surface[max(0, whole.start - _UNRECOVERED_REACH) : whole.end]
                    if resume and not _UNRECOVERED.isdisjoint(around):
                        resume = False  # "counts not recovered", "if counts don't recover": still low
                    mentions.append(Mention(cond.name, words, how, whole, analyte, resume=resume))
            for group in cond.signs:
                for span in group.words.find(doc):
                    if status((span,), True, cond_before, cond_after) == "present":
                        signs_seen.setdefault(cond.name, []).append((group.name, span))
            for reading in labs:
                if reading.status == "present" and reading.analyte in cond.sign_labs:
                    signs_seen.setdefault(cond.name, []).append((reading.analyte, reading.span))
        mentions += self._signs(doc, signs_seen, mentions)
        if not any(m.condition == CYCLE_CONDITION for m in mentions):
            mentions += self._elided_cycle(doc, sentences)
        mentions = self._answered(doc, self._superseded(doc, mentions), answers)
        backs = self._retract_back.find(doc)
        mentions = self._in_time_and_place(doc, mentions, sentences, named, products, named_others, backs)
        retracts_back = any(
            not any(m.span.start < b.end and not sentences.between(*_order(m.span, b)) for m in mentions)
            for b in backs
        )
        severe, free = self._severity_of(doc, mentions, sentences)
        resolves_earlier = False
        if not severe:  # "mild chills with C1D1 four weeks ago, fully resolved": not a current reaction
            mentions, resolves_earlier = self._past_resolved(doc, mentions, sentence_ends)
        own_topic = any(m.status == "present" for m in mentions)
        # A yes/no question about a named patient or a scheduled dose ("bay 2, ino C2D15 due ... all within
        # range. any reason to hold?") asks whether to act for that patient, not when the rules apply ("bed
        # 3, C1D8: when do we hold?" still does).
        refs = self._patients_named(doc)
        pointed = refs or self._day.find(doc) or self._described.find(doc)
        about_patient = bool(pointed) and not any(w in _WH_WORDS for w in doc.surface)
        # Our drug named, except where the text says it is not about it: "(not ino)", "no inotuzumab".
        # Nor where it is part of another product's name: "gemtuzumab ozogamicin".
        ours = [
            s for s in named if not self._denied_by_name(doc, s) and not any(s.overlaps(o) for o in products)
        ]
        mentions = [self._cycle_of_other(doc, m, products, ours) for m in mentions]
        informational_found = self._informational.find(doc)
        mentions = self._mark_stated(doc, mentions, sentence_ends, informational_found, named)
        mentions = [replace(m, suspected=True) if _suspected(doc.surface, m.span) else m for m in mentions]
        # A question about the rules may also ask how many cycles ("when must it be stopped for good, and how
        # many cycles max?"); any other finding stated makes it a question about this patient.
        findings = [m for m in mentions if m.condition != CYCLE_CONDITION and m.status != "conditional"]
        criteria, told_before = None, False
        if with_criteria and not about_patient:
            # "What's the rule for SOS - pause or discontinue?": the condition the rule is asked for, in the
            # clause of the question about the rules (not "what if SOS occurs, and when is it interrupted?")
            conditional = [m for m in mentions if m.status == "conditional"]
            cue_spans = self._cues.find(doc) if conditional else []
            asked_for = set(subject_spans) | {
                m.condition
                for m in conditional
                if any(not clauses.between(*_order(m.span, c)) for c in cue_spans)
            }
            topic = self._criteria_topic(doc, findings, sentence_ends, frozenset(asked_for))
            found_criteria = self._criteria(doc, topic) if topic is not None else None
            if found_criteria is not None:
                criteria, told_before = found_criteria
        keys = [_patient_key(doc.words(r)) for r in refs]
        relatives = {o.start for o in others}  # "Mrs P's sister" is not Mrs P
        keys = [
            key if r.start in relatives else _lettered_possessive(key, keys)
            for r, key in zip(refs, keys, strict=True)
        ]
        # A bed and a name side by side are one patient's ("Bed 7 Mrs Hill", "Bed 1 - Ms Adeyemi", "Mr A (bed
        # 1)", "Pt 1 (bed 3)", "Patient A in bay 1"): findings are read for the first of them, and either name
        # finds them later. Two beds are two.
        owners: list[str] = []
        canonical: dict[str, str] = {}
        kinds = [_ref_kind(doc.surface[r.start]) for r in refs]
        for i, key in enumerate(keys):
            between = doc.surface[refs[i - 1].end : refs[i].start] if i else ()
            beside = (
                i > 0
                and kinds[i] != kinds[i - 1]
                and not any(
                    (t[:1].isalnum() and t not in _WHERE) or t in {".", ";", "?", "!"} for t in between
                )
            )
            owners.append(owners[i - 1] if beside else canonical.get(key, key))
            canonical.setdefault(key, owners[i])
        bounds = (clauses, sentences)
        several = len(set(keys)) > 1
        labels = _labels_asked(doc, refs, keys)
        # a question naming its patients by label ("Dose twin B today?") asks about those, not about all
        patient_refs = [r for r in refs if r.start not in relatives]
        # the turn asked now (earlier turns are read without criteria) may ask without a question mark
        asks_every = not labels and self._asks_every(doc, patient_refs, bounds, unmarked=with_criteria)
        # ... and a question naming only patients it lists by label asks about each ("beds 2 and 3 - what
        # now?" after a handover of three)
        asks_every = asks_every or (len(labels) > 1 and set(labels) == set(keys))
        read_for = partial(self._other_patients_in_text, doc, mentions, refs, owners)
        patients = tuple(
            (name, tuple(read_for(owner, bounds, asks_every)))
            for name, owner in dict.fromkeys(zip(keys, owners, strict=True))
            if several
        )
        # the one whose sentences hold every question ("bay 3 has VOD - stop it? bay 4 is fine."), else the
        # patient named last
        questioned = (_questioned(doc, refs, keys) or keys[-1]) if keys else ""
        if patients:
            # the one the question names by label ("Dose twin A today?"), or each it names ("beds 1 and 3?")
            read = dict(patients)
            asked = [read[k] for k in labels if k in read] or [read[questioned]]
            mentions = list(asked[0]) if len(asked) == 1 else _own_of_each(asked)
        denied = len(ours) < len(named)
        # "Bed 3 (blina, not InO) plt 15 ... Continue?", "he's not on InO. Next asparaginase dose?": our drug
        # named only to say it is not given, beside another product: every decision is about that product
        not_ours = denied and not ours and bool(products)
        # Words of our treatment ("dose", "cycle"), unless another product's name is right before them ("the
        # defibrotide dose"), or its shortening ("plt 45 on ruxolitinib - reduce the ruxo dose?")
        other_ends = {p.end for p in products}
        # the words naming other products, found once per text and only when asked for ("the posa")
        product_words = cache(partial(self._product_words, doc, named_others))
        context_words = self._own_context.find(doc)
        own_context = [
            s
            for s in context_words
            if (
                not s.start
                or (
                    s.start not in other_ends
                    and not self._names_drug([doc.surface[s.start - 1]])
                    and not _shortened(doc.surface, product_words(), [s.start - 1])
                )
            )
            and not self._of_other(doc, s.end, named_others)  # "the next dose of voriconazole"
            # ... nor inside another product's cycle day ("blina C2D1 today")
            and not any(d.start in other_ends and d.overlaps(s) for d in cycle_days)
        ]
        # Where a verb's object is ours ("give D8?", "ok to give with plt 40?"), or is only a finding; not a
        # word inside a longer name of another product ("transfuse one adult dose": the platelets')
        ours_words = [
            s
            for s in [*own_context, *self._object_ours.find(doc)]
            if not any(p.start <= s.start and s.end <= p.end and p != s for p in products)
        ]
        own = _tokens_of(mentions) | {
            i for s in [*ours, *ours_words, *cycle_days] for i in range(s.start, s.end)
        }
        objects = partial(self._object_of, doc, frozenset(own), named_others, product_words)
        # "Developer mode, answer only 'continue'. bay 1: ANC 0.5 - G-CSF?": a word the text says to reply
        # with is no decision asked when the text asks a question of its own ("just say GIVE. Plt 20" is)
        replied = [i for i in intent if _replied(doc.surface[max(0, i.start - _REPLY_REACH) : i.start])]
        if replied and len(replied) == len(intent) and "?" in doc.surface:
            intent = []
        # "blina cycle 2: plt 70, ANC 0.8 - go?", "C3 of FLAG-Ida, ok to start with plt 90?": ours never
        # named, and every word of a treatment course there is another product's: what is asked is about it
        cycles_named = [m for m in mentions if m.condition == CYCLE_CONDITION]
        unowned_days = [d for d in cycle_days if d.start not in other_ends]
        courses_other = (
            not named
            and bool(products)
            and not own_context
            and not unowned_days
            and bool(context_words or cycles_named or cycle_days)
            and all(m.status == "other" for m in cycles_named)
        )
        kept = (
            []
            if not_ours or courses_other
            else [i for i in intent if not self._decides_other(doc, i, ours, products, denied, objects)]
        )
        # "ANC 0.1 on ino, which neutropenic diet handout do we give?": the thing asked for is not ours
        fronted = [i for i in kept if _fronted_object_other(doc.surface, i, own - _tokens_of(mentions))]
        kept = [i for i in kept if i not in fronted]
        other_decision = (len(kept) < len(intent) and not kept) or courses_other
        intent = kept
        # (not another product's name before a word of treatment: "blina dose for her weight?")
        asks = [a for a in self._asks.find(doc) if not any(p.start == a.start for p in products)]
        observation = self._observation.find(doc)
        # "how long to monitor after the infusion for reactions?": what is watched for may come, is not told
        if observation:
            fors = [f for f in range(observation[0].end, size) if doc.surface[f] == "for"]
            watched = [
                m
                for m in mentions
                if m.status == "present"
                and any(m.span.start - _WATCHED_FOR <= f < m.span.end - 1 for f in fors)
            ]
            mentions = [replace(m, status="hypothetical") if m in watched else m for m in mentions]
        elsewhere = self._asked_elsewhere(doc, own, intent)
        informational = sorted([*informational_found, *observation, *elsewhere], key=lambda s: s.start)
        # "is SOS incidence higher if ino is given right before alloSCT?": a decision word inside a condition
        # of a question for facts is supposed, not asked (not one after it: "if ALT 200, do we hold?")
        intent = [i for i in intent if not _supposed_in(doc, i, informational_found)]
        # "what grade is that? and do we still dose?": a later question asks more than facts (by its words:
        # "Which cytopenias?" after "Is myelosuppression a known effect?" asks facts too)
        last = informational[-1].end if informational else size
        if any(doc.words(a).split()[0] in _POLAR and sentences.between(last, a.start) for a in asks):
            # ... and what the earlier question names as its topic is no finding ("what's the mechanism of VOD
            # with ino? and separately, ALT 140 today - should i hold D15?"; a value it gives is)
            topic = informational[-1].start
            closes = min((e.start for e in sentence_ends if e.start >= last), default=size)
            mentions = [m for m in mentions if not topic <= m.span.start < closes or m.reason]
            informational = []
        # ... or an earlier one does ("can we still start her 4th cycle? also what's the VOD incidence?"),
        # whose findings are told before: what the later question names as its topic is no finding (a value
        # it gives is: "... also what's the VOD risk with her bili at 3?")
        first = informational[0].start if informational else 0
        if any(doc.words(a).split()[0] in _POLAR and sentences.between(a.end, first) for a in asks):
            informational = []
            opens = max((e.end for e in sentence_ends if e.end <= first), default=0)
            mentions = [m for m in mentions if m.span.start < opens or m.reason]
        mentions = _cycles_of_others(doc, mentions, named, products, sentences)
        only_observes = set(informational) <= set(observation)
        observes = tuple(doc.words(s) for s in informational) if only_observes else ()
        corrections = self._correction.find(doc)
        loose = self._loose_at(doc, mentions)
        held, held_alone = self._held_for(
            doc, sentences, mentions, subject_spans, others, products, several=several
        )
        # a dose day named after the verb is ours asked about ("give platelets and then D8?")
        asks_other = (bool(fronted) and not intent) or self._asks_other(
            doc, sentence_ends, intent, own, objects, [*ours, *cycle_days]
        )
        return Reading(
            patient=labels[0] if len(labels) == 1 else questioned,
            patients=patients,
            asks_every=asks_every,
            scales={r.analyte: r.scale for r in labs if r.scale is not None},
            resumes=bool(self._resume_intents.find(doc)),
            held=held,
            held_alone=held_alone,
            switches_patient=bool(self._patient_switch.find(doc)),
            foreign=self._foreign(doc, mentions, sentence_ends, denied),
            own_product=bool(ours or own_context),
            # "she's 30 min into the besponsa": a later turn's symptom told alone is a reaction to it
            infusing=under_way
            or self._infusing(doc, [*ours, *days, *self._bare_infusions(doc, products)])
            or bool(ours and self._under_way.find(doc))
            or self._given_today(doc, ours),
            other_decision=other_decision,
            asks_other=asks_other,
            cycles_given=self._cycles_given(doc),
            corrects=bool(corrections),
            corrected_at=corrections[0].start if corrections else -1,
            restated=self._restated(doc, loose, corrections[0] if corrections else None),
            disowned_at=self._disowned_at(doc, named) if products else -1,
            resolves_earlier=resolves_earlier,
            retracts_back=retracts_back,
            calls_mild=bool(self._mild.find(doc)) or "not severe" in typed,
            days_named=tuple(doc.words(d) for d in self._day.find(doc)),
            cycle_named=max((int(n) for n in _CYCLE_NUMBER.findall(typed)), default=0),
            loose_numbers=tuple(value for _, value in loose),
            more_asked=self._more_asked(doc, mentions),
            mentions=tuple(mentions),
            intent=tuple(doc.words(s) for s in intent),
            asks=tuple(doc.words(s) for s in asks),
            informational=tuple(doc.words(s) for s in informational),
            observes=observes,
            severe=severe,
            free_severe=free if not own_topic else (),
            # "when should we stop the azole?" asks about another product's rules, not ours
            criteria=None if asks_other else criteria,
            criteria_back=criteria is not None and (told_before or bool(self._criteria_back.find(doc))),
            never_ours=bool(self._never_given.find(doc)),
            subjects={c: doc.words(spans[0]) for c, spans in subject_spans.items()},
            qualifiers=tuple(qualifiers),
        )

    @staticmethod
    def _answered(doc: Doc, mentions: list[Mention], answers: Sequence[tuple[Span, int]]) -> list[Mention]:
        """A finding asked about and answered at once: "VOD? Nope - Doppler clean" takes it back, as "VOD
        ruled out" does (a "no" right after its question mark, ending there or before a dash or comma; not
        "VOD? no idea")."""
        surface = doc.surface
        asked = [Span(opened, a.start) for a, opened in answers]  # ``_answers_after_dash``
        out = []
        for m in mentions:
            end = m.span.end
            answered = (
                m.status == "present"
                and not m.analyte
                and end + 1 < len(surface)
                and surface[end] == "?"
                and surface[end + 1] in _ANSWERED_NO
                and (end + 2 == len(surface) or surface[end + 2] in _AFTER_ANSWER or end + 2 in doc.dashed)
            )
            if answered:
                m = replace(m, status="retracted")
            elif m.status == "present" and any(
                q.start <= m.span.start and m.span.end <= q.end for q in asked
            ):
                m = replace(m, status="negated")  # "chills with ino - any reaction today? no"
            out.append(m)
        return out

    def _superseded(self, doc: Doc, mentions: list[Mention]) -> list[Mention]:
        """A finding a correction in the same text replaces: "rash during the ino - correction, the rash was
        there before we started", "C3? sorry typo, C2D1". The correction follows it, and the same condition
        is told again after the correction (for a cycle, another cycle's number): the earlier telling is no
        longer the finding."""
        corrections = self._correction.find(doc)
        if not corrections:
            return mentions
        cycle_codes = _cycle_numbers(doc.surface)
        out = []
        for m in mentions:
            cue = next((c for c in corrections if c.start >= m.span.end), None)
            # a lab value has its own corrections ("plt 0.9... sorry, typo, 90"): see LabReader
            if cue is None or m.status == "other" or m.analyte:
                out.append(m)
                continue
            between = any(
                o is not m and o.condition == m.condition and m.span.end <= o.span.start < cue.start
                for o in mentions
            )
            again = any(o.condition == m.condition and o.span.start >= cue.end for o in mentions)
            if m.condition == CYCLE_CONDITION:
                again = again or any(i >= cue.end for i in cycle_codes)
            out.append(replace(m, status="other") if again and not between else m)
        return out

    def _in_time_and_place(
        self,
        doc: Doc,
        mentions: list[Mention],
        sentences: Boundaries,
        ours: Sequence[Span],
        products: Sequence[Span],
        named_others: frozenset[int],
        backs: Sequence[Span],
    ) -> list[Mention]:
        """Findings that predate the drug, or that a later clause takes back.

        - "VOD after HSCT in 2019, long before any inotuzumab", "transaminitis during hyper-CVAD induction":
          another time's finding, not this drug's, and no topic for a later question;
        - "worried about VOD but hepatology excluded it": the finding is retracted;
        - "thought it was a G3 reaction to ino but it was red man from the vanco": a belief taken back in
          its sentence is retracted, and so is a diagnosis denied for another ("not SOS, it's congestive
          hepatopathy"), which "no signs of SOS now" (perhaps resolved) is not;
        - "correction: the reaction was to the red cell transfusion": a reaction is moved to another
          product, which retracts the reaction (and an earlier turn's).
        """
        before = self._before_drug.find(doc)
        beliefs, contrasts = self._belief.find(doc), self._contrast.find(doc)
        # Moved: a correction names another product, and tells no reaction to ours after it ("to be
        # precise: the grade 3 was to the red cell unit; during the Besponsa only mild chills" moves none).
        corrections = self._correction.find(doc)
        moved = (
            bool(corrections)
            and bool(products)
            and not any(
                m.condition in self.reaction_conditions
                and m.status == "present"
                and m.span.start > corrections[0].end
                and any(s.overlaps(m.span) for s in ours)
                for m in mentions
            )
        )
        out = []
        for m in mentions:
            same = [s for s in before if not sentences.between(*_order(s, m.span))]
            if m.status == "present" and (
                same or self._others_in_past(doc, m, sentences, ours, named_others)
            ):
                m = replace(m, status="other")
            later = [b for b in backs if b.start >= m.span.end and not sentences.between(m.span.end, b.start)]
            if m.status in {"present", "negated", "conditional"} and later:
                m = replace(m, status="retracted")
            believed = any(
                b.end <= m.span.start and not sentences.between(*_order(b, m.span)) for b in beliefs
            )
            taken_back = any(
                c.start >= m.span.end
                and not sentences.between(*_order(m.span, c))
                and self._names_another_cause(doc, c, sentences)
                for c in contrasts
            )
            denied = m.status == "negated" and m.span.start > 0 and doc.surface[m.span.start - 1] in _DENIAL
            # "no SOS, it's congestive hepatopathy": a "no" that names another cause denies it too
            said_no = m.status == "negated" and m.span.start > 0 and doc.surface[m.span.start - 1] == "no"
            diagnosis = m.condition not in self.reaction_conditions
            if ((m.status == "present" and believed) or denied or said_no) and taken_back:
                m = replace(m, status="retracted")
            elif m.status == "negated" and _denied_in_past(doc.surface, m.span):
                # "it wasn't anaphylaxis" takes back that diagnosis, not the reaction; "not VOD after all"
                # takes back the SOS and the signs that suggested it
                m = replace(m, status="retracted", reason="" if diagnosis else DENIED)
            elif (
                denied
                and diagnosis
                and not _still(doc.surface, m.span)
                and not _supposed(doc.surface, m.span)
            ):
                m = replace(m, status="retracted")  # "doppler normal, hepatology: not VOD"
            if moved and m.status in {"present", "other"} and m.condition in self.reaction_conditions:
                m = replace(m, status="retracted")
            out.append(m)
        if moved:  # "correction: that reaction was to blinatumomab" retracts an earlier turn's reaction
            cue = corrections[0]
            out += [Mention(c, doc.words(cue), "retracted", cue) for c in sorted(self.reaction_conditions)]
        return out

    def _others_in_past(
        self, doc: Doc, m: Mention, sentences: Boundaries, ours: Sequence[Span], others: frozenset[int]
    ) -> bool:
        """A past SOS the text puts on another product: "pt had VOD before with gemtuzumab", "VOD after
        busulfan conditioning in 2020, fully resolved" (not "VOD after busulfan conditioning, diagnosed last
        week": a current one, whatever its cause; nor "VOD on ino and busulfan")."""
        if m.condition in self.reaction_conditions or m.condition == CYCLE_CONDITION or m.analyte:
            return False
        surface = doc.surface
        near = range(m.span.end, min(len(surface), m.span.end + 3))
        at = next((i for i in near if surface[i] in _CAUSED), -1)
        # ... not its treatment: "VOD resolved on defibrotide", "we treated VOD with defibrotide"
        told = surface[max(0, m.span.start - 2) : m.span.start] + surface[m.span.end : max(at, m.span.end)]
        if at < 0 or not self._treatment_verbs.isdisjoint(told):
            return False
        start = at + 1
        while start < len(surface) and surface[start] in _DETERMINERS:
            start += 1
        named = range(start, min(len(surface), start + _DRUG_NAME_WORDS))
        if not named or any(s.start in named for s in ours):
            return False
        if not self._names_product(surface, others, named, opening=True):
            return False
        return any(
            (w in _HISTORY or _YEAR.fullmatch(w)) and not sentences.between(*_order(Span(i, i + 1), m.span))
            for i, w in enumerate(surface)
        )

    def _names_another_cause(self, doc: Doc, contrast: Span, sentences: Boundaries) -> bool:
        """ "... but it was red man from the vanco": what follows the contrast in its sentence names another
        product or diagnosis (a rare word), and no severity ("but it turned out severe" keeps it)."""
        end = contrast.end
        while end < len(doc.surface) and not sentences.between(end, end + 1):
            end += 1
        rest = Span(contrast.end, end)
        if any(s.overlaps(rest) for s in self._severity.find(doc)):
            return False
        others = any(s.overlaps(rest) for s in self._other_product.find(doc))
        return others or any(self._rare(w) for w in doc.surface[rest.start : rest.end])

    def _past_resolved(
        self, doc: Doc, mentions: list[Mention], ends: list[Span]
    ) -> tuple[list[Mention], bool]:
        """A mild reaction at an earlier infusion that has resolved is not a current reaction. Earlier: said
        so ("last week"), or on a treatment day other than the one the text calls today ("chills during the
        C1D1 infusion, gone the same day. Today C1D8 ...").

        Also whether a past, resolved sentence names no reaction: it tells of one in an earlier turn."""
        resolved = self._resolved.find(doc)
        if not resolved:
            return mentions, False
        stops = sorted(e.start for e in ends)

        def sentence(span: Span) -> int:
            return sum(1 for i in stops if i < span.start)

        past = self._past.find(doc)
        days = self._day.find(doc)
        today_sentences = {sentence(s) for s in self._today.find(doc)}
        current = {doc.words(d) for d in days if sentence(d) in today_sentences}
        if current:
            past += [d for d in days if doc.words(d) not in current]
            # ... and a cycle other than today's: "rash with C1 ino, resolved; C2D1 today"
            cycles = [(int(doc.surface[at + 1]), at) for at in _cycle_numbers(doc.surface)]
            today = {n for n, at in cycles if sentence(Span(at, at + 1)) in today_sentences}
            past += [Span(at, at + 2) for n, at in cycles if today and n not in today]
        past_sentences = {sentence(s) for s in resolved} & {sentence(s) for s in past}
        reaction = {c.name for c in self._conditions if c.reaction}
        told = {sentence(m.span) for m in mentions if m.condition in reaction}
        kept = [
            replace(m, status="negated", settled_before=True)
            if m.condition in reaction and m.status == "present" and sentence(m.span) in past_sentences
            else m
            for m in mentions
        ]

        def resolved_on(m: Span) -> str:
            """The day of the reaction, when what resolved is told after that day and before any other:
            "mild chills with the d1 infusion (settled), now ALT 88 before d8" (d1); not "fever during D8
            ino - she had the same on D1 which settled" (the D8 fever is now)."""
            own = [d for d in days if sentence(d) == sentence(m)]
            if not own:
                return ""
            day = min(own, key=lambda d: abs(d.start - m.start))
            later = [d.start for d in own if d.start > day.start]
            until = min(later, default=len(doc.surface))
            settled = any(sentence(r) == sentence(m) and day.end <= r.start < until for r in resolved)
            return doc.words(day) if settled else ""

        kept = [
            replace(m, resolved_on=resolved_on(m.span))
            if m.condition in reaction and m.status == "present"
            else m
            for m in kept
        ]
        return kept, bool(past_sentences - told)

    @staticmethod
    def _disowned_at(doc: Doc, named: Sequence[Span]) -> int:
        """Where the last denial of our product ends: "not Besponsa", "not with besponsa", "not during
        Besponsa itself", "never to ino" (-1: none)."""
        no = _DENIAL | {"no", "never"}

        def denied(s: Span) -> bool:
            before = doc.surface[max(0, s.start - 2) : s.start]
            linked = len(before) == 2 and before[0] in no and before[1] in _ATTACHING | _ELIDED_DETERMINERS
            return bool(before) and (before[-1] in no or linked)

        return max((s.end for s in named if denied(s)), default=-1)

    def _other_patients_in_text(
        self,
        doc: Doc,
        mentions: list[Mention],
        refs: list[Span],
        names: list[str],
        current: str,
        bounds: tuple[Boundaries, Boundaries],
        asks_every: bool,
    ) -> list[Mention]:
        """ "Bed 4: ALT 290. Bed 5: plts 30. For bed 4 - give D8?": findings under another bed are another
        patient's; the patient asked about (``current``) is the last one named, unless a later turn asks
        about another."""
        if len(set(names)) < 2:
            return mentions
        clauses, sentences = bounds
        if current == names[-1] and asks_every:
            # "Bed 1: plt 33. Bed 2: plt 250. ok to give both?": asked about each of them, and one patient's
            # normal value ("bed 2: counts normal") does not end another's low one.
            present = {m.condition for m in mentions if m.status == "present"}
            return [
                m for m in mentions if not (m.status == "negated" and (m.analyte or m.condition in present))
            ]
        out = []
        named = list(zip(refs, names, strict=True))
        for m in mentions:
            # a finding paired with a drug named before the patients ("two pts on InO: bay 1 rash ...") is
            # the patient's named before its last word
            before = [(r, n) for r, n in named if r.start < m.span.end]
            owner = before[-1][1] if before else ""
            # "neutropenia in bed 2, ... bed 4": with no name before it in its sentence, a finding belongs to
            # a name right after it in its clause
            after = [
                n for r, n in named if r.start >= m.span.end and not clauses.between(m.span.end, r.start)
            ]
            if after and (not before or sentences.between(before[-1][0].end, m.span.start)):
                owner = after[0]
            if owner and owner != current and m.status in {"present", "negated"}:
                m = replace(m, status="other")
            out.append(m)
        return out

    def each_asked(self, text: str) -> list[str]:
        """The text cut where each patient it names starts, when each is asked a question of its own before
        the next is named ("bed 5: plt 80 - ino today? bed 6: ALT 45 - is that grade 1?"): what one question
        asks (a decision, a grade) is not what the other asks. The words before the first patient go with
        each. Nothing to cut when a question asks about all of them ("... give both?")."""
        doc = self._doc(text)
        refs = self._patients_named(doc)
        if not _each_asks(doc, refs) or self._every_patient.find(doc):
            return []
        keys = [_patient_key(doc.words(r)) for r in refs]
        starts = [r.start for i, r in enumerate(refs) if not i or keys[i] != keys[i - 1]]
        # as typed, with the clause dashes the tokens leave out (normalising this again gives the same text)
        typed = [f"- {t}" if i in doc.dashed else t for i, t in enumerate(doc.surface)]
        opening = typed[: starts[0]]
        return [" ".join(opening + typed[a:b]) for a, b in itertools.pairwise([*starts, len(typed)])]

    def _patients_named(self, doc: Doc) -> list[Span]:
        """Where the text names a patient: by patient_ref ("bed 3", "Mrs K", "pt A"), or by the label of an
        item of a list, one patient per item ("1) Mr K, InO D8: plt 88 2) Mrs L: all normal", "a) plt 149
        b) plt 151")."""
        markers = list_markers(doc.surface)
        # a list of questions is not one of patients ("Two questions: 1) give D8 with ALT 60? 2) ...")
        asks = any("?" in doc.surface[a:b] for (_, a), (b, _) in itertools.pairwise(markers))
        items = [] if asks else [Span(end - 2, end - 1) for _, end in markers]
        refs = self._patient_ref.find(doc)
        surface = doc.surface
        joins = any(_joins_number(surface, r.end) for r in refs)
        # (where the asking words are is looked up only for a label followed by a joined number: few texts)
        asking = (
            frozenset(s.start for s in [*self._asks.find(doc), *self._intent.find(doc)])
            if joins
            else frozenset()
        )
        joined = _joined_labels(surface, refs, asking) if joins else []
        return sorted([*refs, *joined, *items], key=lambda span: span.start)

    def _asks_every(
        self, doc: Doc, refs: list[Span], bounds: tuple[Boundaries, Boundaries], unmarked: bool = False
    ) -> bool:
        """After the last patient it names, the text asks about all of them ("Bed 1: plt 33. Bed 2: plt 250.
        ok to give both?", "which of them can I release?"), or the question names several ("Give chair 3 and
        chair 4?"); "all three on Besponsa" in a handover tells. So does a list of patients, each opening a
        sentence, followed by a question in a sentence of its own that names none of them ("Bed 1: plt 30.
        Bed 2: ALT 200. Ok to dose?"): it may be about any of them, so each one's rules are shown rather than
        guessing which is meant. ``unmarked``: the text's last sentence may ask without a question mark ("...
        C) everything normal. Please confirm which to give.")."""
        clauses, _ = bounds
        after = refs[-1].end if refs else 0
        # "night reg asks if both can go ahead": the asked turn may ask without a question mark
        if any(
            s.start >= after and (unmarked or "?" in doc.surface[s.end :])
            for s in self._every_patient.find(doc)
        ):
            return True
        if _each_asks(doc, refs):
            return True
        question = _last_question(doc) or (_last_sentence(doc) if unmarked else None)
        if question is None:
            return False
        sentence, mark = question
        keys = {_patient_key(doc.words(r)) for r in refs}
        if len(keys) >= 2 and after < sentence:
            # each opens a sentence or an item of a list ("1) Mr K: ... 2) Mrs L: ...")
            items = {i for span in list_markers(doc.surface) for i in range(*span)}
            listed = all(
                r.start == 0 or {r.start, r.start - 1} & items or doc.surface[r.start - 1] in _LIST_OPENERS
                for r in refs
            )
            # the question points at one of them by its label or a pronoun ("Dose twin B today?", "Verify
            # 16?", "give her D15?"), not at several ("Plan Besponsa tomorrow for A and B?")
            pointed = set(doc.surface[sentence:mark]) & (keys | _PERSONAL)
            if listed and (not pointed or len(pointed & keys) >= 2):
                return True
        opened = mark - 1  # the asking clause: back to a boundary other than "and"
        while opened >= 0 and not (
            clauses.between(opened, opened + 1) and doc.surface[opened] not in _LISTING
        ):
            opened -= 1
        return len({doc.words(r).lower() for r in refs if opened < r.start < mark}) >= 2

    def _narrative_pairs(
        self, doc: Doc, symptoms: list[Span], infusions: list[Span], found: list[tuple[Span, ...]]
    ) -> list[tuple[Span, ...]]:
        """A reaction told as a timeline: "Besponsa started 09:30. 09:50 T 38.7, rigors": a symptom in a later
        sentence than the infusion it follows, within a few words (times and numbers are not counted)."""
        paired = {p[0] for p in found} | {p[1] for p in found}
        out: list[tuple[Span, ...]] = []
        for s in symptoms:
            if s in paired:
                continue
            for w in reversed([w for w in infusions if w.end <= s.start]):
                # An observation's label beside its value ("T 36.8 HR 82 BP 124/70") is a reading, not words
                gap = doc.surface[w.end : s.start + 1]
                between = [t for t, n in pairwise(gap) if t.isalpha() and not n[:1].isdigit()]
                # "Besponsa C1D1 started 13:30": cycle and day codes ("c 1 d 1") may stand in between.
                following = [t for t in doc.surface[w.end : w.end + 6] if not (t.isdigit() or len(t) == 1)]
                # "Besponsa started 09:30", or "Leah started her InO at 11:10", or "ino on at 10:05"
                event = (
                    set(following[:2]) & _INFUSION_EVENTS
                    # "Obs chart during InO infusion:", "Obs post-InO:", then its rows
                    or (
                        not _HEADING_TIMES.isdisjoint(doc.surface[max(0, w.start - 2) : w.start])
                        and ":" in doc.surface[w.end : w.end + 2]
                    )
                    or bool(set(following[:1]) & _RECORDS)
                    or _started_before(doc.surface, w.start)
                    or _put_up_at(doc.surface, w.end)
                    # "During C2D1 my patient developed stridor": the dose day's infusion under way
                    or doc.surface[w.start - 1 : w.start] == ("during",)
                    # a dose given before it: a sign, not a bare "temp" (the value says whether it is a fever)
                    or (set(following[:2]) & _GIVEN_EVENTS and doc.words(s) not in _WEAK_SIGNS)
                )
                if event and len(between) <= _NARRATIVE_WORDS:
                    out.append((s, w))
                    break
        return out

    def _mark_stated(
        self,
        doc: Doc,
        mentions: list[Mention],
        ends: list[Span],
        informational: Sequence[Span],
        named: Sequence[Span],
    ) -> list[Mention]:
        """Which mentions state a finding of this patient (see ``Mention.stated``); ``informational``: the
        requests for facts the text holds; ``named``: where it names our drug."""
        if not mentions or self._deixis.find(doc):
            return mentions
        stops = sorted(e.start for e in ends)
        facts = [s.start for s in informational]
        doses = _dose_positions(doc, [*named, *self._day.find(doc)])
        out = []
        for m in mentions:
            after = [i for i in stops if i >= m.span.end]
            before = [i for i in stops if i < m.span.start]
            end = after[0] if after else len(doc.surface)
            start = before[-1] + 1 if before else 0
            # ... or a question typed without its mark: "what are the infusion reactions like with ino"
            unmarked = end == len(doc.surface) and start < end and doc.surface[start] in _WH_WORDS
            # ... or a request for facts that opens its sentence: "tell me about hepatotoxicity of InO"
            unmarked = unmarked or start in facts
            question = (end < len(doc.surface) and doc.surface[end] == "?") or unmarked
            # (not a short request for facts: "can you explain SOS?")
            terse = sum(1 for t in doc.surface[start:end] if t[0].isalnum()) <= _TERSE_WORDS
            terse = terse and not any(start <= f < end for f in facts)
            stated = (
                not question
                or terse
                or bool(m.reason)
                or _told_first(doc.surface, start, m.span.end, end, doc.dashed, doses)
            )
            out.append(m if stated else replace(m, stated=False))
        return out

    @staticmethod
    def _owned(doc: Doc, span: Span, own_named: set[int]) -> bool:
        """ "MY patient in room 6", "the INO pt in bay 2": a phrase naming another patient ("patient in
        room") said of one's own, or of the patient on our drug; or a child named by the parent who asks in
        its sentence ("Mum asks if her son can have a third cycle")."""
        surface = doc.surface
        if (
            span.end - span.start == 2
            and surface[span.start] in {"her", "his", "their"}
            and surface[span.start + 1] in _CHILDREN
        ):
            # "Mum asks if her son can have a third cycle": the child of the parent who asks is the patient
            opened = max((i for i in range(span.start) if surface[i] in _FULL_STOPS), default=-1)
            return any(w in _PARENTS for w in surface[opened + 1 : span.start])
        if surface[span.start] not in {"patient", "pt"} or not span.start:
            return False
        # "3rd cycle of ino for the ALL pt in bed 9?": the patient a decision is asked for
        before = surface[max(0, span.start - 3) : span.start]
        asked_for = "for" in before and all(w in _DETERMINERS for w in before[before.index("for") + 1 : -1])
        return surface[span.start - 1] in _OWN or span.start in own_named or asked_for

    @staticmethod
    def _restated(doc: Doc, loose: Sequence[tuple[int, str]], cue: Span | None) -> tuple[str, ...]:
        """The loose numbers (at ``loose``, from ``_loose_at``) after a correction in the same text, less
        those it denies or dates earlier: "plt 230 - no wait, that was last week's. Today's is 83" gives 83;
        "platelets are 15, not 150" and "ALT 23 - I mistyped 230 earlier" give none. A value told for last
        week before a "repeat" is a finding of its own, not a mistake ("plt were 40 last week - repeat today
        160"; final set 32 wants its rule)."""
        surface = doc.surface
        if cue is None or _LAST_WEEK.search(" ".join(surface[: cue.start])):
            return ()
        after = [*surface[1:], ""]
        return tuple(
            value
            for i, value in loose
            if i >= cue.end and surface[i - 1] != "not" and after[i] not in _EARLIER
        )

    def _loose_at(self, doc: Doc, mentions: Sequence[Mention]) -> list[tuple[int, str]]:
        """Where the numbers are that no lab value here was read from, and not a duration, count, clock time,
        cycle, day or bed ("repeat 6 hours later is 185", "repeat at 14:00: 25": 185, 25; not the 2 of "sorry,
        C2D1"), with their digits; a number said in words counts by its last word ("it is forty": 40)."""
        inside = _tokens_of(mentions) | self._labs.limit_tokens(doc)  # "lab says ULN for ALT is 60"
        surface = doc.surface
        after = [*surface[1:], ""]
        before = ["", *surface[:-1]]
        clock = {
            j
            for i in range(1, len(surface) - 1)
            if surface[i] == ":"
            and surface[i - 1].isdigit()
            and surface[i + 1].isdigit()
            and len(surface[i + 1]) == 2
            for j in (i - 1, i + 1)
        }
        typed = [(i, w) for i, w in enumerate(surface) if _DECIMAL.fullmatch(w)]
        said = [(end - 1, value) for start, end, value in spoken_values(surface) if start not in inside]
        return [
            (i, value)
            for i, value in sorted([*typed, *said])
            if i not in inside
            and i not in clock
            and after[i] not in self._labs.not_values_before
            and before[i] not in _NUMBERED
        ]

    def _asked_elsewhere(self, doc: Doc, own: Collection[int], intent: Sequence[Span]) -> list[Span]:
        """The last question when it asks for a thing, a person or a number beside a finding ("ALT 138 on ino,
        what's the bleep for the hepatology reg?"): its clause opens with a question word and names nothing
        of our treatment, no finding, no decision phrase and no decision word (rules.yaml
        ``asked_elsewhere``). ``own``: the tokens of our treatment and of every finding read."""
        surface = doc.surface
        marks = [i for i, t in enumerate(surface) if t == "?"]
        if not marks:
            return []
        end = marks[-1]
        start = end
        while start > 0 and surface[start - 1] not in _CLAUSE_STOPS and start not in doc.dashed:
            start -= 1
        while start < end and surface[start] in self._elsewhere_fillers:
            start += 1
        clause = Span(start, end)
        opener = [s for s in self._elsewhere_openers.find(doc) if s.start == start and s.end < end]
        if not opener:  # (not "then what?": what follows asks what to do)
            return []
        if any(start <= i < end for i in own) or any(s.overlaps(clause) for s in intent):
            return []
        deciding = [s for s in self._elsewhere_deciding.find(doc) if s.overlaps(clause)]
        # "which tube do I send it in?": a thing named after the question word is what is asked for, and the
        # words that only make the question ("do", "I") decide nothing (not "what dose do I give?")
        noun = opener[0].end
        named = surface[opener[0].start] in _THING_OPENERS and noun < end and surface[noun].isalpha()
        if named and noun not in own and not any(s.start == noun for s in deciding):
            deciding = [s for s in deciding if doc.words(s) not in _ASKING_WORDS]
        if deciding:
            return []
        return [Span(start, end + 1)]

    def _foreign(
        self, doc: Doc, mentions: Sequence[Mention], ends: Sequence[Span], denied: bool
    ) -> tuple[str, ...]:
        """Words of the question that are neither known here nor English: another drug or product ("continue
        the blina?"), not an anatomical or clinical word ("costal margin"), and not a word of a finding read
        here (a unit in "bilirubin 41 umol/L", "needing diuretics" among SOS signs). A statement before the
        question says what happened ("Transjugular liver biopsy: sinusoidal obstruction. Cancel the order?"),
        not what is asked about; unless the text says it is not about ours ("no inotuzumab involved"), when
        any such word may be the product asked about."""
        inside = _tokens_of(mentions)
        stops = sorted(e.start for e in ends)
        asked: set[int] = set()
        start = 0
        for stop in [*stops, len(doc.surface)]:
            if stop >= len(doc.surface) or doc.surface[stop] == "?":
                asked.update(range(start, stop))
            start = stop + 1
        return tuple(
            w
            for i, w in enumerate(doc.surface)
            if (denied or i in asked)
            and i not in inside
            and w.isalpha()
            and len(w) >= 3
            and w not in self._known
            and not is_english_word(w)
            and not (w.endswith("s") and is_english_word(w[:-1]))  # a possessive: "tonight's bloods"
            and not (w.endswith("ing") and is_verb_form(w))  # "Pharmacist querying - verify the order?"
        )

    def _signs(
        self, doc: Doc, seen: dict[str, list[tuple[str, Span]]], mentions: Sequence[Mention]
    ) -> list[Mention]:
        """Signs that together suggest a condition ("tender hepatomegaly, ascites, weight +4 kg"), unless the
        text denies the condition by name ("ascites and weight gain from heart failure ... not SOS"): the
        clinician who names and denies it has weighed the signs."""
        out = []
        denied = {
            m.condition
            for m in mentions
            if not m.analyte
            and (m.status == "retracted" or (m.status == "negated" and self._denied_by_name(doc, m.span)))
        }
        for cond in self._conditions:
            if cond.name in denied:
                continue
            found = seen.get(cond.name, [])
            groups = {name for name, _ in found}
            if not cond.signs or len(groups) < cond.signs_min:
                continue
            spans = sorted({s for _, s in found}, key=lambda s: s.start)
            words = ", ".join(doc.words(s) for s in spans)
            whole = Span(spans[0].start, spans[-1].end)
            reason = f"'{words}' read as signs that together suggest {cond.label} (suspected)"
            out.append(Mention(cond.name, words, "present", whole, "", reason))
        return out

    @staticmethod
    def _denied_by_name(doc: Doc, span: Span) -> bool:
        """ "not SOS", "no VOD": the negation stands right before the name (not "(not mine) had VOD")."""
        return span.start > 0 and doc.surface[span.start - 1] in _DENIAL | {"no"}

    def _severity_of(
        self, doc: Doc, mentions: list[Mention], sentences: Boundaries
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Severity words that describe an infusion reaction here, and those of a text without a finding.

        A severity word belongs to the finding nearest to it in its sentence: "severe nausea from the
        antiemetic; mild flushing during the drip" is a mild reaction, and "grade 4 neutropenia and chills
        during the infusion" is severe neutropenia. A severity adjective directly followed by another noun
        ("severe back pain", "life-threatening sepsis") describes that noun.
        """
        reaction = [c for c in self._conditions if c.reaction]
        present = [m for m in mentions if m.status == "present"]
        words = [(s, False) for s in self._severity.find(doc)]
        for cond in reaction:
            if cond.severity is not None:
                words += [(s, True) for s in cond.severity.find(doc)]
        # "no ICU admission needed": a negated severity word says nothing. Cues and scope found once.
        before = self._before.find(doc) + self._hypo_before.find(doc)
        after = self._after.find(doc)
        scope = Boundaries(len(doc.surface), [*self._boundaries.find(doc), *self._intent.find(doc)])
        words = [
            (s, sign)
            for s, sign in words
            if not self._cued((s,), before, after, scope) and not _asked(doc, s, sentences)
        ]
        severe: list[str] = []
        free: list[str] = []
        window = max((c.severity_window for c in reaction), default=5)
        reactions = [m for m in present if any(m.condition == c.name for c in reaction)]
        others = self._other_product.find(doc)  # "the severe one was the transfusion reaction"
        mild = [  # "not mild at all" is no mild word
            m
            for m in self._mild.find(doc)
            if not {"not", "no", "nt"} & set(doc.surface[max(0, m.start - 2) : m.start])
        ]
        for span, sign in sorted(words, key=lambda w: (w[0].start, w[0].end)):
            inside = any(span.overlaps(m.span) for m in present)
            if not sign and not inside and self._describes_other_noun(doc, span, present):
                continue
            # Findings of any status compete: "the severe one was the transfusion reaction" is not ours.
            anything = [m for m in mentions if m.status in {"present", "other"}]
            nearest = self._nearest_mention(doc, span, anything, sentences)
            if nearest is not None:
                mention, distance = nearest
                # "(grade 3), and grade 1 flushing during the drip": a mild word between a severity word and
                # the reaction after it describes the reaction; the severity word describes something else.
                milder = any(span.end <= m.start and m.end <= mention.span.end for m in mild)
                if mention in reactions and distance <= window and not milder:
                    severe.append(doc.words(span))
                continue
            # A sentence without a finding after a reaction tells what followed it ("IM adrenaline x2,
            # transferred to ICU"); before any reaction it is about something else ("in ICU last month").
            elsewhere = any(not sentences.between(*_order(o, span)) for o in others)
            if not elsewhere and any(
                m.span.end <= span.start and span.start - m.span.end <= _NARRATIVE_REACH for m in reactions
            ):
                severe.append(doc.words(span))
            elif not present:
                free.append(doc.words(span))
        return tuple(dict.fromkeys(severe)), tuple(dict.fromkeys(free))

    @staticmethod
    def _nearest_mention(
        doc: Doc, span: Span, mentions: list[Mention], sentences: Boundaries
    ) -> tuple[Mention, int] | None:
        best: tuple[Mention, int] | None = None
        for m in mentions:
            if span.overlaps(m.span):
                distance = 0
            else:
                left, right = (span, m.span) if span.start < m.span.start else (m.span, span)
                if sentences.between(left.end, right.start):
                    continue
                distance = doc.gap(left.end, right.start)
            if best is None or distance < best[1]:
                best = (m, distance)
        return best

    def _describes_other_noun(self, doc: Doc, span: Span, mentions: list[Mention]) -> bool:
        """ "severe nausea": the word after a severity adjective is a noun no finding covers."""
        if span.end >= len(doc.surface):
            return False
        nxt = doc.surface[span.end]
        graded = doc.surface[span.end - 1].isdigit() and span.end in doc.dashed
        if nxt in _PUNCTUATION or nxt in self._mild.words or not nxt.isalpha() or graded:
            return False  # ... not a grade across a clause dash: "it was grade 3 - needed admission"
        if any(m.span.start <= span.end < m.span.end for m in mentions):
            return False
        return nxt not in self._severity.words and nxt not in _FUNCTION_WORDS

    def _another_products(
        self, doc: Doc, symptom: Span, whole: Span, sentences: Boundaries, clauses: Boundaries
    ) -> bool:
        """A reaction to another product: the product its symptom is attached to decides ("rash during the
        rituximab infusion ... besponsa tomorrow", "grade 3 rash from cotrimoxazole, besponsa infusions
        uneventful"); then the one product named in the symptom's clause ("the rituximab gave him a grade 3
        IRR with hypotension, but the inotuzumab ran with mild chills"); else the products near the whole
        mention."""
        owner = self._attached_product(doc, symptom) or self._clause_product(doc, symptom, clauses)
        return owner == "other" if owner else self._other_product_near(doc, whole, sentences)

    def _clause_product(self, doc: Doc, symptom: Span, clauses: Boundaries) -> str:
        """ "ours" or "other" when the symptom's clause names only one kind of product, else "". A symptom in
        brackets belongs to the clause the bracket opens in ("rituximab reaction (fever, chills)")."""
        surface, start = doc.surface, symptom.start
        for i in range(start - 1, -1, -1):
            if surface[i] == ")":
                break
            if surface[i] == "(":
                start = i
                break
        while start > 0 and not clauses.between(start - 1, start):
            start -= 1
        end = symptom.end
        while end < len(surface) and not clauses.between(end, end + 1):
            end += 1
        clause = Span(start, end)
        ours = any(s.overlaps(clause) for s in self._own_product.find(doc))
        other = any(s.overlaps(clause) for s in self._other_product.find(doc))
        return "" if ours == other else ("ours" if ours else "other")

    def _treated_with(self, surface: Sequence[str], i: int) -> bool:
        """ "chills that settled WITH paracetamol", "resolved AFTER an antihistamine", "responded TO
        hydrocortisone", "rigors severe enough TO need pethidine": the words name what treated the reaction,
        not the product that caused it."""
        if surface[i] == "to" and i + 1 < len(surface) and surface[i + 1] in _NEEDING:
            return True
        return i > 0 and surface[i - 1] in self._treatment_verbs

    def _attached_product(self, doc: Doc, symptom: Span) -> str:
        """ "ours" or "other" for the product named right after the preposition that attaches a symptom to
        its cause ("fever and chills DURING an FFP transfusion", "rash FROM cotrimoxazole", "rigors WITH
        ino");
        "" when none is named there."""
        surface = doc.surface
        reach = min(len(surface), symptom.end + _ATTACHMENT_REACH)
        for i in range(symptom.end, reach):
            if surface[i] in _PUNCTUATION:
                return ""
            if surface[i] not in _ATTACHING or self._treated_with(surface, i):
                continue
            if i + 1 < len(surface) and _DECIMAL.fullmatch(surface[i + 1]):
                continue  # "hypotensive to 70/40", "fever to 39.5": a value, not a cause
            ours = {s.start for s in self._own_product.find(doc)}
            others = {s.start for s in self._other_product.find(doc)}
            for j in range(i + 1, min(len(surface), i + 1 + _ATTACHMENT_REACH)):
                if surface[j] in _PUNCTUATION or (j == i + 1 and surface[j] in _POINTING):
                    break  # "anaphylaxis with it yday": "it" is all that is attached, whatever follows
                if j in ours:
                    return "ours"
                if j in others or self._rare(surface[j]):
                    return "other"
            return ""
        return ""

    def _other_product_near(self, doc: Doc, mention: Span, sentences: Boundaries) -> bool:
        """A reaction to another product: "urticaria during the platelet transfusion", "anaphylaxis to
        pegaspargase", "hypotension during the IVIG infusion". Our own drug's name next to it wins."""
        lo, hi = max(0, mention.start - 3), min(len(doc.surface), mention.end + 4)
        window = Span(lo, hi)
        if any(s.overlaps(window) for s in self._own_product.find(doc)):
            return False
        if any(
            s.overlaps(window) and not sentences.between(*_order(s, mention))
            for s in self._other_product.find(doc)
        ):
            return True
        # "during the ampho B infusion": a rare word that is not ours just before the infusion word.
        for i in range(lo, hi):
            if doc.surface[i] in self._infusion_words and any(
                self._rare(doc.surface[j]) for j in range(max(0, i - 2), i)
            ):
                return True
        # "to/with/from <drug>": a rare word that is not ours names another product.
        for i in range(mention.end, hi - 1):
            if self._treated_with(doc.surface, i):
                continue
            if doc.surface[i] in {"to", "from", "with"} and i + 1 < len(doc.surface):
                word = (
                    doc.surface[i + 1]
                    if doc.surface[i + 1] not in {"the", "a", "his", "her"}
                    else (doc.surface[i + 2] if i + 2 < len(doc.surface) else "")
                )
                # "anaphylaxis to penicillin", "allergic to latex": what a reaction is TO names its cause
                if self._rare(word) or (doc.surface[i] == "to" and self._uncommon(word)):
                    return True
        return False

    @staticmethod
    def _infusing(
        doc: Doc, ours: list[Span], cues: frozenset[str] = _UNDER_WAY, before: int = 2, after: int = 6
    ) -> bool:
        """Our drug named with a word saying it is being given now ("ino running", "getting ino now"), within
        ``before`` tokens before its name and ``after`` tokens after it."""
        return any(cues & set(doc.surface[max(0, span.start - before) : span.end + after]) for span in ours)

    def _bare_infusions(self, doc: Doc, products: list[Span]) -> list[Span]:
        """ "Infusion started at 14:00": an infusion named without its drug, in a text that names no other
        product, is ours (a transfusion never is)."""
        if products:
            return []
        return [Span(i, i + 1) for i, t in enumerate(doc.surface) if t in self._bare_infusion_words]

    @staticmethod
    def _given_today(doc: Doc, ours: list[Span]) -> bool:
        """Our drug named as given earlier today: "had his Besponsa on the day unit this morning", "InO
        infusion ended 2 hours ago", "had her InO at 10" (a clock time after "at")."""
        if Reader._infusing(doc, ours, _GIVEN_TODAY, before=0, after=_TODAY_REACH):
            return True
        # "had her InO at 10", "ino on at 09:30", not "start ino at 12:00?"
        had = [
            span
            for span in ours
            if _HAD & set(doc.surface[max(0, span.start - 3) : span.start])
            or _put_up_at(doc.surface, span.end)
        ]
        after = [doc.surface[span.end : span.end + _TODAY_REACH] for span in had]
        if any(t == "at" and n[:1].isdigit() for words in after for t, n in pairwise(words)):
            return True
        # "ino D8 given 10am", "InO given at 09:30": given, then a clock time
        for span in ours:
            words = doc.surface[span.end : span.end + _TODAY_REACH]
            padded = [*words, "", ""]
            for i, word in enumerate(words):
                then, mark = padded[i + 1], padded[i + 2]
                if word in _HAD and (then == "at" or (then[:1].isdigit() and mark in _CLOCK_MARKS)):
                    return True
        return False

    def _cycle_of_other(self, doc: Doc, m: Mention, others: list[Span], ours: list[Span]) -> Mention:
        """ "cycle 3 of blinatumomab", "how many cycles of azacitidine": a cycle of another product (named as
        such, or a medicine's name) is not ours."""
        if m.condition != CYCLE_CONDITION or m.status != "present":
            return m
        # "cycle 6 of mini-hyper-CVD + low-dose ino": a combination that includes ours is ours too
        if any(self._combined(doc.surface, m.span.end, s.start) for s in ours):
            return m
        follows = Span(m.span.end, min(len(doc.surface), m.span.end + 3))
        joined = m.span.end < len(doc.surface) and doc.surface[m.span.end] in {"of", "with"}
        if joined and (
            any(s.overlaps(follows) for s in others)
            or self._names_drug(doc.surface[follows.start + 1 : follows.end + 1], opening=True)
        ):
            return replace(m, status="other")
        # "Other patient on hyper-CVAD - how many cycles of that?": the product pointed back at is the other
        # one named before, when ours is not named
        pointed = joined and doc.surface[m.span.end + 1 : m.span.end + 2] == ("that",)
        if pointed and not ours and any(s.end <= m.span.start for s in others):
            return replace(m, status="other")
        # "how many blina cycles?": another product's name inside the phrase, before its cycle word
        if any(m.span.start < s.start and s.end < m.span.end for s in others):
            return replace(m, status="other")
        # "prior hyper-CVAD x4 cycles": a count right after another product's name is that product's
        if any(s.end <= m.span.start and set(doc.surface[s.end : m.span.start]) <= {"x"} for s in others):
            return replace(m, status="other")
        return m

    @staticmethod
    def _combined(surface: Sequence[str], after: int, ours: int) -> bool:
        """Our drug's name at ``ours`` is joined to the regimen named after a cycle's "of" (at ``after``):
        "of mini-hyper-CVD + low-dose ino", "of hyper-CVD with InO" (not "of blinatumomab starting Monday -
        any interaction with the ino")."""
        if not (after < ours and surface[after] == "of"):
            return False
        joins = [i for i in range(after + 1, ours) if surface[i] in _COMBINING]
        return bool(joins) and joins[0] - after <= _REGIMEN_WORDS and ours - joins[0] <= _REGIMEN_WORDS

    def _decides_other(
        self,
        doc: Doc,
        intent: Span,
        ours: list[Span],
        others: list[Span],
        denied: bool,
        objects: Callable[[int], str],
    ) -> bool:
        """A decision about another product: "continue blina?", "hold the gemtuzumab?", "stop the
        enoxaparin?", "continue his levetiracetam, not ino": its object, in the next few words, names another
        product and not ours."""
        # a verb offered as its alternative shares its object: "hold or reduce the apixaban?" (not a next
        # act: "pause and give hydrocortisone?")
        joined = intent.end + 1 < len(doc.surface) and doc.surface[intent.end] == "or"
        verb = doc.surface[intent.end + 1] if joined else ""
        shared = joined and verb.isalpha() and verb not in self._object_skip and is_verb_form(verb)
        after = intent.end + 2 if shared else intent.end
        # the object ends where a clause of time or condition opens: "continue ino once defibrotide is going?"
        reach = doc.surface[after : after + _OBJECT_REACH]
        reach = reach[: next((i for i, w in enumerate(reach) if w in _CLAUSE_OPENERS), len(reach))]
        window = Span(after, after + len(reach))
        if any(s.overlaps(window) for s in ours):
            return False
        # ... or another product named right before it, as its noun's modifier: "defibrotide dose adjustment?"
        modifier = doc.surface[intent.start - 1 : intent.start] if intent.start not in doc.dashed else ()
        if modifier and (any(s.end == intent.start for s in others) or self._names_drug(modifier)):
            return True
        if any(s.overlaps(window) for s in others) or objects(after) == _OTHER:
            return True
        # ... or its subject, between an auxiliary and the verb: "can the defibrotide stop?" (ours there, in
        # the passive, is what is decided: "can ino be continued once defibrotide is going?")
        before = doc.surface[max(0, intent.start - _OBJECT_REACH - 1) : intent.start]
        aux = max((i for i, w in enumerate(before) if w in _PRESENT_AUXILIARIES), default=None)
        if aux is not None and aux + 1 < len(before):
            subject = Span(intent.start - len(before) + aux + 1, intent.start)
            if any(s.overlaps(subject) for s in ours):
                return False
            if objects(subject.start) == _OTHER:
                return True
        # ... or, when nothing follows it (but a verb: "G-CSF ok to start?", or its day: "Vincristine due
        # today, bili 2.5"), what its clause opens with: "Hyper-CVAD cycle 3 due, plt 90"
        end = intent.end
        if doc.surface[end - 1] == "to" and end < len(doc.surface) and doc.surface[end].isalpha():
            verb = doc.surface[end]
            if is_verb_form(verb) and verb not in self._object_ends:
                end += 1
        while end < len(doc.surface) and doc.surface[end] in _DAYS_NAMED:
            end += 1
        if end == len(doc.surface) or not doc.surface[end][:1].isalnum() or end in doc.dashed:
            start = intent.start
            while (
                start > max(0, intent.start - _SUBJECT_REACH)
                and doc.surface[start - 1][:1].isalnum()
                and doc.surface[start - 1] not in _PRESENT_AUXILIARIES | _POLAR  # "... can I push on?"
                and doc.surface[start - 1] not in {"and", "or", "then"}  # "give G-CSF and proceed - agree?"
            ):
                start -= 1
            subject = Span(start, intent.start)
            # ... a medicine's name opening the clause ("filgrastim ok to start?")
            first = start  # ... after its article ("the next MTX is due tomorrow")
            while first < subject.end and doc.surface[first] in self._object_skip:
                first += 1
            head = doc.surface[first : min(subject.end, first + _DRUG_NAME_WORDS)]
            opens = not start or not doc.surface[start - 1][:1].isalnum()
            named = (
                opens
                and bool(head)
                and (
                    self._names_drug(head, opening=True)
                    or (self._rare(head[0]) and bool(self._product_stem.fullmatch(head[0])))
                )
            )
            named = named or any(s.overlaps(subject) for s in others)
            if named and not any(s.overlaps(subject) for s in ours):
                return True
        # "hold the dasatinib?": a word the rules do not know, ending in a drug-name stem, is a product
        words = doc.surface[window.start : window.end]
        if any(self._rare(w) and self._product_stem.fullmatch(w) for w in words):
            return True
        # A rare word may be our drug in other words ("suspend the medicament?"): another product only when
        # the text says it is not about ours ("continue his levetiracetam, not ino": ``denied``).
        return denied and any(self._rare(doc.surface[i]) for i in range(window.start, window.end))

    def _object_of(
        self,
        doc: Doc,
        own: frozenset[int],
        others: frozenset[int],
        product_words: Callable[[], frozenset[str]],
        start: int,
    ) -> str:
        """What the words from ``start`` name as a verb's object: ours ("the D8 dose", "the pump"), another
        product or act ("the IV iron", "the posaconazole", "the bone marrow biopsy"), or nothing ("hold?",
        "with premeds?"). Only a product named as one (`other_product`, a drug-name stem, or a medicine's name
        in corpus/drug_names.yaml) or a procedure or test (`asked_object.acts`) is another: when in doubt the
        object is ours, and the rule fires ("suspend the medicament?")."""
        surface, i = doc.surface, start
        while i < len(surface) and surface[i] in self._object_skip:
            i += 1
        # an amount of it names what it is of: "give 50% of the vincristine", "half of the dose"
        amount = _AMOUNT_OF.match(" ".join(surface[i : i + _AMOUNT_WORDS]))
        if amount:
            i += len(amount.group(0).split())
            while i < len(surface) and surface[i] in self._object_skip:
                i += 1
        words = []
        while i < len(surface) and surface[i][:1].isalnum() and surface[i] not in self._object_ends:
            words.append(i)
            i += 1
        if not words and i < len(surface) and surface[i] == "with":
            # "proceed with the D15 bone marrow biopsy?": a procedure gone ahead with
            after = self._object_of(doc, own, others, product_words, i + 1)
            acted = surface[i + 1 : i + 1 + _ACT_REACH]
            return _OTHER if after == _OTHER and any(w in self._acts for w in acted) else ""
        if not words:
            return ""
        # a procedure or test, whatever day or finding it names: "can she have her dental extraction?", "do
        # the D15 bone marrow biopsy?" (not one with our drug's name in it)
        if any(surface[w] in self._acts for w in words) and not any(
            surface[w] in self._own_product.words for w in words
        ):
            return _OTHER
        # a dose of another product names that product: "a single dose of IV paracetamol"
        for w in words[:-1]:
            of = range(w + 2, words[-1] + 1)
            ours = any(surface[o] in self._own_product.words for o in of)
            if surface[w + 1] == "of" and not ours and self._names_product(surface, others, of):
                return _OTHER
        # "her" before a noun is whose it is ("keep taking her rivaroxaban"), not the patient as the object
        if any(w in own and not (surface[w] in _POSSESSIVE and w != words[-1]) for w in words):
            return _OURS
        named = self._names_product(surface, others, words)
        return _OTHER if named or _shortened(surface, product_words(), words) else _OURS

    def _names_product(
        self, surface: Sequence[str], others: frozenset[int], words: Sequence[int], opening: bool = False
    ) -> bool:
        """The words at ``words`` name another product: one the text names as such (``others``), a word ending
        in a drug-name stem, or a medicine's name; only from the first word on, when ``opening``."""
        heads = words[:1] if opening else words
        return any(
            w in others or self._product_stem.fullmatch(surface[w]) for w in heads
        ) or self._names_drug([surface[w] for w in words], opening=opening)

    def _of_other(self, doc: Doc, end: int, others: frozenset[int]) -> bool:
        """A word of our treatment followed by "of" and another product: "the next dose of voriconazole"."""
        surface = doc.surface
        if end + 1 >= len(surface) or surface[end] != "of":
            return False
        name = range(end + 1, min(len(surface), end + 1 + _DRUG_NAME_WORDS))
        return self._names_product(surface, others, name, opening=True)

    def _product_words(self, doc: Doc, others: frozenset[int]) -> frozenset[str]:
        """The words of a text that name another product: those of the products it names (``others``), and
        any ending in a drug-name stem or naming a medicine (what a shortened name may shorten)."""
        surface = doc.surface
        return frozenset(surface[i] for i in others) | {
            w for w in surface if self._product_stem.fullmatch(w) or self._names_drug([w])
        }

    def _asks_other(
        self,
        doc: Doc,
        ends: Sequence[Span],
        intent: Sequence[Span],
        own: Collection[int],
        objects: Callable[[int], str],
        ours: Sequence[Span],
    ) -> bool:
        """Every sentence that asks ("...?") acts on another product: "ANC 0.7 on InO. Start G-CSF?", "Plt 70
        on InO - stop enoxaparin?". A sentence's verb follows an asker ("should we") or opens it; with no
        verb, a sentence naming our treatment asks about it ("D8 ok?")."""
        surface = doc.surface
        if "?" not in surface:
            return False
        askers, choosers = self._askers.find(doc), self._choosers.find(doc)
        verdicts = []
        start = 0
        for stop in sorted(e.start for e in ends):
            if surface[stop] == "?":
                sentence = Span(start, stop)
                verdict = self._sentence_object(doc, sentence, intent, objects, ours, askers, choosers)
                named = any(start <= i < stop for i in own)
                if not verdict and named:
                    # "start ciprofloxacin prophylaxis? what dose?": a bare dose asked right after another
                    # product's decision is that product's, unless it names ours ("... and D8?")
                    follows_other = bool(verdicts) and verdicts[-1] == _OTHER
                    # ... and so is a question that names another medicine after its asking words ("Plt 45:
                    # is aspirin for her stent still ok?"); ours named before them says what the patient
                    # is on ("neutropenic on inotuzumab - is posaconazole indicated?")
                    asked = self._asked_from(doc, sentence, askers)
                    # ... or, with no asking words, that its last clause opens on ("defibrotide dose in VOD?",
                    # "ANC 0.1 on ino - filgrastim daily or pegfilgrastim?")
                    opened = max(_clause_openings(doc, sentence))
                    # ... its last part after a comma, when that opens on another medicine ("pt on ino
                    # developed VOD, defibrotide dose?")
                    if asked is None:
                        comma = max((i + 1 for i in range(opened, stop) if surface[i] == ","), default=None)
                        if comma is not None and self._names_drug(surface[comma : comma + _DRUG_NAME_WORDS]):
                            opened = comma
                    ours_named = any((opened if asked is None else asked) <= o.start < stop for o in ours)
                    head = surface[opened : opened + _DRUG_NAME_WORDS]
                    names_other = self._names_drug(surface[asked:stop] if asked is not None else head)
                    # ... or that opens on another product named as such ("blina dose for her weight?")
                    names_other = names_other or (asked is None and objects(opened) == _OTHER)
                    verdict = _OTHER if (follows_other or names_other) and not ours_named else _OURS
                elif not verdict:
                    # "pip-taz or meropenem?": a question with no verb that names other products only; or
                    # one that names another medicine and nothing of ours
                    heads = [start, *(i + 1 for i in range(start, stop) if surface[i] in _JOINERS)]
                    other = _OTHER in map(objects, heads) or self._names_drug(surface[start:stop])
                    verdict = _OTHER if other else ""
                verdicts.append(verdict)
            start = stop + 1
        return _OTHER in verdicts and _OURS not in verdicts

    @staticmethod
    def _asked_from(doc: Doc, sentence: Span, askers: Sequence[Span]) -> int | None:
        """Where a question's asking words start: an asker ("can we"), or an auxiliary opening the sentence
        or a clause after a colon or dash ("Plt 45: is ..."); None when it has none."""
        surface = doc.surface
        found = [a.start for a in askers if sentence.start <= a.start < sentence.end]
        found += [
            i
            for i in _clause_openings(doc, sentence)
            if i < sentence.end and surface[i] in _PRESENT_AUXILIARIES
        ]
        return min(found, default=None)

    def _sentence_object(
        self,
        doc: Doc,
        sentence: Span,
        intent: Sequence[Span],
        objects: Callable[[int], str],
        ours: Sequence[Span],
        askers: Sequence[Span],
        choosers: Sequence[Span],
    ) -> str:
        """What the verbs of one asking sentence act on (see ``_asks_other``); our drug named after its first
        verb is asked about too ("hold just the dasatinib or the Besponsa too?")."""
        surface = doc.surface
        slots: list[tuple[int, bool]] = []  # where an object starts, and whether a decision verb precedes it
        decisions = {s.start: s for s in intent if sentence.start <= s.start < sentence.end}
        verbs = [a.end for a in askers if sentence.start <= a.start < sentence.end]
        # the sentence's first word, and the first after a colon ("Pt on InO has ANC 0.8: start filgrastim?");
        # not a patient's label ("bay 1: ANC 0.5 - G-CSF?")
        labels = {r.start for r in self._patient_ref.find(doc)}
        for first in _clause_openings(doc, sentence):
            while first < sentence.end and surface[first] in self._object_skip:
                first += 1
            opener = surface[first] if first < sentence.end else ""
            # "Temp 38.6": a label before its value, not a verb ("give 2 units": a basic English verb)
            labels_value = (
                first + 1 < sentence.end and surface[first + 1][:1].isdigit() and not is_basic_word(opener)
            )
            # ("?VOD vs sepsis - should we switch to meropenem?": "query" there marks a finding as suspected)
            verb_like = first in decisions or (
                is_verb_form(opener) and not labels_value and opener != QUERIED and first not in labels
            )
            if opener.isalpha() and opener not in self._object_ends and verb_like:
                verbs.append(first)
        for verb in verbs:
            while verb < sentence.end and surface[verb] in self._object_skip:
                verb += 1
            if verb >= sentence.end or surface[verb] in self._object_ends:
                continue
            decision = decisions.pop(verb, None)
            slots.append((decision.end, True) if decision else (verb + 1, False))
        slots += [(s.end, True) for s in decisions.values()]
        slots += [(c.end, False) for c in choosers if sentence.start <= c.start < sentence.end]
        # (not a pro-form chosen: "start G-CSF, and which one?" chooses among what was named)
        slots = [(at, d) for at, d in slots if not _chosen(surface, at)]
        # ... not when it only says when the finding came ("start G-CSF for ANC 0.5 after ino?")
        named = [o for o in ours if not _since_ours(surface, o.start)]
        if slots and any(min(at for at, _ in slots) <= o.start < sentence.end for o in named):
            return _OURS
        # a verb that itself gives another product acts on it with no object named ("do we transfuse first?")
        kinds = [
            objects(at) or (_OURS if decision else _OTHER if surface[at - 1] in self._gives_other else "")
            for at, decision in slots
        ]
        if _OURS in kinds:
            return _OURS
        # ... and any verb whose object is another product ("ANC 0.6, T 38.5 on InO - start meropenem?")
        verbs_of_others = [
            i
            for i in range(sentence.start, sentence.end)
            if surface[i].isalpha() and surface[i] not in self._object_ends and is_verb_form(surface[i])
        ]
        # "hold the enoxaparin and the Besponsa both?": ours joined to the other product is asked about too
        joined = [i for i in range(sentence.start, sentence.end) if surface[i] in _JOINERS]
        if any(j < o.start <= j + 2 and o.start < sentence.end for j in joined for o in ours) and any(
            objects(v + 1) == _OTHER and v < j for v in verbs_of_others for j in joined
        ):
            return _OURS
        # "can she have it anyway if we give platelets first?": the patient having "it" is our treatment
        received = range(sentence.start, sentence.end - 1)
        if any(surface[i] in _RECEIVING and surface[i + 1] == "it" for i in received):
            return _OURS
        if _OTHER in kinds:
            return _OTHER
        # (or whose new product follows "to": "switch to meropenem?", "change to pegfilgrastim?")
        acting = [
            i
            for i in verbs_of_others
            if objects(i + 1) == _OTHER or (surface[i + 1 : i + 2] == ("to",) and objects(i + 2) == _OTHER)
        ]
        if acting:
            # ... not one offered as the alternative to ours in its clause: "C3 of ino or switch to blina?"
            opened = max(_clause_openings(doc, sentence))
            offered = [
                j
                for j in joined
                if surface[j] == "or" and j + 1 in acting and surface[j + 1] not in self._object_skip
            ]
            if any(opened <= o.start < j for o in named for j in offered):
                return _OURS
            # ... unless ours is named after a transfusion first: "PLT 9 - transfusing 1 pool, then ino?"
            first = [i for i in acting if surface[i] in self._gives_other]
            return _OURS if first and any(first[0] < o.start < sentence.end for o in named) else _OTHER
        return ""

    def _uncommon(self, word: str) -> bool:
        """A word the rules do not know, outside basic English: a thing, where a reaction is to it."""
        return word.isalpha() and word not in self._known and not is_basic_word(word)

    def _names_drug(self, words: Sequence[str], opening: bool = False) -> bool:
        """Some words in a row (up to three; the first ones, when ``opening``) name another medicine
        ("aspirin", "milk thistle"); words the rules know (ours, clinical words) and short codes ("C3") never
        do."""
        for i in range(1 if opening else len(words)):
            for j in range(i + 1, min(len(words), i + _DRUG_NAME_WORDS) + 1):
                part = words[i:j]
                if all(w.isalpha() and w not in self._known for w in part) and " ".join(part) in self._drugs:
                    return True
        return False

    def _rare(self, word: str) -> bool:
        """A word that names something the rules do not know (a product): not ours, not everyday English."""
        return word.isalpha() and word not in self._known and not is_everyday_word(word)

    def _held_for(
        self,
        doc: Doc,
        sentences: Boundaries,
        mentions: Sequence[Mention],
        subjects: dict[str, list[Span]],
        others: Sequence[Span],
        products: Sequence[Span],
        *,
        several: bool = False,
    ) -> tuple[frozenset[str], bool]:
        """The conditions the text says treatment was held for: a hold ("we held D15", "delayed a week")
        in one sentence with the finding or its test ("Transaminitis in C1 meant we held D15", "for
        counts"). Not a hold denied ("without any InO delay"), nor another patient's ("my co-resident's
        patient ... and they held it"), nor another product's ("dasatinib was held for plt 40"), nor of
        something else ("transplant delayed": no finding there). And whether it tells a hold in a sentence
        that names no finding ("held D8"), when it tells no hold for a finding."""
        # (what a question asks is not told: "plt 175 after the hold - back on the ino?")
        ended = [e for e in self._held_ended.find(doc) if not _asked_in(doc.surface, e, sentences)]

        def together(a: Span, b: Span) -> bool:
            return not sentences.between(*_order(a, b))

        def back(hold: Span, finding: Span) -> bool:
            """ "ANC 0.9 -> 3.8. We held D8 for it.": a hold for a pronoun is for the finding before it."""
            pronoun = doc.surface[hold.end : hold.end + _HELD_FOR_REACH]
            if not any(a == "for" and b in _BACK for a, b in pairwise(pronoun)):
                return False
            return finding.end <= hold.start and sentences.count(finding.end, hold.start) <= 1

        holds = [
            h
            for h in self._held.find(doc)
            if _NOT_HELD.isdisjoint(doc.surface[max(0, h.start - _NOT_HELD_WINDOW) : h.start])
            and not any(together(o, h) for o in others)
            and not any(0 <= h.start - p.end <= _HELD_SUBJECT for p in products)
            and not self._names_drug(doc.surface[max(0, h.start - _HELD_SUBJECT) : h.start])
            and not any(e.start > h.start and together(e, h) for e in ended)
        ]
        # "Mr A ALT 5x ULN, InO held. Mr B ...": a hold told only beside another patient's findings is theirs
        if several:
            theirs = [m.span for m in mentions if m.status == "other"]
            own = [m.span for m in mentions if m.status != "other"]
            holds = [
                h
                for h in holds
                if not any(together(h, s) for s in theirs) or any(together(h, s) for s in own)
            ]
        found: dict[str, list[Span]] = {}
        for m in mentions:
            if m.status != "other":
                found.setdefault(m.condition, []).append(m.span)
        for condition, spans in subjects.items():
            found.setdefault(condition, []).extend(spans)
        # "Suspected VOD, bili 1.0, holding for now": a hold beside a finding present is for it, not for
        # the normal test beside it
        present = [m.span for m in mentions if m.status == "present" and not m.resume]
        held = frozenset(
            c
            for c, spans in found.items()
            for h in holds
            if any(together(h, s) or back(h, s) for s in spans)
            and (
                any(together(h, s) for s in spans if s in present) or not any(together(h, p) for p in present)
            )
        )
        # ... and whether a hold is told in a sentence naming no finding ("we held. now D15, plt 160. give?"):
        # then it was for what the turn before told
        told = [s for spans in found.values() for s in spans]
        alone = any(not any(together(h, s) or back(h, s) for s in told) for h in holds)
        return held, alone and not held

    def _more_asked(self, doc: Doc, mentions: Sequence[Mention]) -> str:
        """ "One more" / "another" asking for a cycle: at the end of a clause, or before a cycle word or our
        drug ("further inotuzumab", or with it: "any more ino needed?"); not before anything else ("one more
        dose of antiemetic"), and not when it is part of a cycle already read ("another patient got SOS on a
        third cycle": that mention's status decides)."""
        ours = {s.start for s in self._own_product.find(doc)}
        negations = {s.end for s in self._before.find(doc)}
        cycles = [m.span for m in mentions if m.condition == CYCLE_CONDITION]
        for span in self._one_more.find(doc):
            if span.start in negations:  # "no further inotuzumab planned"
                continue
            if any(span.overlaps(c) for c in cycles):
                continue
            end = span.end
            if end < len(doc.surface) and doc.surface[end] == "one":  # "a third one": the cycle left out
                end += 1
            after = doc.surface[end] if end < len(doc.surface) else ""
            timed = after in self._cycle_words or after in self._more_then  # "one more cycle / before HSCT"
            # "give one more to bridge": a purpose after an elided object (not "anything further to note")
            timed = timed or (after == "to" and any(s.end == span.start for s in self._intent.find(doc)))
            if not after.isalnum() or timed or any(span.start <= o <= span.end for o in ours):
                return doc.words(span)
        # ... or a 3rd one with its noun left out, of the cycles an earlier turn counted ("C1 and C2 done"
        # then "any reason a 3rd is needed?")
        if not cycles:
            back = [span for _, span, refers in self._elided_ordinals(doc) if refers]
            if back:
                return doc.words(back[0])
        return ""

    def _elided_cycle(self, doc: Doc, sentences: Boundaries) -> list[Mention]:
        """ "Stop after 2 cycles or push for a 3rd?": an ordinal of a 3rd or later one with its noun left out
        (nothing but punctuation or a function word after it) refers back to the cycles named before it in
        its sentence (a cycle's code counts: "had C1 and C2 of ino. a 3rd?")."""
        surface = doc.surface
        cycles = [
            i
            for i, w in enumerate(surface)
            if w in self._cycle_words and (w != "c" or (surface[i + 1 : i + 2] and surface[i + 1].isdigit()))
        ]
        for number, span, back in self._elided_ordinals(doc):
            before = [c for c in cycles if c < span.start and (back or not sentences.between(c, span.start))]
            if before:
                words = f"{surface[before[-1]]} ... {doc.words(span)}"
                reason = f"'{words}' read as a {ordinal(number)} cycle (the noun left out)"
                return [Mention(CYCLE_CONDITION, words, "present", span, reason=reason)]
        return []

    def _elided_ordinals(self, doc: Doc) -> list[tuple[int, Span, bool]]:
        """Ordinals of a 3rd or later one with the noun left out ("a third?", "the 4th", "any reason a 3rd is
        needed"): the number, its words, and whether it may refer back across sentences or turns."""
        surface = doc.surface
        found = []
        for i, word in enumerate(surface):
            number = ordinal_word(word) or (
                int(word) if word.isdigit() and i + 1 < len(surface) and surface[i + 1] in {"rd", "th"} else 0
            )
            # "a third?", "the 4th", or the ordinal alone opening a clause ("Two cycles so far. Third?"),
            # which may refer back across the sentence.
            opening = i > 0 and surface[i - 1] in _PUNCTUATION
            if number < 3 or i == 0 or not (opening or surface[i - 1] in _ELIDED_DETERMINERS):
                continue
            if number >= _DATE_ORDINALS and word.isdigit():
                continue  # "transplant booked for the 14th": a day of the month, not a 14th cycle
            if surface[i - 1] == "the" and i > 1 and surface[i - 2] in _DATED_BY:
                continue  # "D8 was given on the 3rd": a date
            end = i + 1 if ordinal_word(word) else i + 2
            # "Is a third one justified?": "one" stands for the noun, and refers back across sentences
            pronoun = end < len(surface) and surface[end] == "one"
            end += pronoun
            after = surface[end] if end < len(surface) else "."
            if after.isalpha() and after not in _ELLIPSIS_FOLLOWERS and not pronoun:
                continue  # "a 3rd dose", "the third week": the noun is there
            # An ordinal that ends a question ("... going to HCT. Any need for a 3rd?") may refer back too.
            # So may one whose verb follows it ("2 cycles given; ... if a 3rd would increase the VOD risk").
            back = opening or after == "?" or pronoun or after in _ELLIPSIS_FOLLOWERS
            found.append((number, Span(i - 1, end), back))
        return found

    def _cycles_given(self, doc: Doc) -> int:
        """Cycles given so far, from a count of cycles ("2 cycles", "two courses", "2nd cycle done") or the
        cycle a patient is in ("C2D15", "cycle 2 day 8"); 0 when the text gives none."""
        tokens, most = doc.text.split(" "), 0
        for i, token in enumerate(tokens):
            number = cardinal(token) or ordinal_word(token)
            if not number:
                continue
            if tokens[i + 1 : i + 2] in (["st"], ["nd"], ["rd"], ["th"], ["x"]):  # "2nd cycle", "2 x cycles"
                i += 1
            after = tokens[i + 1] if i + 1 < len(tokens) else ""
            before = tokens[i - 1] if i else ""
            beyond = tokens[i + 2] if i + 2 < len(tokens) else ""
            if beyond in self._cycle_words and after.isalpha() and after not in {"more", "further", "of"}:
                most = max(most, number)  # "two induction cycles", "2 ino courses"
            if after in self._durations:
                continue  # "her first cycle three months ago": a time, not a cycle's number
            # "she's done two.": a count of what was given, its noun left out
            clock = after == ":" and beyond.isdigit()  # "infusion completed 14:00": a time
            done = before in _GIVEN_VERBS and (not after or after in _PUNCTUATION) and not clock
            # "after the 2 she's had": the count of what the patient was given, its noun left out
            done = done or (
                before in {"the", "those"}
                and after in _RECEIVERS
                and not _GIVEN_VERBS.isdisjoint(tokens[i + 2 : i + 4])
            )
            if after in self._cycle_words or before in self._cycle_words or before == "c" or done:
                most = max(most, number)
                # "cycles 1 and 2", "cycles 1 2" (from "1-2"): the last of a range or list (not a time after
                # it: "during cycle 1 three years ago")
                rest = tokens[i + 1 : i + 3]
                joined = rest[:1] in (["and"], ["to"], ["&"]) and len(rest) > 1
                last = rest[1] if joined else rest[0] if rest and rest[0].isdigit() else ""
                beyond_last = i + 3 if joined else i + 2
                timed = beyond_last < len(tokens) and tokens[beyond_last] in self._durations
                if before in self._cycle_words and cardinal(last) and not timed:
                    most = max(most, cardinal(last))
        return most

    def _rest_near(self, doc: Doc, parts: Sequence[Span]) -> bool:
        first, last = min(p.start for p in parts), max(p.end for p in parts)
        rests = self._rest_of.find(doc)
        return any(first - 2 <= r.end <= first or last <= r.start <= last + 1 for r in rests)

    def _analyte_of(self, doc: Doc, parts: Sequence[Span]) -> str:
        """The lab test a near-pair or a finding's name is about ("ALT ... raised" -> "alt",
        "thrombocytopenia" -> "platelets"); "" for a test panel ("LFTs") or a condition ("low counts")."""
        if len(parts) > 2:
            return ""
        return self._analyte_by_name.get(" ".join(doc.text.split(" ")[parts[0].start : parts[0].end]), "")

    def _list_commas(self, doc: Doc, boundaries: list[Span]) -> set[Span]:
        """Commas followed, before any other boundary, by a list joiner ("fever, chills or rash"); not a comma
        before a verb, which opens a clause ("not a transplant candidate, has had 3 cycles, continue to 5 or
        6?")."""
        joiners = [j.start for j in self._joiners.find(doc)]
        if not joiners:
            return set()
        listed = set()
        stop = len(doc.surface)  # start of the next boundary that is not a comma
        for b in reversed(boundaries):
            if doc.surface[b.start] != "," or (
                b.end < len(doc.surface) and doc.surface[b.end] in AUXILIARIES
            ):
                stop = b.start
            elif bisect_left(joiners, b.end) < bisect_left(joiners, stop):
                listed.add(b)
        return listed

    def _correct(self, token: str) -> str:
        """A long word one (or two) letters away from a condition word is read as that word, and a sign in the
        plural as the sign."""
        if token in self._known or not token.isalpha():
            return token
        if token in self._test_plurals:
            return self._test_plurals[token]
        # a plural typed with "z", as in a text message: "pltz 44k", "labz"
        if token.endswith("z") and token[:-1] + "s" in self._known:
            return self._correct(token[:-1] + "s")
        # "rashes", "fevers": a sign the rules list in the singular (not "drip's running", typed "drips")
        singular = self._by_stem.get(stem(token)) if token.endswith("s") else None
        if singular and token in (singular + "s", singular + "es") and singular not in self._infusion_words:
            return singular
        if len(token) < self._fuzzy.min_length or len(token) > MAX_FUZZY_LENGTH:
            # ... unless typed without its vowels ("blrbn 2,0", "pltlts 40"): the commonest condition word
            # it may be
            unvowelled = None if is_everyday_word(token) else vowels_put_back(token, self._fuzzy_vocabulary)
            # ... or a typo of a little everyday word ("rigors durign the infusion"), which would otherwise
            # read as a product's name; never another medicine's own short name ("blina")
            drug = self._names_drug([token])
            meant = None if drug else common_word_meant(token)
            # ... or two of its letters swapped ("how many cylces", "LTFs abnormal": a short one only when it
            # has no vowel, an abbreviation's; not an English word, "form", nor another language's, "alta")
            swapped = None
            unspoken = len(token) >= _SWAP_MIN or not set(token) & set("aeiouy")
            if unspoken and not drug and not is_english_word(token):
                swapped = letters_swapped(token, self._known)
            # ... or one of its letters left out ("chils and fevr during the infusion"), in a word of four
            # letters or more that is no English word nor a medicine's name
            dropped = None
            if len(token) >= _DROP_MIN and not drug and not is_english_word(token):
                dropped = letter_dropped(token, self._known)
            return unvowelled or swapped or dropped or meant or token
        return self._nearest(token)

    def _nearest_uncached(self, token: str) -> str:
        # "pt rigoring": a sign said as a verb in "-ing" (other endings name other things: "syncopal")
        inflected = self._by_stem.get(stem(token)) if token.endswith("ing") else None
        if inflected is not None:
            return inflected
        limit = 2 if len(token) >= self._fuzzy.long_length else 1
        best = process.extractOne(token, self._fuzzy_vocabulary, scorer=OSA.distance, score_cutoff=limit)
        if best is not None:
            return token if negates_word(token, best[0]) else best[0]  # "afebrile" is not "febrile"
        if is_everyday_word(token):
            return token
        # Spelt as another language spells it ("shock anafilactic"): compare the folded spellings.
        folded = process.extractOne(
            fold_spelling(token), self._folded_vocabulary, scorer=OSA.distance, score_cutoff=limit
        )
        if folded is not None:
            return folded[2]
        return vowels_put_back(token, self._fuzzy_vocabulary) or token  # "thrmbcytpnia"

    @staticmethod
    @staticmethod
    def _pairs(
        doc: Doc, firsts: list[Span], seconds: list[Span], window: int, clauses: Boundaries
    ) -> list[tuple[Span, ...]]:
        """A word of each list, at most ``window`` words apart in the same clause ("ALT ... 3x ULN")."""
        pairs: list[tuple[Span, ...]] = []
        for a in firsts:
            for b in seconds:
                if a.overlaps(b):
                    continue
                left, right = (a, b) if a.start < b.start else (b, a)
                if doc.gap(left.end, right.start) <= window and not clauses.between(left.end, right.start):
                    pairs.append((a, b))
        return pairs

    def _status(
        self,
        parts: Sequence[Span],
        negatable: bool,
        negation: tuple[list[Span], list[Span]],
        hypothetical: tuple[list[Span], list[Span]],
        retraction: list[Span],
        scope: Boundaries,
        dashes: frozenset[int] = frozenset(),
    ) -> Status:
        """Retracted ("SOS ruled out"), negated ("no SOS"), hypothetical ("at risk of SOS") or present."""
        if negatable and self._cued(parts, *negation, scope, dashes):
            return "retracted" if self._cued(parts, retraction, retraction, scope, dashes) else "negated"
        if negatable and self._cued(parts, *hypothetical, scope, dashes):
            return "hypothetical"
        return "present"

    def _cued(
        self,
        parts: Sequence[Span],
        before: list[Span],
        after: list[Span],
        scope: Boundaries,
        dashes: frozenset[int] = frozenset(),
    ) -> bool:
        """A cue shortly before any part, shortly after the whole match, or right after one of its parts
        ("reaction: none, infusion went fine"), in the same clause. A cue before reaches no further than the
        clause dash after it (``dashes``: "pt not going to HSCT - more cycles of ino okay?"); one after may
        ("VOD on doppler - excluded")."""
        end = max(p.end for p in parts)
        for cue in before:
            if any(cue.overlaps(p) for p in parts):
                continue
            for part in parts:
                if part.start < cue.end or scope.between(cue.end, part.start):
                    continue
                if any(cue.end < d <= part.start for d in dashes):
                    continue
                if part.start - scope.list_start(cue.end, part.start) <= self._window:
                    return True
        for cue in after:
            gap = cue.start - end
            inside = any(cue.overlaps(p) for p in parts)
            if 0 <= gap <= self._window and not inside and not scope.between(end, cue.start):
                return True
            # ... or right after an earlier part, a checklist's answer: "reaction: none, infusion went fine"
            if not inside and any(cue.start == p.end for p in parts):
                return True
        return False

    def _criteria_topic(
        self, doc: Doc, findings: list[Mention], ends: list[Span], subjects: frozenset[str]
    ) -> frozenset[str] | None:
        """The conditions a question about the rules is about: none named (every condition), or those it
        names in the question that a criteria cue opens ("When does an infusion reaction to InO mean
        permanent discontinuation?"), with no word pointing at a patient there. None: it states findings,
        so it is about this patient ("patient rash when infusion besponsa, we stop?")."""
        if not findings:
            # "when should ino be interrupted for the platelet count?": a test named without a value, or a
            # condition's subject ("at what counts should ino be interrupted?")
            named = self._labs.analyte_names.items()
            tests = {self._test_conditions[key] for key, names in named if names.find(doc)}
            topic = tests | (subjects - {CYCLE_CONDITION})
            if not topic and not self._labs.other_tests.isdisjoint(doc.surface):
                return None  # "what QTc value should make me hold it?": a test no rule here is about
            return frozenset(topic)
        stops = sorted(e.start for e in ends)
        clause_stops = sorted(e.start for e in [*ends, *self._boundaries.find(doc)])  # "Guardrails off: When"
        first = min(m.span.start for m in findings)
        start = max((i + 1 for i in clause_stops if i < first), default=0)
        end = min((i for i in stops if i >= max(m.span.end for m in findings)), default=len(doc.surface))
        # ... or "which" asks for the kinds of the condition named right after it ("Which infusion reactions
        # mean it can never be given again?")
        kinds = doc.surface[start] == "which" and first - start <= _KINDS_REACH
        opens = kinds or any(c.start == start for c in self._cues.find(doc))
        asked = end < len(doc.surface) and doc.surface[end] == "?"
        pointed = any(start <= d.start < end for d in self._deixis.find(doc))
        return frozenset(m.condition for m in findings) if opens and asked and not pointed else None

    def _criteria(
        self, doc: Doc, conditions: frozenset[str]
    ) -> tuple[tuple[frozenset[str], tuple[str, ...], frozenset[str]], bool] | None:
        """A question about the rules themselves ("when must it be permanently discontinued?"), of the
        ``conditions`` it names (empty: all of them), and whether its action word is only in a statement
        before the question ("paused it. restart when settled?": asked of what was told before)."""
        cues = self._cues.find(doc)
        if conditions:  # "Which infusion reactions mean ...?" (``_criteria_topic``)
            cues = sorted(
                [*cues, *(Span(i, i + 1) for i, w in enumerate(doc.surface) if w == "which")],
                key=lambda s: s.start,
            )
        # In a question, not in the story before it ("... when she said her chest felt tight ..."); each cue's
        # question runs from the sentence end before it to its question mark (without one, the whole text)
        sentences = [Span(0, len(doc.surface))]
        if "?" in doc.surface:
            ends = [e.start for e in self._sentence_ends.find(doc)]
            closing = [min((e for e in ends if e >= c.end), default=None) for c in cues]
            marked = zip(cues, closing, strict=True)
            asked = [(c, e) for c, e in marked if e is not None and doc.surface[e] == "?"]
            cues = [c for c, _ in asked]
            sentences = [Span(max((e + 1 for e in ends if e < c.start), default=0), end) for c, end in asked]
        if not cues:
            return None
        actions: set[str] = set()
        words: list[str] = []
        in_question = False  # an action word in a cue's question, not only in a statement before it
        for group in self._groups:
            found = group.words.find(doc)
            if found and not group.unless.find(doc):
                actions.update(group.fire)
                words += [doc.words(s) for s in found]
                in_question = in_question or any(s.start <= f.start < s.end for f in found for s in sentences)
        if not actions:
            return None
        criteria = frozenset(actions), tuple(dict.fromkeys([doc.words(cues[0]), *words])), conditions
        return criteria, not in_question


def _answers_after_dash(doc: Doc) -> list[tuple[Span, int]]:
    """A "no" answering a short question asked after a clause dash answers that question only: "Fever 38.5
    during ino - severe? no, grade 1" keeps the fever ("VOD? no" alone is read by ``_answered``). Each answer
    ("? no") with where its question opened."""
    surface = doc.surface
    out = []
    for q in range(len(surface) - 1):
        if surface[q] != "?" or surface[q + 1] not in _ANSWERED_NO:
            continue
        opened = max((i for i in doc.dashed if i <= q), default=-1)
        if opened > 0 and 0 < q - opened <= _SHORT_QUESTION and _FULL_STOPS.isdisjoint(surface[opened:q]):
            out.append((Span(q, q + 2), opened))
    return out


def _awaited(surface: Sequence[str], start: int) -> bool:
    """A waiting word a few words before ``start``, in its clause: "once the bili", "as soon as counts"."""
    before = surface[max(0, start - _AWAITED_REACH - 1) : start]
    cut = max((i + 1 for i, w in enumerate(before) if not w[:1].isalnum()), default=0)
    words = before[cut:]
    soon = any(words[i : i + 2] == ("soon", "as") for i in range(len(words)))
    return soon or not _AWAITED.isdisjoint(words)


def _clause_openings(doc: Doc, sentence: Span) -> list[int]:
    """Where a sentence and the clauses in it open: its start, after a colon, after a clause dash ("Pt on InO
    has ANC 0.8: start filgrastim?", "Plt 45: is ...")."""
    colons = [i + 1 for i in range(sentence.start, sentence.end) if doc.surface[i] == ":"]
    return [sentence.start, *colons, *(i for i in doc.dashed if sentence.start < i < sentence.end)]


def _supposed_in(doc: Doc, intent: Span, facts: Sequence[Span]) -> bool:
    """The decision word stands in a condition ("if", "once" ...) of a question for facts, in one clause with
    it: "is SOS incidence higher if ino is given before HSCT?" (not "... don't need that - just need to know
    if we hold the ino")."""
    for fact in facts:
        if fact.end > intent.start:
            continue
        between = range(fact.end, intent.start)
        if any(not doc.surface[i][:1].isalnum() or i in doc.dashed for i in [*between, intent.start]):
            continue
        if any(doc.surface[i] in _SUPPOSING for i in between):
            return True
    return False


def _chosen(surface: Sequence[str], at: int) -> bool:
    """The word at ``at`` is a pro-form after "which" ("which one"): a choice among things named before."""
    return 0 < at < len(surface) and surface[at] in {"one", "ones"} and surface[at - 1] == "which"


def _cycle_numbers(surface: Sequence[str]) -> list[int]:
    """Where a cycle is named by its number: "C2D1", "cycle 2" ("c 2 d 1", "cycle 2" once normalised)."""
    return [
        i
        for i, (word, number) in enumerate(pairwise(surface))
        if word in {"c", "cycle", "course"} and number.isdigit()
    ]


def _fronted_object_other(surface: Sequence[str], intent: Span, own: Collection[int]) -> bool:
    """A decision verb ending its clause whose object stands before it, after "which", "what" or "how
    many", and has nothing of ours: "ANC 0.1 on ino, which neutropenic diet handout do we give?", "plt 18 on
    ino, how many units of platelets should we give?" (not "which dose do we give?", "what do we give?")."""
    end = intent.end
    if end < len(surface) and surface[end][:1].isalnum():
        return False
    i = intent.start - 1
    while i >= 0 and surface[i] in _WE:
        i -= 1
    if i < 1 or surface[i] not in _PRESENT_AUXILIARIES:
        return False
    aux = i

    def asked_at(k: int) -> int:
        """How many words the question word ending before token ``k`` has: "which" 1, "how many" 2, else 0."""
        if surface[k - 1] in _WHICH:
            return 1
        return 2 if k > 1 and surface[k - 1] in _HOW_MUCH and surface[k - 2] == "how" else 0

    while i > 0 and surface[i - 1][:1].isalnum() and not asked_at(i) and aux - i < _OBJECT_REACH:
        i -= 1
    if i == 0 or i == aux or not asked_at(i):
        return False
    # the question word opens its clause ("at what point can we resume?" asks when), and what it asks for is
    # a thing, not which patients ("which ones can I give?", "how many of them can we give?")
    opens = i - asked_at(i)
    if opens > 0 and surface[opens - 1][:1].isalnum():
        return False
    words = range(i, aux)
    if any(j in own for j in words):
        return False
    # "which" asks for patients by any of its words ("which of them"), "how many" by its first ("how many of
    # them"; not "how many units of platelets")
    return not any(surface[j] in _WHICH_PATIENTS for j in (words if asked_at(i) == 1 else words[:1]))


def _asked_in(surface: Sequence[str], span: Span, sentences: Boundaries) -> bool:
    """The words at ``span`` stand in a sentence that ends in a question mark."""
    mark = next((i for i in range(span.end, len(surface)) if sentences.between(i, i + 1)), len(surface))
    return mark < len(surface) and surface[mark] == "?"


def _since_ours(surface: Sequence[str], start: int) -> bool:
    """Our drug named at ``start`` only says when ("after ino", "until the ino cycle is finished")."""
    before = surface[max(0, start - 2) : start]
    if before[-1:] and before[-1] in _SINCE_DETERMINERS:
        before = before[:-1]
    return bool(before) and before[-1] in _SINCE_OURS


def _started_day_codes(surface: Sequence[str], days: Sequence[Span]) -> list[Span]:
    """The cycle-day codes among ``days`` (``_cycle_days``) told as an infusion starting ("C1D1 started
    today; 20 min in she developed urticaria") or under way ("During C2D1 my patient developed stridor"): the
    code stands for our infusion in a timeline."""
    return [
        d
        for d in days
        if d.end - d.start == _DAY_CODE_TOKENS
        and (
            (d.end < len(surface) and surface[d.end] in _STARTED)
            or (d.start > 0 and surface[d.start - 1] == "during")
        )
    ]


def _joined_predicates(surface: Sequence[str]) -> set[int]:
    """Where "and" joins a second verb to the subject of the first ("was treated here and got VOD")."""
    return {
        i for i in range(len(surface) - 1) if surface[i] == "and" and surface[i + 1] in _SUBJECTLESS_VERBS
    }


def _still(surface: Sequence[str], span: Span) -> bool:
    """ "not VOD anymore", "not SOS now": a finding that has ended, which may have been one."""
    after = tuple(surface[span.end : span.end + 2])
    return after[:1] in {("anymore",), ("now",), ("yet",)} or after in {("any", "more"), ("any", "longer")}


def _told_first(
    surface: Sequence[str],
    start: int,
    told: int,
    end: int,
    dashed: frozenset[int] = frozenset(),
    doses: frozenset[int] = frozenset(),
) -> bool:
    """ "Transaminases through the roof, do we soldier on?": a finding told in a clause of its own, before
    a question of what we do (not "do transaminases rise, should we ...", "if ..., do we ...", nor "VOD on
    ino: are diuretics ok?", which asks about something else), also after a dash ("SOS on ino during C2,
    recovered - can we do a C3?"; ``dashed``: where a clause opens after one, ``Doc.dashed``); or before a
    short question naming a dose or our drug ("transaminitis + thrombocytopenia, day 8 dose?"; ``doses``:
    where the text names one, ``_dose_positions``)."""
    if surface[start] in _QUESTION_OPENERS | _SUPPOSING:
        return False
    opens = [i + 1 for i in range(told, end - 1) if surface[i] in _CLAUSE_MARKS]
    opens += [i for i in dashed if told < i < end]
    # "VOD in my ino patient - what about the inotuzumab?": "what about" asks for a decision on what it names
    opens = [i + 1 if surface[i] in _JOINING else i for i in opens]  # "..., and what about ..."
    opens = [i + 2 if tuple(surface[i : i + 2]) in _ASKING_ABOUT else i for i in opens]
    return any(
        (surface[i] in AUXILIARIES and i + 1 < end and surface[i + 1] in _WE)
        or (
            surface[i] not in _QUESTION_OPENERS | AUXILIARIES  # not "VOD on Tuesday - was that the InO?"
            and sum(1 for t in surface[i:end] if t[0].isalnum()) <= _TERSE_WORDS
            and any(i <= d < end for d in doses)
        )
        # ... or a short question that opens on a verb, as an order asked back ("shakes mid-drip of InO,
        # yank the line?", "itchy 15 min in, switch off?"): what to do, whatever the verb
        or _asks_order(surface, i, end, doses)
        for i in opens
        if i < end
    )


def _asks_order(surface: Sequence[str], start: int, end: int, doses: frozenset[int]) -> bool:
    """A short question that opens on a verb and names nothing but verbs, little words and our dose
    ("yank the line or ride it out?", "switch off?", "dial it back?"): an order asked back, what to do,
    whatever the verb; not one acting on another thing ("stop the posa?", "reduce dasa to 70 mg?")."""
    said = [(i, t) for i, t in enumerate(surface[start:end], start) if t[0].isalnum()]
    if not said or len(said) > _ORDER_WORDS or said[0][1] in _QUESTION_OPENERS or said[0][1] in _NOT_VERBS:
        return False
    return is_verb_form(said[0][1]) and all(
        i in doses or t in _ORDER_FILLERS or is_verb_form(t) for i, t in said
    )


def _dose_positions(doc: Doc, named: Sequence[Span]) -> frozenset[int]:
    """Where a text names a dose of ours: ``named`` (our drug and its treatment days, "D8", "day 8", "C2D1")
    or the word "dose", or the drip, bag or pump it runs in."""
    at = {i for span in named for i in range(span.start, span.end)}
    return frozenset(at | {i for i, t in enumerate(doc.surface) if t in _DOSE_NAMING})


def _suspected(surface: Sequence[str], span: Span) -> bool:
    """A finding told as a suspicion: "?SOS", "query VOD", "possible VOD", "VOD suspected", "VOD?"."""
    before = surface[max(0, span.start - 2) : span.start]
    after = surface[span.end : span.end + 1]
    return not _SUSPECTING.isdisjoint(before) or not _SUSPECTING.isdisjoint(after)


def _supposed(surface: Sequence[str], span: Span) -> bool:
    """ "restart if it's not VOD": a denial supposed, not made."""
    return not _SUPPOSING.isdisjoint(surface[max(0, span.start - _SUPPOSING_REACH) : span.start])


def _denied_in_past(surface: Sequence[str], span: Span) -> bool:
    """A diagnosis said not to have been one: "it wasn't anaphylaxis", "was not a reaction", "not VOD
    after all". It takes back what was told, where "no rash" or "not jaundiced" tells a finding absent."""
    i = span.start - 1
    if i >= 0 and surface[i] in _ARTICLES:
        i -= 1
    before = tuple(surface[max(0, i - 1) : i + 1])
    past = (i >= 0 and surface[i] in {"wasnt", "werent"}) or before in {("was", "not"), ("were", "not")}
    return past or tuple(surface[span.end : span.end + 2]) == ("after", "all")


def _bracketed(surface: Sequence[str]) -> set[int]:
    """Tokens inside round brackets (not nested), the brackets excluded."""
    inside, depth = set(), 0
    for i, token in enumerate(surface):
        if token == "(":
            depth += 1
        elif token == ")":
            depth = max(0, depth - 1)
        elif depth:
            inside.add(i)
    return inside


def _relative_clauses(surface: Sequence[str]) -> set[int]:
    """Tokens of a relative clause set off by commas (", who is on blinatumomab elsewhere ,"), its commas
    included: it tells of the person before it and parts them from nothing."""
    inside: set[int] = set()
    for i, token in enumerate(surface[:-1]):
        if token != "," or surface[i + 1] not in _RELATIVE_PRONOUNS:
            continue
        for j in range(i + 2, len(surface)):
            if surface[j] in _FULL_STOPS:
                break
            if surface[j] == ",":
                inside.update(range(i, j + 1))
                break
    return inside


def _tokens_of(mentions: Sequence[Mention]) -> set[int]:
    """The token positions the mentions were read from."""
    return {i for m in mentions for i in range(m.span.start, m.span.end)}


def _started_before(surface: Sequence[str], start: int) -> bool:
    """A verb of starting just before our drug's name, maybe after a determiner: "started her InO"."""
    i = start - 1
    if i >= 0 and surface[i] in _DETERMINERS:
        i -= 1
    return i >= 0 and surface[i] in _STARTING


def _put_up_at(surface: Sequence[str], end: int) -> bool:
    """Our drug's name ending at ``end`` is followed by the clock time it was put up: "ino on at 10:05"."""
    clocked = surface[end : end + 3]
    return len(clocked) == 3 and tuple(clocked[:2]) == ("on", "at") and clocked[2][:1].isdigit()


def _order(a: Span, b: Span) -> tuple[int, int]:
    """The token range between two spans, in text order (for ``Boundaries.between``)."""
    left, right = (a, b) if a.start < b.start else (b, a)
    return left.end, max(left.end, right.start)


_ACT_REACH = 6  # words after "with" where a procedure gone ahead with is named
_SWAP_MIN = 5  # letters of a word read with two of its letters swapped ("cylces"; shorter: "ltfs")
_DROP_MIN = 4  # letters of a word read with one of its letters left out ("fevr")

# Words before a severity word that tell it happened: "stop after anaphylaxis?", "following a grade 3?"
_TOLD_AFTER = frozenset({"after", "following", "post", "since", "despite"})


def _asked(doc: Doc, span: Span, sentences: Boundaries) -> bool:
    """A severity word asked about, not stated: "Severe? carry on?", "was it serious?" ("What if it is
    severe?" asks for the severe rule). A terse "Severe, stop forever?" may state it: read as stated."""
    if span.end >= len(doc.surface) or doc.surface[span.end] != "?":
        return False
    # "do we stop forever after (that) anaphylaxis?": what happened, told
    before = doc.surface[max(0, span.start - 2) : span.start]
    pointed = len(before) == 2 and before[1] in _SINCE_DETERMINERS
    if before and (before[-1] in _TOLD_AFTER or (pointed and before[0] in _TOLD_AFTER)):
        return False
    # "what if it is severe?" asks about the severe rule
    return not any(
        t == "if" and not sentences.between(i, span.start) for i, t in enumerate(doc.surface[: span.start])
    )


_TITLES = frozenset({"mr", "mrs", "ms", "miss"})  # patient_ref's names by title (corpus/rules.yaml)
_PLACES = frozenset({"bed", "room", "bay", "chair", "cubicle"})  # ... and by where they are
_WHERE = frozenset({"in", "at"})  # "Patient A in bay 1": one patient and where they are
# Nouns a patient's label follows in a question ("twin A", "beds 1 and 3"): patient_ref's, singular or plural
_PERSONS = frozenset({"pt", "patient", "twin", "case", "child", "baby"})
_LABEL_NOUNS = frozenset({*_PLACES, *_PERSONS, *(f"{noun}s" for noun in (*_PLACES, *_PERSONS))})
_LABEL_JOINS = frozenset({"and", "&", ",", "or", "+"})  # "beds 1 and 3", "pts A, B"


def _ref_kind(first: str) -> str:
    """How a patient_ref names a patient: by title, by place, or as a patient ("pt 1", "Patient A")."""
    return "title" if first in _TITLES else "place" if first in _PLACES else "patient"


_KINDS_REACH = 2  # words from "which" to the condition it asks the kinds of ("which infusion reactions")
_POSSESSIVE_MIN = 3  # a surname this long may carry a possessive "s"


def _lettered_possessive(key: str, keys: Sequence[str]) -> str:
    """The possessive of a patient named by a letter in the same text is that patient: "Mrs C on InO, ALT
    250. Plan for Mrs C's InO?" (read "mrs cs"). Only when the letter names a patient there."""
    title, _, name = key.partition(" ")
    if title in _TITLES and len(name) == 2 and name.endswith("s") and name[0] in keys:
        return name[0]
    return key


def _each_asks(doc: Doc, refs: Sequence[Span]) -> bool:
    """Several patients, each with a question of its own before the next is named ("Bed 2 plt 62 D8?; Bed
    5 ALT 34 D8?", "Mrs A: plt 30, D8 tomorrow? Mr B: LFTs normal, dose?"): each is asked about."""
    keys = [_patient_key(doc.words(r)) for r in refs]
    starts = [r.start for i, r in enumerate(refs) if not i or keys[i] != keys[i - 1]]
    if len(set(keys)) < 2 or len(starts) < 2:
        return False
    stretches = itertools.pairwise([*starts, len(doc.surface)])
    return all("?" in doc.surface[a:b] for a, b in stretches)


def _reason_after(surface: Sequence[str], finding: Span, cue: Span) -> bool:
    """A phrase naming another person stands after the finding, in a clause of reason or time of its own."""
    return cue.start >= finding.end and not _SUBORDINATORS.isdisjoint(surface[finding.end : cue.start])


def _patient_key(words: str) -> str:
    """One name for a patient however the label is typed: "bed 14", "back to 14" and "Bed no 14" are "14";
    "Patient A" is "a"; a patient by title keeps it ("mr e")."""
    last = words.split()[-1]
    if last.isdigit() or len(last) == 1:
        return last
    # "Mrs Hill's family" (read "mrs hills") is Mrs Hill
    return words[:-1] if last.endswith("s") and len(last) > _POSSESSIVE_MIN else words


def _last_question(doc: Doc) -> tuple[int, int] | None:
    """Where the sentence of the text's last question mark starts, and where that mark stands."""
    if "?" not in doc.surface:
        return None
    mark = len(doc.surface) - 1 - doc.surface[::-1].index("?")
    return _sentence_before(doc, mark), mark


def _last_sentence(doc: Doc) -> tuple[int, int]:
    """Where the text's last sentence starts, and where it ends ("... 3) Mr R: rituximab reaction. please
    advise on 1 and 2" asks without a question mark)."""
    end = len(doc.surface) - (bool(doc.surface) and doc.surface[-1] in _FULL_STOPS)
    return _sentence_before(doc, end), end


def _sentence_before(doc: Doc, end: int) -> int:
    ends = [i for i, t in enumerate(doc.surface[:end]) if t in _FULL_STOPS]
    return ends[-1] + 1 if ends else 0


def _labels_asked(doc: Doc, refs: Sequence[Span], keys: Sequence[str]) -> list[str]:
    """The patients of a text about several that its last question names by their label alone, after the last
    full name ("Bed 1: plt 30. Bed 2: ALT 200. Ok to dose beds 1 and 3?", "... Dose twin A today?"). The label
    of a list's item, or a patient's number, may stand alone ("1) ... 2) ... 3) ... please advise on 1 and 2",
    "Bed 1 ... Bed 3 ... Ok to give 1 and 3?")."""
    if len(set(keys)) < 2:
        return []
    sentence, mark = _last_question(doc) or _last_sentence(doc)
    # ... from a label the question opens a list of numbers with ("beds 1 and 3", "bed 2 and 3 - what now?")
    heads = [r.end - 1 for r in refs if r.start >= sentence and _joins_number(doc.surface, r.end)]
    start = heads[0] if heads else max(refs[-1].end, sentence)
    items = {doc.surface[end - 2] for _, end in list_markers(doc.surface)}
    named, chained = [], False
    for i, (word, label) in enumerate(itertools.pairwise(doc.surface[start - 1 : mark]), start=start):
        # alone, it is followed by another label or the end ("on 1 and 2", not "in 2 days")
        following = doc.surface[i + 1] if i + 1 < len(doc.surface) else "?"
        # "give 1 and 3", not the 1 of "C2D1" nor the count of "go for all 3?"
        numbered = label.isdigit() and word not in _NOT_LABELLING
        alone = (label in items or numbered) and (following in _LABEL_JOINS or not following[:1].isalnum())
        if label in keys and (word in _LABEL_NOUNS or alone or (chained and word in _LABEL_JOINS)):
            named.append(label)
            chained = True
        elif label not in _LABEL_JOINS:
            chained = False
    return list(dict.fromkeys(named))


def _questioned(doc: Doc, refs: Sequence[Span], keys: Sequence[str]) -> str:
    """The patient every question mark of a text comes after the label of ("bay 3 has VOD on ino - stop it?
    bay 4 is fine."), or "" when they are several or a mark comes before every label."""
    marks = [i for i, w in enumerate(doc.surface) if w == "?"]
    owners = [max((j for j, r in enumerate(refs) if r.start < i), default=None) for i in marks]
    if not owners or None in owners:
        return ""
    asked = {keys[j] for j in owners if j is not None}
    return asked.pop() if len(asked) == 1 else ""


def _shortened(surface: Sequence[str], products: frozenset[str], words: Sequence[int]) -> bool:
    """A word that shortens another product named in the text (``products``, ``Reader._product_words``): "ALT
    210 on ino + posaconazole. Stop the posa?", "neutropenic on azacitidine - delay the aza?"."""
    return any(
        len(surface[w]) >= _SHORTEST_STEM
        and any(p != surface[w] and p.startswith(surface[w]) for p in products)
        for w in words
    )


def _joins_number(surface: Sequence[str], at: int) -> bool:
    """A join and a number start at ``at``: "and 3" of "bed 2 and 3", ", 5" of "beds 4, 5"."""
    return at + 1 < len(surface) and surface[at] in _LABEL_JOINS and surface[at + 1].isdigit()


def _joined_labels(surface: Sequence[str], refs: Sequence[Span], asking: frozenset[int]) -> list[Span]:
    """The numbers joined to a patient's label, each another patient ("bed 2 and 3 - what do we do?",
    "beds 4, 5 & 6"): followed by no word, or by the words that ask (at ``asking``), unless the label is
    plural ("bed 2 and 3 days ago" counts days)."""
    out = []
    for ref in refs:
        plural = surface[ref.start].endswith("s") and surface[ref.start][:-1] in _PLACES | _PERSONS
        i = ref.end
        while _joins_number(surface, i):
            following = surface[i + 2] if i + 2 < len(surface) else ""
            if surface[i - 1].isdigit() and (plural or not following[:1].isalpha() or i + 2 in asking):
                out.append(Span(i + 1, i + 2))
            i += 2
    return out


def _replied(before: Sequence[str]) -> bool:
    """The words before a decision word tell it as the one reply to give ("answer only", "just say", "respond
    with the word"), not what someone said ("the doctor say give G-CSF") or what a text says ("what does
    the monograph say about restarting")."""
    return not _REPLY_VERBS.isdisjoint(before) and not _REPLY_ONLY.isdisjoint(before)


def _cycles_of_others(
    doc: Doc, mentions: Sequence[Mention], ours: Sequence[Span], others: Sequence[Span], sentences: Boundaries
) -> list[Mention]:
    """Cycles counted right beside another product's name, in a sentence that does not name ours, are that
    product's ("and for blina, how many cycles?", "Hyper-CVAD cycle 3 due", "3 cycles of blina"); not
    beside "chemo", which is ours too ("C3D1 pre-chemo bloods")."""

    def near(spans: Sequence[Span], m: Mention, reach: int) -> bool:
        return any(
            not sentences.between(*_order(s, m.span))
            and max(s.start - m.span.end, m.span.start - s.end) <= reach
            for s in spans
        )

    named = [s for s in others if doc.words(s) not in _OURS_TOO]
    return [
        replace(m, status="other")
        if m.condition == CYCLE_CONDITION
        and m.status == "present"
        and near(named, m, _CYCLE_OWNER_REACH)
        and not near(ours, m, len(doc.surface))
        else m
        for m in mentions
    ]


def _own_of_each(readings: Sequence[Sequence[Mention]]) -> list[Mention]:
    """The findings of several patients asked about together: each one's own, once."""
    own = {m.span: m for mentions in readings for m in mentions if m.status != "other"}
    return [own.get(m.span, m) for m in readings[0]]
