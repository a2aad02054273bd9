"""`wavebreak schema [CHANNEL]`: the JSON Schema adapters validate their envelopes against."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from routing.channels import Channel
from streams.ingest import SUPPORTED_SCHEMA_VERSIONS, Envelope, payload_model

__all__ = ["configure", "envelope_schema", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument(
        "channel",
        nargs="?",
        choices=[c.value for c in Channel],
        help="channel whose envelope+payload schema to print (omitted: the envelope with "
        "every channel's payload)",
    )


def envelope_schema(channel: Channel | None = None) -> dict[str, Any]:
    """Return the JSON Schema of an envelope, for one channel or for all of them."""
    schema = Envelope.model_json_schema()
    channels = [channel] if channel else list(Channel)
    defs: dict[str, Any] = {}
    variants = []
    for ch in channels:
        payload = payload_model(ch).model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
        defs.update(payload.pop("$defs", {}))
        defs[payload["title"]] = payload
        variants.append(
            {
                "properties": {
                    "channel": {"const": ch.value},
                    "payload": {"$ref": f"#/$defs/{payload['title']}"},
                }
            }
        )
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"wavebreak envelope ({channel.value if channel else 'any channel'})"
    props = schema["properties"]
    props["channel"] = {"enum": [c.value for c in channels]}
    props["occurred_at"]["format"] = "date-time"
    props["schema_version"]["enum"] = sorted(SUPPORTED_SCHEMA_VERSIONS)
    schema["$defs"] = defs
    schema["oneOf" if len(variants) > 1 else "allOf"] = variants
    return schema


def run(args: argparse.Namespace) -> int:
    """Print the schema as indented JSON."""
    channel = Channel(args.channel) if args.channel else None
    sys.stdout.buffer.write(orjson.dumps(envelope_schema(channel), option=orjson.OPT_INDENT_2))
    sys.stdout.buffer.write(b"\n")
    return 0
