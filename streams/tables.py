"""faust table classes with the fixes wavebreak needs on faust-streaming 0.15.3."""

from __future__ import annotations

from typing import Any, cast

import faust
from faust.tables.globaltable import GlobalTable

__all__ = ["ExternalGlobalTable", "external_global_table", "use_serializers"]


class ExternalGlobalTable(GlobalTable):
    """A GlobalTable whose changelog is a named topic that others write to.

    faust 0.15.3's partition assignor looks a global table's changelog up by the default
    name (`{app_id}-{table}-changelog`) even when `changelog_topic=` names another topic;
    the lookup fails inside the assignor and the consumer group never finishes joining
    (no error is logged). Returning the real topic name fixes the lookup.
    """

    def _changelog_topic_name(self) -> str:
        return self.changelog_topic.get_topic_name()


def external_global_table(
    app: faust.App,
    name: str,
    topic: faust.TopicT,
    *,
    value_serializer: str,
    help: str,
    **kwargs: Any,
) -> ExternalGlobalTable:
    """Register a global table that mirrors `topic` (latest value per key) on every worker."""
    table = ExternalGlobalTable(
        app,
        name=name,
        default=None,
        beacon=app.tables.beacon,
        partitions=1,
        changelog_topic=topic,
        key_type=bytes,
        # Apply changes as they arrive, and read every partition on every worker: the
        # records are produced by one worker (or a CLI), not through this table.
        standby_buffer_size=1,
        is_global=True,
        use_partitioner=True,
        synchronize_all_active_partitions=True,
        help=help,
        **kwargs,
    )
    use_serializers(table, "raw", value_serializer)
    return cast(ExternalGlobalTable, app.tables.add(table))


def use_serializers(table: Any, key: str, value: str) -> Any:
    """Set a table's changelog serializers before its changelog topic is first built.

    faust derives them from key_type/value_type only (bytes -> raw, anything else ->
    json) and ignores `schema=`; without this a bytes key would be JSON-decoded on
    recovery and every changelog record would fail to apply.
    """
    table.key_serializer = key
    table.value_serializer = value
    return table
