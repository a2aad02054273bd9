"""faust table helpers wavebreak needs on faust-streaming 0.15.3."""

from __future__ import annotations

from typing import Any

__all__ = ["use_serializers"]


def use_serializers(table: Any, key: str, value: str) -> Any:
    """Set a table's changelog serializers before its changelog topic is first built.

    faust derives them from key_type/value_type only (bytes -> raw, anything else ->
    json) and ignores `schema=`; without this a bytes key would be JSON-decoded on
    recovery and every changelog record would fail to apply.
    """
    table.key_serializer = key
    table.value_serializer = value
    return table
