"""Signals of a contact for the policy: sentiment and intents, built once per config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from routing.config import RoutingConfig
from routing.contact import Contact
from routing.intents import IntentCatalogue, IntentMatch, default_catalogue
from routing.sentiment import Analyzer, Sentiment, default_analyzer

__all__ = ["Enricher", "Signals", "enrich", "enricher_for"]

_DEFAULT_NEGATIVE_THRESHOLD: Final = -0.05
_CACHE_LIMIT: Final = 8
_TEXT_CACHE_LIMIT: Final = 50_000
_CACHE_TEXT_MAX: Final = 300


@dataclass(frozen=True, slots=True)
class Signals:
    """What the text of a contact says: sentiment (with service cues) and intents."""

    sentiment: Sentiment
    intents: tuple[IntentMatch, ...]


class Enricher:
    """The analyzer and intent catalogue of one config, built once and reused per contact.

    A config without sentiment extensions or intent changes shares the process-wide
    default analyzer and catalogue (and their warm caches).

    Args:
        config: A validated routing config.
    """

    __slots__ = ("_cache", "analyzer", "catalogue", "version")

    def __init__(self, config: RoutingConfig) -> None:
        self.version = config.version
        s = config.sentiment
        self.analyzer: Analyzer
        if s.lexicon or s.cues or s.negative_threshold != _DEFAULT_NEGATIVE_THRESHOLD:
            self.analyzer = Analyzer(
                extra_lexicon={str(lang): words for lang, words in s.lexicon.items()},
                extra_cues={
                    cue: {str(lang): p for lang, p in per.items()} for cue, per in s.cues.items()
                },
                negative_threshold=s.negative_threshold,
                positive_threshold=max(0.3, s.negative_threshold),
            )
        else:
            self.analyzer = default_analyzer()
        self.catalogue: IntentCatalogue
        if config.intents.use_defaults and not config.intents.catalogue:
            self.catalogue = default_catalogue()
        else:
            self.catalogue = IntentCatalogue(config.intent_phrases())

        # Exact short texts repeat a lot ("Где мой заказ?", IVR transcripts, templated
        # forms, reposts): their signals are kept, bounded, and dropped as a whole when full.
        self._cache: dict[tuple[str, str], Signals] = {}

    def __call__(self, contact: Contact) -> Signals:
        """Analyse the contact's text (an empty text is neutral with no intents)."""
        text = contact.text
        key = (contact.language, text)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        sentiment = self.analyzer.analyze(text, contact.language)
        signals = Signals(sentiment, self.catalogue.match(text, contact.language) if text else ())
        if len(text) <= _CACHE_TEXT_MAX:
            if len(self._cache) >= _TEXT_CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = signals
        return signals


# Keyed by config version: a hot reload of identical content reuses the warm analyzer.
_ENRICHERS: dict[str, Enricher] = {}


def enricher_for(config: RoutingConfig) -> Enricher:
    """The (cached) enricher of a config; building one never happens per contact."""
    version = config.version
    hit = _ENRICHERS.get(version)
    if hit is None:
        hit = Enricher(config)
        if len(_ENRICHERS) >= _CACHE_LIMIT:
            _ENRICHERS.pop(next(iter(_ENRICHERS)))
        _ENRICHERS[version] = hit
    return hit


def enrich(contact: Contact, config: RoutingConfig) -> Signals:
    """Sentiment and intents of a contact's text, with the config's extensions."""
    return enricher_for(config)(contact)
