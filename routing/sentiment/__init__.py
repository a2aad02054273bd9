"""Sentiment and customer-service cue analysis of contact texts (Russian and English)."""

from __future__ import annotations

from functools import cache

from routing.sentiment.analyzer import Analyzer, Label, Language, Sentiment
from routing.sentiment.cues import ServiceCue

__all__ = [
    "Analyzer",
    "Label",
    "Language",
    "Sentiment",
    "ServiceCue",
    "analyze",
    "default_analyzer",
]


@cache
def default_analyzer() -> Analyzer:
    """The shared analyzer built from the built-in lexicons (constructed on first use)."""
    return Analyzer()


def analyze(text: str, language: str = "other") -> Sentiment:
    """Analyse one text with the default analyzer; see `Analyzer.analyze`."""
    return default_analyzer().analyze(text, language)
