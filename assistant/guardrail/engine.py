"""The guardrail itself: which rules a question triggers, given the question and the conversation so far.

Why separate: this is the decision, kept small enough to read in one go. ``reading`` says what each user turn
states; this module combines the turns into the patient's current findings and a pending decision, applies
the rules-file semantics (severity required or excluded, criteria questions, permanent discontinuation that
never lapses), ranks the verdicts (the strongest first; weaker ones on the same course become context) and
says why each rule fired.

The principle: when a CURRENT finding a rule covers is present for THIS patient, and the conversation asks
what to do next with treatment, in any wording, the rule fires. A decision is asked by a decision phrase
("continue?", "hold"), or by any question that is not a request for facts while such a finding is stated
("green light for Monday?", "so?"), or by a finding added after a decision was asked ("oh, and her platelets
came back at 12"). A request for facts ("what are the risk factors for SOS?") stays quiet.
"""

from __future__ import annotations

import calendar
import hashlib
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from pathlib import Path

from ..corpus import Corpus
from ..data import MEDICINES_FILE, load_data, load_medicines
from ..errors import RulesError
from ..models import RuleHit
from ..text import QUESTION_WORDS, Translator, is_common_word, normalise, ordinal, ordinal_word, spoken_values
from .labs import LabLimits
from .matching import Span
from .reading import CYCLE_CONDITION, DENIED, Mention, Reader, Reading, Status
from .schema import CompiledRule, RulesFile, compile_rule, read_rules

CONTEXT_MARK = " (earlier turn)"
# What the words of a question are read as, in a hit's reasons; ``decides`` tells findings from them.
DECISION = "a treatment decision"  # a word asking to give, hold, stop or resume
PENDING = "a pending treatment decision"
WHAT_TO_DO = "asking what to do"  # ... "if the condition occurs" / "while the finding is present"
WHEN_RULES_APPLY = "a question about when the rules apply"
TOPIC = "the topic of this follow-up"  # a condition an earlier question asked about, not a finding
LAB_LIMITS_FILE = "lab_limits.yaml"
LANGUAGES_FILE = "languages.yaml"
# A capitalised word labelling a patient: "Noor (InO C2D1)", "Kai: VOD", "Ali - plt 190", "bed 2 (Sam)",
# "Rosie is on InO", "Lily's bili".
_NAME_LABEL = re.compile(
    r"(?<![A-Za-z])(?<!Dr )(?<!Prof )([A-Z][a-z]{1,14})(?:(?=\s*[:(])|(?=\s+-\s)|(?=\))|(?='s\s)"
    r"|(?=,?\s+(?:is\s+)?on\s+(?:InO|ino|Ino|INO|Besponsa|besponsa|inotuzumab|Inotuzumab)\b))"
)
# ... or a name right after the bed it is in ("bed 3 Amelia plt 22; bed 5 Josh all normal").
_PLACED_NAME = re.compile(r"(?i:\b(?:bed|bay|room|chair|cubicle) \d{1,3}),? ([A-Z][a-z]{1,14})\b")
_TITLES = frozenset({"Mr", "Mrs", "Ms", "Miss", "Dr"})
_CALENDAR = frozenset([*calendar.day_name, *calendar.month_name, *calendar.day_abbr, *calendar.month_abbr])
# The last question of a text, from where its sentence opens; a letter there after a label's noun ("Mr A")
# or before a colon ("A: plt 40") is a label, which the reading has read
_LAST_QUESTION = re.compile(r"[^.!?\n]*\?(?=[^?]*$)")
_LABELLED = re.compile(
    rf"\b(?:bed|bay|room|chair|pt|patient|twin|{'|'.join(sorted(_TITLES))}) [A-H]\b|\b[A-H]:", re.IGNORECASE
)
# A capital letter standing alone after a word or comma ("What about C?", "Is A fine", "For B, D8?"), or
# before its possessive ("and A's?").
_CAPITAL_LETTER = re.compile(r"(?<=[A-Za-z,] )([A-H])(?=[\s?,.!:;'’-]|$)")
# ... or, in a text that letters its patients, a letter of any case that no word follows ("ok to give a?": an
# article never ends a question), so that "OK TO GIVE A?" and "ok to give a?" ask the same
_LETTER_ASKED = re.compile(_CAPITAL_LETTER.pattern + r"|(?<=[A-Za-z,] )([a-h])(?=\s*\?|['’]s\b)")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_PRESENT: frozenset[Status] = frozenset({"present"})
_HYPOTHETICAL: frozenset[Status] = frozenset({"hypothetical", "conditional"})  # a follow-up's possible topic
_CONDITIONAL: frozenset[Status] = frozenset({"conditional"})
_STRENGTH = {"discontinue": 0, "interrupt": 1, "limit": 2}


@dataclass(frozen=True)
class _Found:
    """A condition's evidence in the conversation: the words, and the reasons to show."""

    words: list[str]
    reasons: list[str]


class Guardrail:
    """The loaded, validated rules. Immutable after ``load``; ``check`` is pure and thread-safe."""

    def __init__(
        self,
        spec: RulesFile,
        corpus: Corpus,
        source: str,
        labs: LabLimits,
        version: str = "",
        translator: Translator | None = None,
        drugs: frozenset[str] = frozenset(),
    ) -> None:
        # SHA-256 of the rules, lab-limits, languages and drug-names files, recorded with every answer
        self.version = version
        self._translator = translator or Translator({})
        self._rules = tuple(compile_rule(rule, spec, corpus, source) for rule in spec.rules)
        ids = [r.id for r in self._rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise RulesError(f"{source}: duplicate rule ids {duplicates}")
        self._reader = Reader(spec, corpus, source, labs, drugs)
        self.medicines = drugs  # corpus/drug_names.yaml, read once: the question reader uses it too
        # "one more cycle", "another course": the next cycle, whichever number it is
        count = spec.cycle_count
        nouns = "|".join(re.escape(w) for w in count.cycle_words if len(w) > 1)
        self._next_cycle = re.compile(rf"(?:{'|'.join(map(re.escape, count.next_one))}) (?:{nouns})$")
        unknown = sorted({a.condition for a in labs.analytes.values()} - set(self._reader.condition_names))
        if unknown:
            raise RulesError(f"{LAB_LIMITS_FILE}: analytes name unknown conditions {unknown}")
        self._condition_names = self._reader.condition_names
        self._reactions = self._reader.reaction_conditions
        self._reaction_names = frozenset(spec.reaction_names)
        # Conditions whose rule discontinues permanently: once present in a conversation, they stay.
        self._permanent = tuple(
            dict.fromkeys(
                r.condition for r in self._rules if r.action == "discontinue" and r.severity is None
            )
        )
        # The words of a hold ("after the count hold", "held for low plts"): the criteria's interrupt words.
        self._hold_words = frozenset(
            w for g in spec.criteria.groups if "interrupt" in g.fire for w in g.words if isinstance(w, str)
        )
        # Conditions that become permanent once severe (an infusion reaction that was severe stays severe).
        self._severable = tuple(
            dict.fromkeys(r.condition for r in self._rules if r.action == "discontinue" and r.severity)
        )

    @classmethod
    def load(cls, path: Path, corpus: Corpus) -> Guardrail:
        """Read and validate ``path`` (and the lab limits beside it); any problem raises ``RulesError``."""
        spec = read_rules(path)
        labs = load_data(path.parent / LAB_LIMITS_FILE, LabLimits, RulesError)
        drugs = load_medicines(path.parent, RulesError)
        translator = Translator.from_file(path.parent / LANGUAGES_FILE, RulesError)
        beside = (path.parent / LAB_LIMITS_FILE, path.parent / LANGUAGES_FILE, path.parent / MEDICINES_FILE)
        files = [path.read_bytes(), *(f.read_bytes() for f in beside)]
        version = hashlib.sha256(b"\0".join(files)).hexdigest()
        return cls(spec, corpus, str(path), labs, version, translator, drugs)

    @property
    def vocabulary(self) -> frozenset[str]:
        """Every word the rules know (decision, condition, severity words): clinical words, not named things
        the monograph lacks ("rechallenge", "epinephrine")."""
        return self._reader.known_words

    @property
    def product_names(self) -> frozenset[str]:
        """Other products' names, one word each ("atg", "aspirin"): named things the monograph lacks."""
        return self._reader.product_names

    @property
    def rule_ids(self) -> list[str]:
        return [r.id for r in self._rules]

    def asks_to_resume(self, question: str) -> bool:
        """The question asks to resume, restart or rechallenge ("can we try again next week?")."""
        return self._reader.read(self._translator.english(question), with_criteria=False).resumes

    def check(self, question: str, context: str = "") -> list[RuleHit]:
        """The rules this question triggers, strongest first. Pure and deterministic.

        ``context``: the earlier USER turns of the conversation, one per line, oldest first (not the
        assistant's answers: they quote rule sentences).
        """
        return self._check(question, context) or self._asked_again(question, context)

    def _asked_again(self, question: str, context: str) -> list[RuleHit]:
        """A short follow-up that asks a question about a rule again of another group ("Is it true ino can't
        go past 2 cycles?" then "what about in kids?"): the earlier question's rules. Not after one about
        a patient's own findings ("plt 20, hold?" then "and what about bed 4?" may be another patient)."""
        lines = [line for line in context.splitlines() if line.strip()]
        if not lines or "?" not in question:
            return []  # most questions: no earlier turn, or no question mark to end an elliptical one
        question = self._translator.english(question)
        text = normalise(question)
        if not _ASKED_AGAIN.match(text) or any(c.isdigit() for c in text):
            return []
        # ... of another group or instance, not another question ("and why limit it?", "and what dose per
        # cycle?") nor another grade of the finding ("and a severe one?": the follow-up rules read that)
        lead = _ELLIPTICAL_LEAD.match(text)
        rest = set(text[lead.end() if lead else 0 :].split())
        if rest & QUESTION_WORDS or self._reader.grades(question) or self._reader.read(question).mentions:
            return []
        previous = self._reader.read(self._translator.english(lines[-1]))
        if any(m.stated and m.status in _PRESENT for m in previous.mentions) or previous.informational:
            return []
        mark = f"'{question.strip()}' read as the earlier question asked again{CONTEXT_MARK}"
        return [
            h.model_copy(update={"reasons": [*h.reasons, mark]})
            for h in self._check(lines[-1], "\n".join(lines[:-1]))
        ]

    def _check(self, question: str, context: str) -> list[RuleHit]:
        # Each turn after one that says our infusion is under way is read with that in mind: "pt getting
        # ino now" then "he's having chills" is a reaction to it.
        # Each is also read in the units earlier turns gave their values in ("bili 70", then "now 18").
        # Each is read with the reference limits the conversation states, in any turn ("ALT 50 on ino" then
        # "our lab's ULN is 56 by the way"): a test's value is judged against the limit last stated for it.
        earlier, infusing, scales = [], False, {}
        # "plaquettes 35, on suspend ?": other languages' clinical words in English first
        question, context = self._translator.english(question), self._translator.english(context)
        lines = [line for line in context.splitlines() if line.strip()]
        names = self._first_names([*lines, question])
        lines, question = [_titled(line, names) for line in lines], _titled(question, names)
        each = self._reader.each_asked(question)
        if len(each) > 1:  # "bed 5: plt 80 - ino today? bed 6: ALT 45 - is that grade 1?": one by one
            hits: dict[str, RuleHit] = {}  # each rule once, as the first patient who brings it gives it
            for part in each:
                for hit in self._check(part, "\n".join(lines)):
                    hits.setdefault(hit.rule_id, hit)
            return self._rank(list(hits.values()))
        limits = self._reader.stated_limits([*lines, question])
        for line in lines:
            turn = self._reader.read(
                line, with_criteria=False, infusing=infusing, scales=scales, limits=limits
            )
            # "plts 172 yesterday" then "today's repeat 88": a correction or repeat in any turn replaces the
            # value told before it, as in the question itself
            if not turn.switches_patient:
                turn = self._corrected_value(turn, earlier)
            if turn.held_alone and earlier:  # "ALT 210 on ino" then "held D8": held for the ALT
                turn = replace(turn, held=self._held_before(earlier[-1]))
            earlier.append(turn)
            infusing, scales = infusing or turn.infusing, {**scales, **turn.scales}
        asked = self._reader.read(question, infusing=infusing, scales=scales, limits=limits)
        if asked.held_alone and earlier:  # "plt 80 on D8" then "we held. now plt 160. give?": held for it
            asked = replace(asked, held=self._held_before(earlier[-1]))
        asked = self._lettered(asked, question, earlier)
        earlier = self._same_patient(asked, earlier)
        asked = self._apart(asked, earlier)
        asked = self._corrected_value(asked, earlier)
        asked = self._value_alone(asked, question, earlier)
        earlier = self._corrected_cycle(asked, earlier)
        asked = self._counted_cycles(asked, earlier)
        asked = _elliptical(asked, question, earlier)
        asked = self._observed_after_reaction(asked, earlier)
        turns = self._retracted_back(self._never_ours([*earlier, asked]))
        earlier, asked = turns[:-1], turns[-1]
        decision = self._decision(asked, earlier)
        if decision is None:
            own = {c: _Found(*self._evidence(asked.mentions, c, "")) for c in self._condition_names}
            no_intent = self._hits(own, self._severe(turns), decision=None, only_no_intent=True)
            conditional = self._own_conditional(asked)
            if_hits: list[RuleHit] = []
            if conditional and asked.asks and not asked.informational and not asked.foreign:
                # "If VOD develops during cycle 1, what's the action with the drug?": what to do if it occurs
                word = asked.asks[0]
                ask = _Found([word], [f"'{word}' read as {WHAT_TO_DO} if the condition occurs"])
                if_hits = self._hits(conditional, self._severe(turns), decision=ask)
            if asked.criteria is not None:  # with "how many cycles max?" or "what if SOS occurs?" asked too
                criteria = self._criteria_hits(asked)
                fired = {h.rule_id for h in criteria}
                return self._rank(criteria + [h for h in if_hits + no_intent if h.rule_id not in fired])
            if if_hits:  # ... with "how many cycles max?" asked too
                fired = {h.rule_id for h in if_hits}
                return self._rank(if_hits + [h for h in no_intent if h.rule_id not in fired])
            # No decision asked: only the question's own rules that need no intent (cycle_limit) can fire.
            return self._rank(no_intent)
        severe = self._severe(turns)
        if severe:  # "reacted last week, settled, I think mild" then "actually it was grade 3 - hypotensive"
            turns = [_unsettled(t) for t in turns]
        found = self._findings(turns, severe)
        # A question about the rules: those asked about, a permanent discontinuation in force, a cycle count;
        # not after the conversation gave this patient's results, every one normal ("pre-labs: ALT 19, plt
        # 256" then "any reason to hold?" asks about this patient, who has no finding), nor when it is asked
        # of a finding told before ("grade 1 rash during the infusion" then "is that a reason to stop it for
        # good?")
        told = any(f.words for c, f in found.items() if c != CYCLE_CONDITION)
        if (
            asked.criteria is not None
            and not _all_normal(found, turns)
            and not (asked.criteria_back and told)
        ):
            criteria = self._criteria_hits(asked)
            fired = {h.rule_id for h in criteria}
            kept = [
                h
                for h in self._hits(found, severe, decision=decision)
                if h.action in ("discontinue", "limit") and h.rule_id not in fired
            ]
            # "What do we do if SOS occurs, and when should the drug be interrupted?": both are asked
            fired |= {h.rule_id for h in kept}
            kept += [
                h
                for h in self._hits(self._own_conditional(asked), severe, decision=decision)
                if h.rule_id not in fired
            ]
            return self._rank(criteria + kept)
        # "Plt 40, bili rising - team worried about VOD. What about the InO?": a feared SOS beside findings
        # asks for its rule too (a permanent discontinuation is the one a miss costs most); so does a value
        # supposed beside one told ("what rules apply if ALT is 300 and plt 40?")
        supposed = {m.condition for m in asked.mentions if m.status == "conditional" and m.analyte}
        for c, feared in self._own_conditional(asked).items():
            denied = asked.found(c, frozenset({"negated", "retracted", "other"}))  # "... but no VOD features"
            if (
                (c in self._permanent or c in supposed)
                and not denied
                and not found.get(c, _Found([], [])).words
            ):
                found[c] = feared
        if not any(f.words for f in found.values()) and asked.intent:
            # "What should we do if VOD occurs?" / "And how is it managed?" after "SOS risk factors?"
            found = self._own_conditional(asked)
            if not found and not any(m.status in {"negated", "present"} for m in asked.mentions):
                # A question that states its own (normal) findings or topic is about this patient, not
                # about the topic of an earlier informational question ("SOS risk factors?" then "LFTs
                # normal, give D8?", "what is SOS?" then "how many cycles can we give?").
                found = self._borrowed(asked, earlier)
        elif not any(f.words for c, f in found.items() if c != CYCLE_CONDITION):
            # "How many cycles max, and what's the rule if LFTs go up?": a count of cycles is asked, not found
            found = {**found, **self._own_conditional(asked)}
        return self._rank(self._hits(found, severe, decision=decision))

    def _retracted_back(self, turns: list[Reading]) -> list[Reading]:
        """Each turn with the earlier permanent findings it takes back without naming them, as retracted
        mentions: "VOD suspected", then "wait - ruled out on doppler. D8 ok?" (a retraction that names nothing
        takes back the latest earlier turn's), or "?SOS", then "no SOS, scan normal" (a denial after only a
        suspicion; not after "SOS confirmed", where "no SOS now" tells it resolved)."""
        out = list(turns)
        for j in range(1, len(turns)):
            taken = self._suspicions_denied(out[:j], turns[j])
            if turns[j].retracts_back:
                taken += self._latest_permanent(out[:j])
            if taken:
                retracted = (replace(m, status="retracted", span=Span(0, 0)) for m in taken)
                out[j] = replace(out[j], mentions=(*out[j].mentions, *retracted))
        return out

    def _never_ours(self, turns: list[Reading]) -> list[Reading]:
        """The SOS and reactions told up to the last turn that says the patient never had our drug, as
        another product's: "hx of VOD" then "the VOD was after Bu/Cy, never on ino. start ino?"."""
        last = max((i for i, t in enumerate(turns) if t.never_ours), default=-1)
        if last < 0:
            return turns
        events = {*self._permanent, *self._severable, *self._reader.reaction_conditions}

        def other(m: Mention) -> Mention:
            return replace(m, status="other") if m.condition in events and m.status == "present" else m

        return [
            replace(t, mentions=tuple(other(m) for m in t.mentions)) if i <= last else t
            for i, t in enumerate(turns)
        ]

    def _suspicions_denied(self, earlier: Sequence[Reading], turn: Reading) -> list[Mention]:
        """The latest mention of each permanent condition ``turn`` denies, when every earlier one was a
        suspicion."""
        denied = {m.condition for m in turn.mentions if m.status == "negated" and m.stated and not m.analyte}
        out = []
        for c in denied & set(self._permanent):
            told = [m for t in earlier for m in t.mentions if m.condition == c and m.status == "present"]
            if told and all(m.suspected for m in told):
                out.append(told[-1])
        return out

    def _latest_permanent(self, earlier: Sequence[Reading]) -> list[Mention]:
        """The permanent findings of the latest earlier turn that told one."""
        for t in reversed(earlier):
            told = [m for m in t.mentions if m.condition in self._permanent and m.status == "present"]
            if told:
                return told
        return []

    def _counted_cycles(self, asked: Reading, earlier: list[Reading]) -> Reading:
        """ "Completed 2 cycles" and "can we do one more?" (in one text or two): a 3rd cycle."""
        given = max((t.cycles_given for t in [*earlier, asked]), default=0)
        if given == 1:
            # "She's had one cycle ... one more cycle before transplant?": that one is the 2nd.
            kept = tuple(m for m in asked.mentions if not self._next_cycle.match(m.words))
            return replace(asked, mentions=kept) if len(kept) < len(asked.mentions) else asked
        if not asked.more_asked or given < 2 or asked.found(CYCLE_CONDITION, _PRESENT):
            return asked
        # "InO again" after the cycles given is one more; within a cycle, a treatment day told ("C2D8 held for
        # ALT 90 ... give ino again?"), it is the same course resumed
        days = [d for t in [*earlier, asked] for d in t.days_named]
        if "again" in asked.more_asked.split() and days:
            return asked
        # ... and going on, asked on a dose day before the cycle's last (its doses are on days 1, 8 and 15):
        # "C2D8, labs fine. keep going?" goes on with cycle 2 ("C2D15 today ... keep going?" is past it)
        going_on = not _GOING_ON.isdisjoint(asked.more_asked.split())
        if going_on and days and _day_of(days[-1]) < _LAST_DOSE_DAY:
            return asked
        reason = f"'{given} cycles given' and '{asked.more_asked}' read as a {ordinal(given + 1)} cycle"
        mention = Mention(CYCLE_CONDITION, asked.more_asked, "present", reason=reason)
        return replace(asked, mentions=(*asked.mentions, mention))

    @staticmethod
    def _corrected_cycle(asked: Reading, earlier: list[Reading]) -> list[Reading]:
        """ "Planning cycle 3" then "Sorry, I mean cycle 2": a correction naming an earlier cycle takes back
        the cycle counts told before it. So does a patient named for the first time with a cycle of their own
        ("max cycles?" then "separate thing - bed 4 is due C2D1, ok?")."""
        newly_named = bool(asked.patient) and not any(t.names(asked.patient) for t in earlier)
        if not (asked.corrects or newly_named) or not 0 < asked.cycle_named < 3:
            return earlier
        if asked.found(CYCLE_CONDITION, _PRESENT):
            return earlier
        return [
            replace(
                t, mentions=tuple(m for m in t.mentions if m.condition != CYCLE_CONDITION), cycles_given=0
            )
            for t in earlier
        ]

    def _corrected_value(self, asked: Reading, earlier: list[Reading], label: str = "correction") -> Reading:
        """ "bili 2.9" then "sorry typo, it's 0.9": a number given in a correction replaces the value of the
        latest earlier lab reading, or of the one whose value it names ("plt 95, ANC 2.6" then "sorry, 295
        not 95"), and is read against the same limits."""
        if not asked.corrects or not asked.loose_numbers:
            return asked
        turns = [turn for turn in earlier if any(m.analyte and m.reason for m in turn.mentions)]
        if not turns:
            # ... or in the same text: "plt 230 - no wait, that was last week's. Today's is 83. D8?"
            own = [m for m in asked.mentions if m.analyte and m.reason and m.span.end <= asked.corrected_at]
            if not own or not asked.restated:
                return asked
            # the number most like a value told before it, as a typo changes few characters ("PLT 45 <-
            # entered wrong, corrected value 245 ... BILI 9": 245, not the bilirubin's 9); the later on a tie
            pairs = ((v, m) for v in reversed(asked.restated) for m in reversed(own))
            value, last = max(pairs, key=lambda p: _likeness(*p))
            return self._replaced(asked, last, value, label)
        told = {m.analyte for m in turns[-1].mentions if m.analyte}
        # "that plt 60 was from someone else's sheet; hers was 260": the value told before, quoted to put
        # it right
        quoted = [
            m
            for m in asked.mentions
            if m.analyte in told
            and m.span.end <= asked.corrected_at
            and any(m.words == e.words for e in turns[-1].mentions)
        ]
        if quoted and asked.restated:
            value = next((n for n in asked.restated if n not in quoted[-1].words.split()), None)
            return self._replaced(asked, quoted[-1], value, label) if value is not None else asked
        if any(m.analyte in told for m in asked.mentions):
            return asked  # it gives a corrected test's value itself ("correction - ALT is 25, not 250")
        readings = [m for turn in turns for m in turn.mentions if m.analyte and m.reason]
        named = [m for m in readings if set(asked.loose_numbers) & set(m.words.split())]
        if named:
            last = named[-1]
            value = next((n for n in asked.loose_numbers if n not in last.words.split()), None)
        else:
            value = asked.loose_numbers[0]
            last = _mistyped(value, [m for m in turns[-1].mentions if m.analyte and m.reason])
        if value is None:
            return asked
        return self._replaced(asked, last, value, label)

    def _value_alone(self, asked: Reading, question: str, earlier: list[Reading]) -> Reading:
        """ "ALT 40 yesterday" then "today 41. go?": a value told alone with its time is the new value of the
        test told before, read as a repeat is (as "now 0.7" is within one message)."""
        if asked.corrects or not asked.loose_numbers or any(m.analyte for m in asked.mentions):
            return asked
        if not self._reader.value_alone(question):
            return asked
        newer = self._corrected_value(replace(asked, corrects=True), earlier, "a newer value")
        return replace(newer, corrects=False)

    def _replaced(self, asked: Reading, last: Mention, value: str, label: str = "correction") -> Reading:
        """``asked`` with ``last`` read again with the corrected ``value``; ``last`` itself is dropped when it
        was read from ``asked``'s own text."""
        words = last.words.split()
        said = [] if _NUMBER.search(last.words) else spoken_values(words)
        if said:  # "alt this morning was four hundred": the value in words
            words[said[0][0] : said[0][1]] = ["0"]
        text = _NUMBER.sub(value, " ".join(words), count=1)
        read = [m for m in self._reader.read(text).mentions if m.analyte == last.analyte]
        corrected = [replace(m, reason=f"{label}: {m.reason}") for m in read]
        return replace(asked, mentions=(*(m for m in asked.mentions if m is not last), *corrected))

    def _first_names(self, texts: Sequence[str]) -> frozenset[str]:
        """Patients named by first name in a conversation about several ("Noor (InO C2D1) and Tom (InO C1D8)",
        "Kai: VOD suspected. Lou: LFTs fine", then "Tom first - give?"): a capitalised word that labels a
        patient somewhere (before a colon, a bracket or a dash, in brackets, or "... on InO"), is no word the
        rules know, none of the commonest English words and no day or month. Only when two or more such
        names are found and one is used again: one label alone ("Update: ...") names nobody."""
        joined = "\n".join(texts)
        found = {
            m.group(1)
            for m in (*_NAME_LABEL.finditer(joined), *_PLACED_NAME.finditer(joined))
            if m.group(1).lower() not in self._reader.known_words
            and m.group(1) not in _CALENDAR
            and m.group(1) not in _TITLES  # "Mrs X InO D8": "Mrs" is how the rules already name a patient
            and not is_common_word(m.group(1).lower())
        }
        again = any(len(re.findall(rf"\b{n}\b", joined)) > 1 for n in found)
        return frozenset(found) if len(found) > 1 and again else frozenset()

    @staticmethod
    def _lettered(asked: Reading, question: str, earlier: list[Reading]) -> Reading:
        """ "A: plt 300." ... "C: plt 60." then "What about C?": a capital letter standing alone, not opening
        a sentence, names the patient an earlier turn labelled with it (a lower-case "a" is an article). So
        does one alone in the last question of a text that labels its patients so ("Pt A: ... Pt B: ... ok to
        give A?"; not a label there, "Mr A", which the reading has read)."""
        own = {n for n, _ in asked.patients if len(n) == 1 and n.isalpha()}
        last = _LAST_QUESTION.search(question)
        if own and last:
            asking = " ".join(last.group(0).split())  # (spacing says nothing: "give  a?")
            letters = [] if _LABELLED.search(asking) else _LETTER_ASKED.finditer(asking)
            named = [n for n in ((m.group(1) or m.group(2)).lower() for m in letters) if n in own]
            return asked.as_patient(named[-1]) if named and named[-1] != asked.patient else asked
        if asked.patient:
            return asked
        names = {n for t in earlier for n in (t.patient, *(name for name, _ in t.patients))}
        labels = {n for n in names if len(n) == 1 and n.isalpha()}  # "Patient A in bay 1" is "a" too
        named = [m.group(1).lower() for m in _CAPITAL_LETTER.finditer(question)]
        named = [n for n in named if n in labels]
        return replace(asked, patient=named[-1]) if named else asked

    @staticmethod
    def _apart(asked: Reading, earlier: list[Reading]) -> Reading:
        """ "Mr A plt 40", then "Ms B plt 300. Both ok to dose?": a question about every patient takes back
        no other patient's finding with its own patient's normal values."""
        return Guardrail._beside(asked, earlier) if asked.asks_every else asked

    @staticmethod
    def _beside(turn: Reading, earlier: Sequence[Reading]) -> Reading:
        """One patient's turn beside other patients' earlier turns: its normal values take back no finding
        of theirs. A correction's do ("Sorry, those were bed 12's labs. Callum's today: ...")."""
        if not turn.patient or turn.corrects:
            return turn
        found = {
            m.condition
            for other in earlier
            if other.patient and other.patient != turn.patient
            for m in other.mentions
            if m.status == "present"
        }
        kept = tuple(m for m in turn.mentions if not (m.status == "negated" and m.condition in found))
        return replace(turn, mentions=kept) if len(kept) < len(turn.mentions) else turn

    @staticmethod
    def _same_patient(asked: Reading, earlier: list[Reading]) -> list[Reading]:
        """The earlier turns about the patient asked about: "bed 3 has VOD" then "bed 5: labs normal, go?"."""
        if asked.switches_patient:
            # "Now bed 7 - D15 due, proceed?": only what earlier turns said of bed 7; "wrong patient - that
            # was Mrs W" takes back what was said
            named = "" if asked.corrects else asked.patient
            return [t.as_patient(named) for t in earlier if named and t.names(named)]
        # A switch ("Now patient B: ...") or a turn about another patient ends what came before; a question
        # that names its patient still has the turns that named the same one ("Patient A: bili 3.5", then
        # "Patient B: ...", then "For patient A, what do we do?").
        start = max((i for i, turn in enumerate(earlier) if turn.switches_patient), default=0)
        # "Bed 2 plt 130", ..., "Bed 12 bili 26", "who can go?"; or "Mr A plt 40", then "Ms B plt 300. Both ok
        # to dose?": every patient told of, the one the question names too
        if asked.asks_every and len(asked.patients) <= 1:
            told = [t.as_patients([n for n, _ in t.patients]) for t in earlier[start:]]
            # "bed 3 plt 45", "bed 4 plt 260 fine", "both get their ino?": no patient's normal value takes
            # back another's finding
            return [Guardrail._beside(t, told[:i]) for i, t in enumerate(told)]
        current = asked.patient or next((t.patient for t in reversed(earlier[start:]) if t.patient), "")
        if current:
            others = [i for i, turn in enumerate(earlier) if turn.patient and not turn.names(current)]
            start = max(start, others[-1] + 1 if others else 0)
        named = asked.patient
        if asked.asks_every and len(asked.patients) > 1:  # "bed 2 and bed 3 - hold both?": each one's
            names = [name for name, _ in asked.patients]
            return [
                t.as_patients(names) for i, t in enumerate(earlier) if i >= start or any(map(t.names, names))
            ]
        if named:  # "Bed 2: plt 35. Bed 5: plt 260." then "And bed 2?": bed 2's findings of that turn
            return [t.as_patient(named) for i, t in enumerate(earlier) if i >= start or t.names(named)]
        return [t for i, t in enumerate(earlier) if i >= start]

    @staticmethod
    def _held_before(turn: Reading) -> frozenset[str]:
        """What a hold told with no finding of its own was for: the findings the turn before told."""
        return frozenset(m.condition for m in turn.mentions if m.status == "present") - {CYCLE_CONDITION}

    # ------------------------------------------------------------------------------------ what is asked

    def _observed_after_reaction(self, asked: Reading, earlier: Sequence[Reading]) -> Reading:
        """ "How long do we observe her?" asks for facts, unless it names an infusion reaction or an earlier
        turn tells of one: then it asks the reaction rule's own monitoring, a decision ("hives during the InO,
        better now. how long must we observe her?", "how long should we observe after an IRR to ino?"; not
        after "What symptoms can infusion-related reactions cause?")."""
        if not asked.observes:
            return asked
        reactions = self._reader.reaction_conditions
        mentions = [*asked.mentions, *(m for turn in earlier for m in turn.mentions if m.stated)]
        told = any(m.condition in reactions and m.status in _PRESENT for m in mentions)
        return replace(asked, informational=(), intent=(*asked.intent, *asked.observes)) if told else asked

    def _decision(self, asked: Reading, earlier: Sequence[Reading]) -> _Found | None:
        """The words that ask for a treatment decision (and why), or None when none is asked."""
        if asked.intent:
            return _Found(list(asked.intent), [f"'{w}' read as {DECISION}" for w in asked.intent])
        if asked.more_asked and not asked.informational:  # "... the team asks about one more cycle"
            word = asked.more_asked
            return _Found([word], [f"'{word}' read as a decision to give more treatment"])
        states = any(m.status == "present" and m.stated for turn in [*earlier, asked] for m in turn.mentions)
        # "should we give G-CSF?", "ALT 300 on blinatumomab (not ino) - continue blina?"
        about_other = ((asked.foreign or asked.other_decision) and not asked.own_product) or asked.asks_other
        # "team want a 3rd cycle with desensitisation, possible?": another cycle asked about is a decision
        later = [m.words for m in asked.mentions if m.condition == CYCLE_CONDITION and m.status == "present"]
        later = [w for w in later if _later_cycle(w)]
        if later and asked.asks and not asked.informational and not about_other:
            return _Found(later[:1], [f"'{later[0]}' read as a decision to give more treatment"])
        if asked.asks and not asked.informational and states and not about_other:
            word = asked.asks[0]
            return _Found([word], [f"'{word}' read as {WHAT_TO_DO} while the finding is present"])
        if asked.asks and asked.held and not asked.informational and not about_other:
            word = asked.asks[0]  # "C2D1 was delayed a week for counts; now plt 180. Start C2?"
            return _Found([word], [f"'{word}' read as asking about resuming after a hold"])
        # (not a request for facts or a text: "please write a letter to the GP explaining the raised bili")
        if not asked.asks and not asked.informational and (asked.states_finding or asked.free_severe):
            for turn in reversed(earlier):  # a finding added after the decision was asked
                # Asked by a decision phrase, or by a question about our treatment ("ino D8 today - labs
                # fine?" then "oh and plts just came back at 38").
                pending = turn.intent or (turn.asks if turn.own_product and not turn.informational else ())
                if pending:
                    word = pending[0] + CONTEXT_MARK
                    return _Found([word], [f"'{word}' read as {PENDING}"])
                if turn.informational:
                    break
        return None

    # ----------------------------------------------------------------------------- the patient's findings

    def _findings(self, turns: Sequence[Reading], severe: Sequence[str]) -> dict[str, _Found]:
        """Each condition's current evidence over every turn.

        Permanent conditions (SOS, and a reaction once it was severe) stay once present anywhere, unless a
        later turn RETRACTS them ("SOS ruled out"). Others follow the latest statement per lab test: "ALT 300"
        then "ALT back to normal, resume?" is a resumption question (the recovery phrase fires the rule,
        which says when to resume), while "bilirubin high last cycle, all LFTs normal now" is normal.
        While a permanent discontinuation is in force (SOS, a severe reaction) there is no hold to end: "VOD
        last week" then "bili trending down, when can we restart?" is the SOS resolving, which the SOS rule
        answers; a liver value abnormal now still counts.
        """
        out: dict[str, _Found] = {}
        last = len(turns) - 1
        permanent = (*self._permanent, *(self._severable if severe else ()))
        in_force = any(
            m.condition in permanent
            and m.status == "present"
            and not any(t.retracts(m.condition, m.words) for t in turns[i + 1 :])
            for i, turn in enumerate(turns)
            for m in turn.mentions
        )
        for condition in self._condition_names:
            ordered = sorted(
                ((i, m) for i, turn in enumerate(turns) for m in turn.mentions if m.condition == condition),
                key=lambda im: (im[0], im[1].span.start),
            )
            ordered = [(i, m) for i, m in ordered if m.status != "other"]
            if condition in self._reactions:
                ordered = [(i, m) for i, m in ordered if not _disowned(turns, i, m)]
            if condition in self._permanent or (condition in self._severable and severe):
                kept = [
                    (i, m)
                    for i, m in ordered
                    if m.status == "present"
                    # an earlier question for facts ("can you explain what SOS is?") states no finding
                    and (i == last or m.stated or not turns[i].informational)
                    and not any(t.retracts(condition, m.words) for t in turns[i + 1 :])
                    and not any(  # "the VOD alert is a documentation error - he never had VOD"
                        r.condition == condition and r.status == "retracted" and r.span.start > m.span.start
                        for r in turns[i].mentions
                    )
                ]
            else:
                # What an earlier turn asks about without stating it is no finding of the patient a later
                # question tells of, when that turn asked for facts ("how many cycles does the label
                # recommend?" then "... a pt on C1D8 with normal labs, proceed?"), or asked about cycles of a
                # patient the question places on a day of cycle 1 or 2 (not "our patient after 2 cycles - stop
                # there or go on?").
                placed = condition == CYCLE_CONDITION and bool(turns[last].days_named)
                placed = placed and turns[last].cycles_given < 3
                ordered = [
                    (i, m)
                    for i, m in ordered
                    if i == last or m.stated or not (turns[i].informational or placed)
                ]
                state: dict[str, tuple[int, Mention]] = {}
                # Resuming: asked to restart, or asked what to do after saying treatment was held ("C2D1
                # was delayed a week for counts; now plt 180. Start C2?").
                # A hold told only in an earlier turn does not make a later "give?" a resumption question
                # (round 41's try at it took final set 20 under its gate) ...
                held_now = condition in turns[last].held
                # ... unless the question gives that finding's value back normal: it asks when to resume
                # ("ANC 0.7 on D15, ino held" then "ANC now 4.2. give the D15 dose late?"). Writers disagree:
                # 17 situations of 15 development and final sets say so, 4 of 4 sets do not (round 50).
                # (a correction is no recovery: "that plt 60 was from someone else's sheet; hers was 260")
                recovered = (
                    not turns[last].corrects
                    and any(condition in t.held for t in turns[:last])
                    and any(
                        m.condition == condition and m.status == "negated" and m.analyte
                        for m in turns[last].mentions
                    )
                )
                resuming = any(t.resumes for t in turns) or held_now or recovered
                # "Held for grade 3 bilirubin, now grade 0: restart?" asks to resume after a hold for that
                # finding: the rule says when to resume, so the finding that ended stays its evidence.
                ended: dict[str, tuple[int, Mention]] = {}
                if condition in self._reactions:  # "That was 3 weeks ago and never recurred": over
                    over = {i for i, t in enumerate(turns) if t.resolves_earlier}
                    ordered = [(i, m) for i, m in ordered if not any(j > i for j in over)]
                    # "chills during D1 ino, resolved" then "D8 tomorrow, give?": an earlier dose's reaction;
                    # so in one text ("mild rash with the D1 infusion, resolved by evening. D8 tomorrow?")
                    # (or in another turn of the conversation: "C1D8 today", then "she had mild flushing on
                    # D1 that went away on its own. Go?")
                    # (the day asked about may be told in a turn of its own: "mild chills during D1 that
                    # settled", "today is D8", then "plt 65 this morning. give?")
                    dated = [t.days_named for t in turns if t.days_named]
                    asked_days = set(turns[last].days_named or (dated[-1] if len(dated) > 1 else ()))
                    told_days = asked_days.union(*(t.days_named for t in turns))
                    ordered = [
                        (i, m)
                        for i, m in ordered
                        if not m.resolved_on
                        or not asked_days
                        or (m.resolved_on in asked_days if i < last else told_days == {m.resolved_on})
                    ]
                found_before = False  # the conversation told the finding before ("ANC 0.4 last week")
                for i, m in ordered:
                    if m.resume and m.status in _PRESENT:
                        if in_force:
                            continue  # "restart once ALT normalizes?" after anaphylaxis: no hold to end
                        # "LFTs normal now, ok to start?": no hold to end; but "ANC 0.4, D15 held", then
                        # "ANC now 3.4 - counts recovered. C2D1 ok to start?" ends one
                        if not resuming and not state and not found_before:
                            m = replace(m, status="negated")
                    if m.status in _PRESENT:
                        state[m.analyte] = (i, m)
                        found_before = found_before or not m.resume
                    elif m.reason == DENIED:  # "it wasn't anaphylaxis": only what was told in those words
                        state = {k: v for k, v in state.items() if v[1].words != m.words}
                    elif m.status == "negated" or m.status == "retracted":
                        if m.analyte == "" or m.clears:  # "all LFTs normal", "plts now 190"
                            cleared = {k: v for k, v in state.items() if m.analyte in ("", k) or k == ""}
                            if condition in self._reactions:
                                # "fever during the infusion, no hypotension": one symptom's absence does
                                # not end another reaction stated in the same message, nor one told before
                                # in other words ("rash 10 min in" then "mild, no SOB. keep running?")
                                # (a correction takes back all it told: "scrap that - the probe was faulty")
                                said = set(m.words.split())
                                general = turns[i].corrects or not said.isdisjoint(self._reaction_names)
                                cleared = {
                                    k: v
                                    for k, v in cleared.items()
                                    if v[0] != i and (general or not said.isdisjoint(v[1].words.split()))
                                }
                            state = {k: v for k, v in state.items() if k not in cleared}
                        else:  # "ANC 4.0" is not low, but says nothing of "neutropenia" in general
                            cleared = {m.analyte: state.pop(m.analyte)} if m.analyte in state else {}
                        if m.status == "negated":
                            ended.update(cleared)
                            held = condition in turns[i].held
                            if resuming and (held or not self._hold_words.isdisjoint(m.words.split())):
                                # "platelets recovered after the count hold: now 160. When do we restart?"
                                ended[m.analyte] = (i, m)
                kept = list(state.values())
                if not kept and (turns[last].resumes or held_now or recovered) and not in_force:
                    kept = list(ended.values())
            words = [m.words + ("" if i == last else CONTEXT_MARK) for i, m in kept]
            reasons = [self._reason(m, i != last) for i, m in kept]
            out[condition] = _Found(list(dict.fromkeys(words)), list(dict.fromkeys(reasons)))
        return out

    def _evidence(
        self, mentions: Iterable[Mention], condition: str, mark: str
    ) -> tuple[list[str], list[str]]:
        chosen = [m for m in mentions if m.condition == condition and m.status == "present"]
        return [m.words + mark for m in chosen], [self._reason(m, bool(mark)) for m in chosen]

    def _reason(self, m: Mention, earlier: bool) -> str:
        text = m.reason or f"'{m.words}' read as {self._reader.labels[m.condition]}"
        return text + (CONTEXT_MARK if earlier else "")

    def _own_conditional(self, asked: Reading) -> dict[str, _Found]:
        """The conditions the question fears or supposes ("what if VOD occurs?", "worried about VOD"), unless
        a normal result of the same condition is told after it ("Mum worried he looks yellow but ... ALT 25 -
        all normal"): the worry was answered."""
        found = {}
        for c in self._condition_names:
            feared = [m for m in asked.mentions if m.condition == c and m.status in _CONDITIONAL]
            answered = any(
                m.condition == c and m.status == "negated" and m.span.start > f.span.end
                for m in asked.mentions
                for f in feared
            )
            words = [] if answered else [m.words for m in feared]
            if words:
                found[c] = _Found(
                    words, [f"'{w}' read as the condition the question asks about" for w in words]
                )
        return found

    def _borrowed(self, asked: Reading, earlier: Sequence[Reading]) -> dict[str, _Found]:
        """A follow-up's topic: the conditions of the latest earlier line that has one (not retracted)."""
        for i in reversed(range(len(earlier))):
            line = earlier[i]
            later = [*earlier[i + 1 :], asked]
            found: dict[str, _Found] = {}
            for c in self._condition_names:
                if any(r.retracts(c) for r in later):
                    continue
                topic = list(line.found(c, _HYPOTHETICAL))
                if line.informational:  # "What symptoms can infusion reactions cause?" then "What if severe?"
                    topic += [
                        m.words
                        for m in line.mentions
                        if m.condition == c and m.status == "present" and not m.stated
                    ]
                words = [w + CONTEXT_MARK for w in dict.fromkeys(topic)]
                if words:
                    found[c] = _Found(words, [f"'{w}' read as {TOPIC}" for w in words])
            for q in asked.qualifiers:  # the subject in the earlier turn, its qualifier in this question
                if q.condition in self._reactions:
                    continue  # "urticaria during the platelet transfusion" then "proceed with ino?"
                # ... not a subject stated normal there ("LFTs normal" then "give or hold?")
                normal = line.found(q.condition, frozenset({"negated"}))
                if q.status in {"present", "conditional"} and q.condition in line.subjects and not normal:
                    w = f"{line.subjects[q.condition]}{CONTEXT_MARK} + {q.words}"
                    old = found.get(q.condition, _Found([], []))
                    found[q.condition] = _Found(
                        [*old.words, w], [*old.reasons, f"'{w}' read as {self._reader.labels[q.condition]}"]
                    )
            if found:
                return found
            if not line.informational and any(m.stated and m.status == "negated" for m in line.mentions):
                # "What are the SOS risk factors?", "She has two. ALT 25, counts normal.", "so can we give
                # C1D1?": the talk has moved on to the patient, whose results are normal
                return {}
        return {}

    def _severe(self, turns: Sequence[Reading]) -> list[str]:
        """Severity of the reaction: words attached to a reaction in any turn, or said in a turn that states
        no finding of its own ("it was grade 3, needed pressors") when some turn states a reaction. A later
        correction that calls the reaction mild takes back what came before it ("Severe reaction today."
        then "Correction: it was mild, a few wheals. Restart?")."""
        corrected = [i for i, t in enumerate(turns) if t.corrects and t.calls_mild and not t.severe]
        turns = turns[corrected[-1] :] if corrected else turns
        # "called it anaphylaxis at first", then "it wasn't anaphylaxis, just a mild flush": not severe
        attached = [
            w for i, t in enumerate(turns) for w in t.severe if not any(u.denies(w) for u in turns[i:])
        ]
        free = [w for t in turns for w in t.free_severe]
        return list(dict.fromkeys(attached + free))

    # ------------------------------------------------------------------------------------------- verdicts

    def _hits(
        self,
        found: dict[str, _Found],
        severe: list[str],
        *,
        decision: _Found | None,
        only_no_intent: bool = False,
    ) -> list[RuleHit]:
        hits = []
        for rule in self._rules:
            evidence = found.get(rule.condition)
            if evidence is None or not evidence.words:
                continue
            if only_no_intent and rule.requires_intent:
                continue
            if (rule.severity == "required" and not severe) or (rule.severity == "excluded" and severe):
                continue
            triggers = list(evidence.words)
            reasons = list(evidence.reasons)
            if rule.severity == "required":
                triggers += severe
                reasons += [f"'{w}' read as a severe reaction" for w in severe]
            if decision is not None:
                triggers += decision.words
                reasons += decision.reasons
            hits.append(self._hit(rule, triggers, reasons))
        return hits

    def _criteria_hits(self, asked: Reading) -> list[RuleHit]:
        """The rules a question about when they apply asks for; of a reaction the question calls mild, not
        the severe one ("the rule for a mild infusion reaction - stop the bag or slow it?")."""
        actions, words, conditions = asked.criteria
        mild = asked.calls_mild and not asked.severe and not asked.free_severe
        reason = f"'{' '.join(words)}' read as {WHEN_RULES_APPLY}"
        rules = [r for r in self._rules if not (mild and r.severity == "required")]
        chosen = [r for r in rules if r.action in actions and (not conditions or r.condition in conditions)]
        if not chosen and conditions:
            # No rule of what was named takes that action: "when does besponsa need to be stopped
            # permanently because of the liver?" asks for the permanent rule the monograph gives beside the
            # liver tests' (SOS, one section); "when is ino held for VOD?" for what it says of VOD.
            named = [r for r in rules if r.condition in conditions]
            sections = {q.section for r in named for q in r.quotes}
            beside = [r for r in rules if r.action in actions and sections & {q.section for q in r.quotes}]
            chosen = beside or named
        return [self._hit(r, ["criteria question", *words], [reason]) for r in chosen]

    def _rank(self, hits: list[RuleHit]) -> list[RuleHit]:
        """Strongest first. Beside a permanent discontinuation, weaker rules on the same course are context,
        never verdicts: "hold until normal" must not sit next to "permanently discontinue"."""
        order = self.rule_ids
        hits = sorted(hits, key=lambda h: (_STRENGTH[h.action], order.index(h.rule_id)))
        if any(h.action == "discontinue" for h in hits):
            for h in hits:
                if h.action != "discontinue":
                    h.role = "context"
        return hits

    @staticmethod
    def _hit(rule: CompiledRule, triggers: Iterable[str], reasons: Iterable[str]) -> RuleHit:
        return RuleHit(
            rule_id=rule.id,
            action=rule.action,
            message=rule.message,
            quotes=list(rule.quotes),
            triggers=list(dict.fromkeys(triggers)),
            reasons=list(dict.fromkeys(reasons)),
        )


# A question of a few words with no verb, opening with "and" or "what about", that asks the earlier question
# again of another topic: "What's the mechanism of hepatotoxicity?" then "and of the myelosuppression?"
_ELLIPTICAL_LEAD = re.compile(
    r"^(?:and|what about|how about|same for|and what about)(?: (?:of|for|with|about))?"
)


def _elliptical_of(words: int) -> re.Pattern[str]:
    """Such a question of at most ``words`` words after its lead."""
    return re.compile(
        _ELLIPTICAL_LEAD.pattern
        + r" (?!(?:if|when|once|she|he|they|we|i|you|it|can|should|do|does|is)(?= ))"
        + rf"(?:\S+ ){{0,{words}}}\?$"
    )


_ELLIPTICAL = _elliptical_of(4)
# ... a question about a rule asked again of another group may name it in more words: "and for a patient not
# going to transplant?"
_ASKED_AGAIN = _elliptical_of(6)


def _unsettled(turn: Reading) -> Reading:
    """The turn with the past reactions it told resolved present again: a severe reaction is permanent."""
    if not any(m.settled_before for m in turn.mentions):
        return turn
    mentions = tuple(replace(m, status="present") if m.settled_before else m for m in turn.mentions)
    return replace(turn, mentions=mentions)


_LAST_DOSE_DAY = 15  # a cycle's doses: days 1, 8 and 15 (BESPONSA prescribing information, section 2.2)


_GOING_ON = frozenset({"keep", "keeping", "carry", "carrying", "continue", "go"})


def _day_of(named: str) -> int:
    """The day of a treatment day as read ("c 2 d 8": 8, "d 15": 15); 0 when it names none."""
    words = named.split()
    return int(words[-1]) if len(words) >= 2 and words[-2] in ("d", "day") and words[-1].isdigit() else 0


def _later_cycle(words: str) -> bool:
    """The words name a 3rd or later cycle by its number ("a 3 rd", "cycle 4", "a third")."""
    return any((t.isdigit() and int(t) >= 3) or ordinal_word(t) >= 3 for t in words.split())


def _all_normal(found: Mapping[str, _Found], turns: Sequence[Reading]) -> bool:
    """The conversation gave this patient's results, and nothing abnormal is found among them."""
    told = any(m.status == "negated" and m.analyte for t in turns for m in t.mentions)
    return told and not any(f.words for f in found.values())


def _elliptical(asked: Reading, question: str, earlier: Sequence[Reading]) -> Reading:
    """A short follow-up with no verb and no value of its own, after a question for facts, asks for facts."""
    if asked.intent or asked.informational or not earlier or not earlier[-1].informational:
        return asked
    text = normalise(question)
    if earlier[-1].intent or not _ELLIPTICAL.match(text) or any(c.isdigit() for c in text):
        return asked
    lead = _ELLIPTICAL_LEAD.match(text)
    return replace(asked, informational=(lead.group(0) if lead else text,))  # (it always matches here)


def _mistyped(value: str, readings: Sequence[Mention]) -> Mention:
    """The reading a corrected number puts right: the one whose value it most resembles, as a typo changes few
    characters ("plt 30, ANC 3.9" then "sorry, typo: 230": the platelets; "plt 148, ANC 4.2" then "sorry,
    184, transposed digits"); the last one when none resembles it more."""

    return max(reversed(readings), key=lambda m: _likeness(value, m))


def _likeness(value: str, reading: Mention) -> float:
    number = _NUMBER.search(reading.words)
    return SequenceMatcher(None, number.group(0), value).ratio() if number else 0.0


def _titled(text: str, names: frozenset[str]) -> str:
    """The text with each patient's first name read as a patient named by title ("Tom" -> "Ms Tom"), the way
    the rules name patients ("Mrs Hill"); a name already after a title is left as it is."""
    for name in sorted(names, key=lambda n: (-len(n), n)):  # one order, whatever the set's
        text = re.sub(rf"(?<!Mr )(?<!Mrs )(?<!Ms )(?<!Miss )(?<!Dr )\b{name}\b", f"Ms {name}", text)
    return text


def _disowned(turns: Sequence[Reading], i: int, m: Mention) -> bool:
    """A reaction told before a turn, or earlier in the turn, that gives it to another product and denies
    ours: "Patient had a reaction during the infusion" then "The infusion was the rituximab, not Besponsa"."""
    return turns[i].disowned_at > m.span.start or any(t.disowned_at >= 0 for t in turns[i + 1 :])


def mean_check_seconds(guard: Guardrail, questions: Sequence[str], *, rounds: int = 50) -> float:
    """Mean wall time of one ``guard.check`` over ``questions`` (for the benchmark; not a test)."""
    if not questions:
        return 0.0
    started = time.perf_counter()
    for _ in range(rounds):
        for question in questions:
            guard.check(question)
    return (time.perf_counter() - started) / (rounds * len(questions))


def decides(hit: RuleHit) -> bool:
    """The rule fired on a finding the conversation states ("anaphylaxis today", or "stridor during the
    infusion" in an earlier turn), for a question that asks in so many words to give, hold, stop or resume
    ("rechallenge?"), not on a topic borrowed from an earlier question ("Is age an SOS risk factor?" then
    "dose-reduce in older patients?") or on when the rules apply."""
    asked = any(reason.endswith(f"read as {DECISION}") for reason in hit.reasons)
    return asked and any(_states_finding(reason) for reason in hit.reasons)


def finding_words(hit: RuleHit) -> list[str]:
    """The words each finding of ``hit`` was read from ("plt 40" of "'plt 40' read as a low platelet
    count"), not those of a decision or a borrowed topic."""
    return [
        r.split("'")[1] for r in hit.reasons if r.count("'") >= 2 and r.startswith("'") and _states_finding(r)
    ]


def _states_finding(reason: str) -> bool:
    """A reason that reads a finding (not a borrowed topic, not a decision word)."""
    cues = [f"read as {r}" for r in (DECISION, PENDING, WHAT_TO_DO, WHEN_RULES_APPLY, TOPIC)]
    return not any(cue in reason for cue in cues)
