"""A small hand-written sentiment lexicon for support messages, with negation, and its feature vector."""

from __future__ import annotations

import re

import numpy as np

from engine.nlp.sentiment.cues import Cues


def _bag(words: str) -> frozenset[str]:
    return frozenset(words.split())


_POSITIVE = _bag(
    "thank thanks thx thankful grateful appreciate appreciated great good excellent awesome amazing fantastic "
    "wonderful perfect love loved loving lovely best nice helpful kind friendly quick quickly fast smooth "
    "easy happy glad pleased impressed brilliant superb outstanding resolved solved fixed works recommend "
    "enjoy enjoyed cheers kudos pleasure delighted satisfied professional courteous beautiful cool yay "
    "congrats congratulations welcome exceptional favorite favourite"
)
_NEGATIVE = _bag(
    "bad worst terrible horrible awful poor poorly hate hated angry annoyed annoying frustrated frustrating "
    "frustration disappointed disappointing disappointment upset unhappy ridiculous unacceptable useless "
    "pathetic rude incompetent disgusting disgusted furious delay delayed delays late cancelled canceled "
    "cancel lost missing broken damaged wrong error fail failed failure fails problem problems issue issues "
    "complaint complain waiting waited wait hours nobody nothing refund charged overcharged scam fraud stuck "
    "stranded ignored ignoring worse sucks suck joke shame shameful nightmare mess hold unable again still "
    "yet seriously why sorry unfortunately disappoint fed sick tired misery miserable helpless unprofessional "
    "slow expensive overpriced fees fee lies lied liar excuse excuses apology compensation disaster chaos "
    "outage down crash crashed wtf ugh"
)
_NEGATORS = _bag(
    "not no never n't dont don't didnt didn't isnt isn't wasnt wasn't wont won't cant can't cannot without hardly"
)
_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?")
LEXICON_FEATURES = 7


def lexicon_features(text: str, cues: Cues) -> np.ndarray:
    """Positive and negative word rates and log counts, negations, emoji valence, and whether it asks a question."""
    tokens = _TOKEN.findall(text.lower())
    positive = negative = negations = 0
    for i, token in enumerate(tokens):
        negations += token in _NEGATORS
        if token in _POSITIVE:
            negated = any(t in _NEGATORS for t in tokens[max(0, i - 3) : i])
            negative += negated
            positive += not negated
        elif token in _NEGATIVE:
            negative += 1
    n = max(len(tokens), 1)
    return np.array(
        [
            positive / n,
            negative / n,
            np.log1p(positive),
            np.log1p(negative),
            np.log1p(negations),
            cues.emoji_valence,
            "?" in text,
        ],
        dtype=np.float32,
    )
