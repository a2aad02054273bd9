"""Shared builders for unit tests: envelopes per channel and a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from streams.ingest import Normalizer

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

VALID_PAYLOADS: dict[str, dict[str, Any]] = {
    "voice": {
        "call_id": "c-1",
        "caller_number": "8 (916) 123-45-67",
        "ivr_path": ["2", "orders"],
        "wait_seconds": 42.5,
        "transcript": "Где мой заказ",
    },
    "callback": {"phone": "+79161234567", "topic": "delivery", "comment": "Перезвоните после 18"},
    "chat": {"session_id": "s-1", "text": "Hi, where is my order?", "email": "A@B.example"},
    "email": {
        "from": "Ivan.Petrov@Mail.Example",
        "to": ["support@shop.example"],
        "subject": "Возврат",
        "body": "Хочу вернуть товар",
        "thread_id": "th-9",
    },
    "sms": {"from_number": "+7 916 123 45 67", "text": "STOP"},
    "social_public": {
        "network": "VK",
        "author_handle": "@Ivan",
        "url": "https://vk.example/p/1",
        "text": "Ужасный сервис!",
        "kind": "comment",
        "author_followers": 1200,
    },
    "social_private": {
        "network": "vk",
        "author_handle": "ivan",
        "conversation_id": "dm-1",
        "text": "Помогите с заказом",
    },
    "messenger": {
        "messenger": "whatsapp",
        "chat_id": "wa-1",
        "phone": "89161234567",
        "text": "Привет 👋 где заказ?",
    },
    "web_form": {
        "form_id": "contact",
        "message": "Please call me back",
        "email": "x@y.example",
        "subject": "Refund",
        "order_id": "A-1",
    },
    "forum": {
        "forum": "community",
        "author_handle": "bob",
        "thread_id": "t-1",
        "url": "https://forum.example/t/1",
        "title": "Card blocked",
        "text": "Why?",
    },
    "in_person": {
        "location_kind": "branch",
        "location_id": "msk-01",
        "ticket_number": "A042",
        "ticket_topic": "cards",
        "wait_minutes": 12,
    },
}


def envelope(ch: str, payload: dict[str, Any] | None = None, /, **over: Any) -> dict[str, Any]:
    env: dict[str, Any] = {
        "event_id": f"evt-{ch}",
        "channel": ch,
        "occurred_at": "2026-11-23T14:59:00+03:00",
        "schema_version": 1,
        "payload": dict(VALID_PAYLOADS[ch] if payload is None else payload),
    }
    env.update(over)
    return env


def raw(env: dict[str, Any]) -> bytes:
    return orjson.dumps(env)


@pytest.fixture
def normalizer() -> Normalizer:
    return Normalizer(lambda: NOW)
