"""Sentiment of customer messages: label, valence, arousal and urgency, and the ticket trend."""

from engine.nlp.sentiment.model import LABELS
from engine.nlp.sentiment.scorer import SentimentScore, SentimentScorer, frustration_rising

__all__ = [
    "LABELS",
    "SentimentScore",
    "SentimentScorer",
    "frustration_rising",
]
