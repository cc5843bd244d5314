"""Intent classification: the calibrated ensemble classifier, its metrics and the versioned model registry."""

from engine.nlp.intent.alternatives import close_alternatives
from engine.nlp.intent.classifier import UNKNOWN, IntentClassifier, IntentPrediction, training_data_hash
from engine.nlp.intent.metrics import evaluate
from engine.nlp.intent.registry import IntentModelRegistry, text_key, train_and_activate

__all__ = [
    "UNKNOWN",
    "IntentClassifier",
    "IntentModelRegistry",
    "IntentPrediction",
    "close_alternatives",
    "evaluate",
    "text_key",
    "train_and_activate",
    "training_data_hash",
]
