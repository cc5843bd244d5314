"""Grounded drafting: prompt building, the llama.cpp drafter, citation checking and the extractive fallback."""

from engine.drafting.citations import CitationReport, SentenceSupport, check_citations
from engine.drafting.drafter import Drafter, DrafterUnavailable, DraftResult, FakeDrafter
from engine.drafting.embed_cache import CachingEmbedder
from engine.drafting.llama_drafter import GENERATION, LlamaDrafter
from engine.drafting.sources import Source, sources_from_hits

__all__ = [
    "GENERATION",
    "CachingEmbedder",
    "CitationReport",
    "DraftResult",
    "Drafter",
    "DrafterUnavailable",
    "FakeDrafter",
    "LlamaDrafter",
    "SentenceSupport",
    "Source",
    "check_citations",
    "sources_from_hits",
]
