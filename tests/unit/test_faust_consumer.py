"""faust consumer wiring (load ticks): the offset guard and the fetch wait."""

from __future__ import annotations

import asyncio

import faust
import pytest

from streams.embedded_fixes import GuardedConsumer, install_consumer


def test_the_worker_consumer_is_guarded_and_fetches_with_the_max_wait() -> None:
    loop = asyncio.new_event_loop()
    app = faust.App("fetch-wait-test", broker="kafka://127.0.0.1:1", loop=loop)
    gaps: list[tuple[str, str, int, int, int]] = []
    try:
        install_consumer(app, fetch_max_wait_ms=50, on_gap=lambda *a: gaps.append(a))
        assert isinstance(app.consumer, GuardedConsumer)
        app.consumer.on_gap("refetched", "t", 0, 1, 5)  # type: ignore[misc]
        assert gaps == [("refetched", "t", 0, 1, 5)]
        thread = app.consumer._thread

        async def fetch_wait() -> int:  # aiokafka builds its consumers inside a loop only
            consumer = thread._create_worker_consumer(app.transport)
            await consumer.stop()
            return int(consumer._fetch_max_wait_ms)

        assert loop.run_until_complete(fetch_wait()) == 50
        app.topic("declared-after")  # the transport stays the one set above
        with pytest.raises(RuntimeError, match="before the first topic"):
            install_consumer(app, fetch_max_wait_ms=100)
    finally:
        app.consumer._thread.thread_loop.close()
        loop.close()
