"""Intent matching: a configurable catalogue of phrases per language, matched on stems."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Final, NamedTuple

from routing.sentiment import lexicon_en, lexicon_ru
from routing.sentiment.text import (
    Morphology,
    MorphologyName,
    chunk_tokens,
    fold,
    is_cyrillic,
    make_morphology,
)

__all__ = [
    "DEFAULT_INTENTS",
    "Intent",
    "IntentCatalogue",
    "IntentMatch",
    "default_catalogue",
]

# Retail, banking and telecom. Phrases are matched on stems, in any order, within a
# short window, ignoring function words: "отменить заказ" also matches "отмените,
# пожалуйста, мой заказ" and "заказ хочу отменить". Derivations that a stemmer keeps
# apart ("отменить" / "отмена") are listed separately. Whether self-service may handle
# an intent is decided by the routing config, not here.
DEFAULT_INTENTS: Final[Mapping[str, Mapping[str, tuple[str, ...]]]] = MappingProxyType(
    {
        "order_status": {
            "ru": (
                "где мой заказ", "статус заказа", "когда привезут заказ", "когда доставят",
                "отследить заказ", "отслеживание посылки", "где посылка", "трек номер",
                "заказ не пришел", "когда придет заказ",
            ),
            "en": (
                "where is my order", "order status", "track my order", "tracking number",
                "where is my package", "when will my order arrive", "has my order shipped",
            ),
        },
        "cancel_order": {
            "ru": (
                "отменить заказ", "отмените заказ", "отмена заказа", "отменить покупку",
                "отказаться от заказа", "отказ от заказа", "не нужен заказ",
            ),
            "en": ("cancel my order", "cancel order", "order cancellation", "cancel purchase"),
        },
        "reschedule_delivery": {
            "ru": (
                "перенести доставку", "перенесите доставку", "перенос доставки",
                "изменить дату доставки", "поменять время доставки",
                "доставить в другой день", "перенести курьера", "изменить адрес доставки",
            ),
            "en": (
                "reschedule delivery", "reschedule my delivery", "change delivery date",
                "change delivery time", "deliver another day", "change delivery address",
            ),
        },
        "return_refund": {
            "ru": (
                "вернуть товар", "верните товар", "возврат товара", "вернуть деньги",
                "верните деньги", "возврат денег",
                "возврат средств", "оформить возврат", "обменять товар", "обмен товара",
                "деньги не вернули",
            ),
            "en": (
                "return an item", "return my order", "refund", "money back", "get a refund",
                "exchange an item", "return policy",
            ),
        },
        "payment_problem": {
            "ru": (
                "не проходит оплата", "оплата не прошла", "ошибка оплаты", "списали дважды",
                "двойное списание", "списали деньги", "не могу оплатить", "платеж не прошел",
                "карта не проходит", "деньги списали",
            ),
            "en": (
                "payment failed", "payment declined", "card declined", "charged twice",
                "double charged", "can't pay", "payment problem", "payment not going through",
                "unauthorized charge",
            ),
        },
        "login_password": {
            "ru": (
                "забыл пароль", "восстановить пароль", "сбросить пароль", "сменить пароль",
                "не могу войти", "не могу зайти", "личный кабинет", "вход в приложение",
                "не приходит код", "заблокировали аккаунт",
            ),
            "en": (
                "forgot my password", "reset password", "change password", "can't log in",
                "cannot login", "unable to sign in", "locked out of my account",
                "verification code", "two factor code",
            ),
        },
        "loyalty_bonuses": {
            "ru": (
                "бонусы", "бонусные баллы", "начислить баллы", "не начислили бонусы",
                "списать баллы", "кешбэк", "кэшбек", "программа лояльности", "бонусная карта",
                "карта лояльности", "скидочная карта",
            ),
            "en": (
                "loyalty points", "reward points", "bonus points", "cashback", "loyalty card",
                "loyalty program", "points not credited", "redeem points",
            ),
        },
        "wrong_price_tag": {
            "ru": (
                "ценник не совпадает", "неправильный ценник", "цена на ценнике",
                "цена на кассе", "другая цена на кассе", "ценник другой", "цена отличается",
            ),
            "en": (
                "wrong price tag", "price tag", "shelf price", "price at the till",
                "charged a different price", "price didn't match", "price on the shelf",
            ),
        },
        "delivery_complaint": {
            "ru": (
                "курьер опоздал", "курьер не приехал", "курьер нахамил", "доставка опоздала",
                "задержка доставки", "привезли не то", "повредили при доставке",
                "доставили поврежденный", "сорвали доставку", "ужасная доставка",
            ),
            "en": (
                "courier was late", "courier never came", "late delivery", "delivery delayed",
                "package damaged", "wrong item delivered", "missed delivery", "rude courier",
                "delivery never arrived",
            ),
        },
        "talk_to_human": {
            "ru": (
                "оператор", "живой человек", "соедините с оператором",
                "поговорить с человеком", "позовите специалиста", "позовите менеджера",
            ),
            "en": (
                "real person", "talk to a human", "speak to an agent", "live agent",
                "representative", "talk to someone", "speak to a manager", "human agent",
            ),
        },
    }
)  # fmt: skip

_MAX_GAP: Final = 2  # other words allowed between a phrase's words, per word
_CACHE_LIMIT: Final = 100_000
# Never part of a phrase's key set: matching ignores them in text and phrases alike.
_FUNCTION_WORDS: Final = lexicon_ru.FUNCTION_WORDS | lexicon_en.FUNCTION_WORDS


@dataclass(frozen=True, slots=True)
class Intent:
    """One catalogue entry: an id and its phrases per language."""

    id: str
    phrases: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class IntentMatch:
    """An intent found in a text.

    Attributes:
        intent: The intent id.
        score: In (0, 1): phrases with more words score higher, tighter matches of
            the same phrase length higher than looser ones.
        phrase: The catalogue phrase that matched (never customer text).
    """

    intent: str
    score: float
    phrase: str


class _Phrase(NamedTuple):
    """A compiled catalogue phrase.

    A named tuple, not a dataclass: the matcher reads its fields for every candidate,
    and a frozen dataclass also hashes all of its fields whenever it is put in a set.
    """

    intent: str
    text: str
    keys: tuple[str, ...]
    rest: tuple[str, ...]  # keys[1:]
    order: int  # the intent's position in the catalogue (ranks equal scores)
    seq: int  # the phrase's position in the catalogue (breaks ties within an intent)
    limit: int  # widest window the gap limit allows


class IntentCatalogue:
    """Intents with phrases per language, matched on word stems or lemmas.

    Args:
        intents: intent id -> {language: [phrases]}, e.g. from the routing config.
        morphology: The same backends as the sentiment analyzer (default "snowball").
    """

    def __init__(
        self,
        intents: Mapping[str, Mapping[str, Sequence[str]]],
        *,
        morphology: MorphologyName | Morphology = "snowball",
    ) -> None:
        self._morph: Morphology = (
            make_morphology(morphology) if isinstance(morphology, str) else morphology
        )
        self._keys: dict[str, str] = {}
        # Whitespace-separated chunk of text -> its content keys. Customer texts reuse a
        # small vocabulary, so one dict lookup per chunk replaces a regex pass over the
        # whole text plus a lookup per token (the regex never matches across whitespace).
        self._chunks: dict[str, tuple[str | None, ...]] = {}
        self._stop = frozenset(self._key(w) for w in _FUNCTION_WORDS)
        self._intents = tuple(
            Intent(id=intent_id, phrases={lang: tuple(p) for lang, p in per_lang.items()})
            for intent_id, per_lang in intents.items()
        )
        phrases: list[_Phrase] = []
        for order, intent in enumerate(self._intents):
            for texts in intent.phrases.values():
                for text in texts:
                    keys = tuple(dict.fromkeys(self._content_keys(text)))
                    if not keys:
                        raise ValueError(f"intent {intent.id!r}: phrase {text!r} has no words")
                    limit = len(keys) + _MAX_GAP * (len(keys) - 1)
                    phrases.append(
                        _Phrase(intent.id, text, keys, keys[1:], order, len(phrases), limit)
                    )
        # Every key some phrase needs: text keys outside this set are dropped at once.
        uses: dict[str, int] = {}
        for phrase in phrases:
            for key in phrase.keys:
                uses[key] = uses.get(key, 0) + 1
        self._phrase_keys = frozenset(uses)
        # A phrase matches only if all its keys occur, so it needs to be looked at only
        # when one of them does: index each phrase under its rarest key ("отмен" rather
        # than "заказ"), so a text with a common word does not try every phrase holding it.
        by_anchor: dict[str, list[_Phrase]] = {}
        for phrase in phrases:
            anchor = min(phrase.keys, key=lambda k: uses[k])
            by_anchor.setdefault(anchor, []).append(phrase)
        self._by_anchor = {key: tuple(group) for key, group in by_anchor.items()}

    @property
    def intents(self) -> tuple[Intent, ...]:
        """The catalogue's intents, in the order given."""
        return self._intents

    def _key(self, word: str) -> str:
        key = self._keys.get(word)
        if key is None:
            folded = fold(word)
            key = self._morph.ru_key(folded) if is_cyrillic(folded) else self._morph.en_key(folded)
            if len(self._keys) >= _CACHE_LIMIT:
                self._keys.clear()
            self._keys[word] = key
        return key

    def _content_keys(self, text: str) -> list[str]:
        keys = []
        # Mostly a chunk of a text that the sentiment analyzer has just tokenized.
        for token in chunk_tokens(text):
            if token[0].isalpha():
                key = self._key(token)
                if key not in self._stop:
                    keys.append(key)
        return keys

    def _chunk_keys(self, chunk: str) -> tuple[str | None, ...]:
        # Keys no phrase uses cannot match but still count as words between a phrase's
        # words (the gap limit): they stay as None placeholders.
        wanted = self._phrase_keys
        keys = tuple(k if k in wanted else None for k in self._content_keys(chunk))
        if len(self._chunks) >= _CACHE_LIMIT:
            # Bound memory on adversarial input; the working set refills quickly.
            self._chunks.clear()
        self._chunks[chunk] = keys
        return keys

    def match(self, text: str, language: str = "other") -> tuple[IntentMatch, ...]:
        """Intents whose phrases occur in the text, best first (at most one per intent).

        Args:
            text: The customer's text.
            language: "ru", "en" or "other"; phrases of every language are tried, since
                words are matched by script, so the argument only documents the caller's
                belief and is kept for symmetry with the sentiment analyzer.

        Returns:
            Matches ordered by score, then by catalogue order. Within an intent, among
            phrases of equal score, the one whose words appear first in the text is named.
        """
        del language  # see the docstring: matching is script-driven
        chunks = self._chunks
        positions: dict[str, list[int]] = {}
        index = 0
        for chunk in text.split():
            keys = chunks.get(chunk)
            if keys is None:
                keys = self._chunk_keys(chunk)
            for key in keys:
                if key is not None:
                    spots = positions.get(key)
                    if spots is None:
                        positions[key] = [index]
                    else:
                        spots.append(index)
                index += 1
        if not positions:
            return ()
        by_anchor = self._by_anchor
        # intent -> (score, first position of the phrase's earliest word, phrase index, phrase)
        best: dict[str, tuple[float, int, int, _Phrase]] = {}
        for key in positions:
            candidates = by_anchor.get(key)
            if candidates is None:
                continue
            for phrase in candidates:
                width = _window(phrase, positions)
                if width is None:
                    continue
                k = len(phrase.keys)
                # More matched words always win; among equals the tighter match does.
                # The slack penalty stays below one word: (k - slack) / (k + 1).
                slack = (width - k) / (_MAX_GAP * k + 1)
                score = (k - slack) / (k + 1)
                first = min(positions[w][0] for w in phrase.keys)
                old = best.get(phrase.intent)
                if (
                    old is None
                    or score > old[0]
                    or (score == old[0] and (first, phrase.seq) < (old[1], old[2]))
                ):
                    best[phrase.intent] = (score, first, phrase.seq, phrase)
        if not best:
            return ()
        ranked = sorted(best.values(), key=lambda item: (-item[0], item[3].order))
        return tuple(
            IntentMatch(intent=phrase.intent, score=round(score, 4), phrase=phrase.text)
            for score, _, _, phrase in ranked
        )


def _window(phrase: _Phrase, positions: Mapping[str, list[int]]) -> int | None:
    """Width of the tightest window holding every key, or None if none fits the gap limit."""
    for key in phrase.keys:  # the anchor is known to occur, but not which key it was
        if key not in positions:
            return None
    rest = phrase.rest
    if not rest:
        return 1
    limit = phrase.limit
    best: int | None = None
    others = [positions[key] for key in rest]
    for start in positions[phrase.keys[0]]:
        # For each other key take the occurrence nearest to this one (the earlier on a tie).
        lo = hi = start
        for spots in others:
            near = spots[0]
            if len(spots) > 1:
                gap = abs(near - start)
                for p in spots:
                    d = abs(p - start)
                    if d < gap:
                        near, gap = p, d
            if near < lo:
                lo = near
            elif near > hi:
                hi = near
        width = hi - lo + 1
        if width <= limit and (best is None or width < best):
            best = width
    return best


@cache
def default_catalogue() -> IntentCatalogue:
    """The built-in retail / banking / telecom catalogue (constructed on first use)."""
    return IntentCatalogue(DEFAULT_INTENTS)
