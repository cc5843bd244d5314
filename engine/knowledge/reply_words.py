"""Word weights of the reply memory: TF-IDF over every reply the team sent on a resolved ticket.

Replies are compared with each other (which reply most of the team's replies for such messages agree with) and
with the customer's message (which reply speaks of what the customer wrote) in these weights: a word every reply
uses counts little, a word only some replies use counts a lot. The counts are kept per reply memory and brought up
to date with the tickets resolved since the last draft.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
from sqlmodel import Session, col, select

from engine.store.models import Direction, Message, Ticket, TicketStatus

_WORD = re.compile(r"\b\w\w+\b")
_CHUNK = 500  # ticket ids per query


def words(text: str) -> list[str]:
    """The words of a text as the weights count them: lower case, two characters or more."""
    return _WORD.findall(text.lower())


class ReplyWords:
    """How many of the memory's replies use each word (document frequency), and TF-IDF vectors from it."""

    def __init__(self) -> None:
        self._df: Counter[str] = Counter()
        self._counted: set[int] = set()

    @property
    def replies(self) -> int:
        """How many resolved tickets' replies are counted."""
        return len(self._counted)

    def update(self, session: Session) -> None:
        """Count the replies of tickets resolved since the last update (each ticket's replies count once)."""
        resolved = set(session.exec(select(Ticket.id).where(Ticket.status == TicketStatus.RESOLVED)))
        new = sorted(i for i in resolved - self._counted if i is not None)
        for start in range(0, len(new), _CHUNK):
            chunk = new[start : start + _CHUNK]
            bodies = session.exec(
                select(Message.ticket_id, Message.body).where(
                    col(Message.ticket_id).in_(chunk), Message.direction == Direction.OUTBOUND
                )
            )
            seen: dict[int, set[str]] = {}
            for ticket_id, body in bodies:
                seen.setdefault(ticket_id, set()).update(words(body))
            for found in seen.values():
                self._df.update(found)
            self._counted.update(seen)

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Unit TF-IDF rows (sublinear term frequency, smoothed IDF) of the texts over their shared vocabulary."""
        bags = [Counter(w for w in words(t) if w in self._df) for t in texts]  # words no reply uses tell nothing
        vocabulary = {w: i for i, w in enumerate(dict.fromkeys(w for bag in bags for w in bag))}
        n = self.replies
        matrix = np.zeros((len(texts), len(vocabulary)), dtype=np.float32)
        for row, bag in enumerate(bags):
            for word, count in bag.items():
                idf = math.log((1 + n) / (1 + self._df[word])) + 1
                matrix[row, vocabulary[word]] = (1 + math.log(count)) * idf
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms > 0, norms, 1.0)
