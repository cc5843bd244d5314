"""Lexical cues of a customer message: cleaning, arousal and urgency, each with human-readable reasons.

How the two scores are derived (both are in 0..1 and combine their cues as a noisy-OR,
``1 - prod(1 - weight_i * strength_i)``, so one strong cue counts, more cues count more, and the
score never passes 1):

Arousal (calm -> agitated) measures how *intensely* the customer writes, whatever the direction:

==========================  ======  =============================================================
cue                         weight  strength
==========================  ======  =============================================================
all caps                    0.55    share of words (2+ letters) written in capitals, 0.2 -> 0,
                                    0.6 -> 1; needs at least two shouted words
exclamation                 0.35    number of "!" / 3, capped at 1
repeated punctuation        0.30    1 when "!!", "??", "?!" or "!?" appears
intense words               0.45    0.6 for one word of the intensity lexicon (furious, worst,
                                    love...), 1 for two or more
stretched words             0.20    1 when a letter repeats 3+ times ("sooo", "pleeease")
intense emoji               0.35    1 when an angry, crying or ecstatic emoji appears
strong sentiment            0.25    |valence| from the sentiment model
==========================  ======  =============================================================

Urgency measures how soon the ticket needs a human, from what is at stake:

==========================  ======  =============================================================
cue                         weight  fires on
==========================  ======  =============================================================
time pressure               0.45    today, tomorrow, asap, urgent, deadline, "due", "right now"...
money at stake              0.40    charged, refund, fee, overdraft, rent, fraud, an amount ($40)...
service down                0.40    not working, outage, can't log in, locked out, stranded...
repeated contact            0.25,   the ticket's earlier customer messages (1, 2, 3+) or words
                            0.45,   like "again", "third time", "still waiting", "no response"
                            0.60    (a lexical hit counts as one earlier message)
threat to leave             0.45    cancel my account, switch to, lawyer, chargeback, never again...
safety                      0.70    unsafe, injured, fire, gas leak, hospital, harassed...
negative sentiment          0.20    max(0, -valence)
==========================  ======  =============================================================

The word lists are English; other languages get only the language-free cues (caps, punctuation,
emoji, repeated contact, amounts).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

MAX_CHARS = 5_000  # cues and text features read the head of very long messages only

_SCRIPT_STYLE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]{0,500}>")
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[^\W\d_]{2,}")
_ANY_WORD_CHAR = re.compile(r"[^\W_]")
_REPEATED_PUNCT = re.compile(r"[!?]{2,}")
_STRETCHED = re.compile(r"([a-z])\1\1", re.IGNORECASE)

POSITIVE_EMOJI = "😀😃😄😁😊🙂😍🥰😘☺👍👏🙌🎉❤💕💖💯✨🥳😎🤩"
NEGATIVE_EMOJI = "😠😡🤬😤😞😔😟😢😭😩😫🙁☹😒🙄👎💔😣😖🤦😱"
INTENSE_EMOJI = "😡🤬😤😭😱😫😩🤩😍🥳💯"
_EMOTICON_POS = re.compile(r"(?:^|\s)(?::-?\)|:-?D|;-?\)|<3)(?=\s|$)")
_EMOTICON_NEG = re.compile(r"(?:^|\s)(?::-?\(|:'\(|>:\(|D:)(?=\s|$)")


def _words(alternatives: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + alternatives + r")\b", re.IGNORECASE)


INTENSE_WORDS = _words(
    r"furious|livid|outrage\w*|ridiculous|unacceptable|disgust\w*|pathetic|worst|horrible|terrible|"
    r"awful|hate|useless|incompetent|scam\w*|joke|wtf|damn\w*|hell|shit\w*|fuck\w*|crap\w*|sick of|"
    r"fed up|enough is enough|shame\w*|appall\w*|insane|nightmare|love|amazing|awesome|fantastic|"
    r"thrilled|best \w+ ever|can'?t believe"
)
_URGENCY_PATTERNS: tuple[tuple[str, float, re.Pattern[str]], ...] = (
    (
        "time pressure",
        0.45,
        _words(
            r"today|tonight|tomorrow|asap|urgent\w*|immediately|right now|right away|deadline|due|expir\w+|"
            r"by (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|"
            r"in (?:an|one|two|\d+) (?:hour|hours|minutes|mins)|as soon as possible|time.sensitive|"
            r"running out of time|leaves? in|before (?:it'?s too late|tomorrow|tonight)"
        ),
    ),
    (
        "money at stake",
        0.40,
        _words(
            r"charged|charge|charges|double.charged|overcharg\w*|refund\w*|fees?|overdraft|rent|bills?|"
            r"payments?|paid|money|fraud\w*|unauthori[sz]ed|stolen|debited|withdrawn|compensat\w+|reimburs\w+"
        ),
    ),
    (
        "service down",
        0.40,
        _words(
            r"(?:is|are|was|went|been|goes|still) down|outage|not working|(?:does|did|is|are|was)n'?t working|"
            r"stopped working|(?:can'?t|cannot|unable to) (?:log ?in|login|sign in|access|connect|use|pay)|"
            r"locked out|crash\w*|error\w*|broken|offline|no (?:service|signal|internet|power)|stranded|stuck|"
            r"cancel+ed|failed|fails"
        ),
    ),
    (
        "threat to leave",
        0.45,
        _words(
            r"cancel+(?:ing)? my (?:account|subscription|membership|order|plan|service)|close my account|"
            r"switch(?:ing)? to|take my business|never (?:again|use|fly|buy|order|shop)\w*|leaving|lawyer|"
            r"attorney|legal action|sue|suing|chargeback|report (?:you|this)|better business bureau|bbb|"
            r"last time i|done with (?:you|this)"
        ),
    ),
    (
        "safety",
        0.70,
        _words(
            r"unsafe|danger\w*|injur\w+|hurt|fire|smoke|gas leak|hospital|medical|ambulance|emergency|"
            r"harass\w*|threaten\w*|assault\w*|bleeding|allergic reaction|suicid\w*|police"
        ),
    ),
)
_REPEATED_WORDS = _words(
    r"again|still|(?:second|third|fourth|fifth|2nd|3rd|4th|5th|\d+ ?times?) time|several times|"
    r"multiple times|many times|\d+ times|no (?:response|reply|answer)|still waiting|"
    r"(?:haven'?t|have not|never) heard back|follow(?:ing)?.up|"
    r"already (?:called|contacted|emailed|asked)|keep (?:calling|asking|getting)|yet another"
)
_AMOUNT = re.compile(r"[$€£¥]\s?\d|\d\s?(?:dollars|euros|pounds|usd|eur|gbp)\b", re.IGNORECASE)
REPEATED_CONTACT_WEIGHTS = (0.0, 0.25, 0.45, 0.60)


@dataclass(frozen=True)
class Cues:
    """What the text alone says: whether it has content, and the cue strengths behind arousal and urgency."""

    has_content: bool
    arousal_parts: dict[str, float]  # cue name -> weight * strength
    urgency_parts: dict[str, float]
    emoji_valence: float  # -1..1 from emoji and emoticons, 0 when there are none


def clean_text(text: object) -> str:
    """Plain text for analysis: HTML tags and entities removed, whitespace collapsed, at most MAX_CHARS."""
    if not isinstance(text, str):
        return ""
    head = text[: MAX_CHARS * 4]
    if "<" in head:
        head = _TAG.sub(" ", _SCRIPT_STYLE.sub(" ", head))
    if "&" in head:
        head = html.unescape(head)
    return _SPACE.sub(" ", head).strip()[:MAX_CHARS]


def _noisy_or(parts: dict[str, float]) -> float:
    remaining = 1.0
    for value in parts.values():
        remaining *= 1.0 - min(max(value, 0.0), 1.0)
    return 1.0 - remaining


def _caps_strength(text: str) -> float:
    words = _WORD.findall(text)
    shouted = sum(1 for w in words if w.isupper())
    if shouted < 2:
        return 0.0
    return min(max((shouted / len(words) - 0.2) / 0.4, 0.0), 1.0)


def _emoji_valence(text: str) -> float:
    positive = sum(text.count(e) for e in POSITIVE_EMOJI) + len(_EMOTICON_POS.findall(text))
    negative = sum(text.count(e) for e in NEGATIVE_EMOJI) + len(_EMOTICON_NEG.findall(text))
    total = positive + negative
    return (positive - negative) / total if total else 0.0


def extract_cues(text: str, *, prior_inbound: int = 0) -> Cues:
    """Measure the cues of one cleaned text; `prior_inbound` counts the ticket's earlier customer messages."""
    arousal = {
        "all caps": 0.55 * _caps_strength(text),
        "exclamation": 0.35 * min(text.count("!") / 3.0, 1.0),
        "repeated punctuation": 0.30 * bool(_REPEATED_PUNCT.search(text)),
        "intense words": 0.45 * min(0.6 + 0.4 * (len(INTENSE_WORDS.findall(text)) - 1), 1.0)
        if INTENSE_WORDS.search(text)
        else 0.0,
        "stretched words": 0.20 * bool(_STRETCHED.search(text)),
        "intense emoji": 0.35 * any(e in text for e in INTENSE_EMOJI),
    }
    urgency = {name: weight * bool(pattern.search(text)) for name, weight, pattern in _URGENCY_PATTERNS}
    if _AMOUNT.search(text):
        urgency["money at stake"] = 0.40
    contacts = max(prior_inbound, 0) + bool(_REPEATED_WORDS.search(text))
    urgency["repeated contact"] = REPEATED_CONTACT_WEIGHTS[min(contacts, len(REPEATED_CONTACT_WEIGHTS) - 1)]
    emoji_valence = _emoji_valence(text)
    has_content = bool(_ANY_WORD_CHAR.search(text)) or emoji_valence != 0.0
    return Cues(has_content, arousal, urgency, emoji_valence)


def arousal_score(cues: Cues, valence: float) -> tuple[float, list[str]]:
    """Arousal in 0..1 from the text cues and the strength of the sentiment, with the cues that fired."""
    parts = {**cues.arousal_parts, "strong sentiment": 0.25 * abs(valence)}
    return _noisy_or(parts), [name for name, value in cues.arousal_parts.items() if value > 0]


def urgency_score(cues: Cues, valence: float) -> tuple[float, list[str]]:
    """Urgency in 0..1 from what is at stake and how negative the message is, with the cues that fired."""
    parts = {**cues.urgency_parts, "negative sentiment": 0.20 * max(0.0, -valence)}
    return _noisy_or(parts), [name for name, value in cues.urgency_parts.items() if value > 0]
