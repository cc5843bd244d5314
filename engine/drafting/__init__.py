"""Grounded drafting: reply adaptation, holding replies, guidance, the llama.cpp drafter and citation checks."""

from engine.drafting.adapt import Adapted, adapt_reply, fill_fields, open_fields, ticket_values
from engine.drafting.citations import CitationReport, SentenceSupport, check_citations
from engine.drafting.drafter import Drafter, DrafterUnavailable, DraftResult, FakeDrafter
from engine.drafting.embed_cache import CachingEmbedder
from engine.drafting.guidance import GuidanceFilter, steps_of
from engine.drafting.holding import ARTICLE, HOLDING, HOLDING_NOTE, PAST_REPLY, holding_reply, stream_words
from engine.drafting.llama_drafter import GENERATION, LlamaDrafter
from engine.drafting.sources import Source, sources_from_hits

__all__ = [
    "ARTICLE",
    "GENERATION",
    "HOLDING",
    "HOLDING_NOTE",
    "PAST_REPLY",
    "Adapted",
    "CachingEmbedder",
    "CitationReport",
    "DraftResult",
    "Drafter",
    "DrafterUnavailable",
    "FakeDrafter",
    "GuidanceFilter",
    "LlamaDrafter",
    "SentenceSupport",
    "Source",
    "adapt_reply",
    "check_citations",
    "fill_fields",
    "holding_reply",
    "open_fields",
    "sources_from_hits",
    "steps_of",
    "stream_words",
    "ticket_values",
]
