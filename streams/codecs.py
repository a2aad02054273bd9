"""orjson codec for faust and the byte encoding of wavebreak's records."""

from __future__ import annotations

from typing import Any

import faust
import orjson
from pydantic import BaseModel

__all__ = ["OrjsonCodec", "dumps", "encode_model", "loads", "register"]


def dumps(value: Any) -> bytes:
    """Serialize a JSON-ready value with orjson (UTC datetimes, non-str keys allowed)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z)


def loads(data: bytes | str) -> Any:
    """Parse JSON with orjson."""
    return orjson.loads(data)


def encode_model(model: BaseModel) -> bytes:
    """Encode a pydantic model as compact JSON bytes (pydantic's Rust serializer)."""
    return model.__pydantic_serializer__.to_json(model)


class OrjsonCodec(faust.Codec):
    """faust codec backed by orjson, registered as 'orjson'."""

    def _dumps(self, obj: Any) -> bytes:
        return dumps(obj)

    def _loads(self, s: bytes) -> Any:
        return loads(s)


def register() -> None:
    """Register the codec with faust under the name 'orjson' (idempotent)."""
    from faust.serializers import codecs

    codecs.register("orjson", OrjsonCodec())
