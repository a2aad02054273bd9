"""The health view's partition check before the worker's consumer thread has started."""

from __future__ import annotations

import asyncio

import faust

from streams.app import _assigned


def test_a_consumer_not_started_yet_reads_as_not_assigned() -> None:
    # Probes poll /healthz from the first second; faust raises ConsumerNotStarted until the
    # consumer thread is up, which used to turn the probe into an HTTP 500.
    loop = asyncio.new_event_loop()
    app = faust.App("health-probe-test", broker="kafka://127.0.0.1:1", loop=loop)
    try:
        assert _assigned(app) is False
    finally:
        # The consumer thread made its own loop when first touched; it closes it only
        # when it has run, so close it here (and ours).
        app.consumer._thread.thread_loop.close()
        loop.close()
