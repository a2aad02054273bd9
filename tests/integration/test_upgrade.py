"""Upgrading from workers that routed in faust's group: the route stage resumes where it stopped."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from streams.codecs import encode_model
from streams.embedded_broker import EmbeddedBroker, create_topics
from streams.ingest import DeadLetter, Normalizer
from tests.integration.workers import WorkerProcess, drain, publish
from tests.unit.conftest import envelope, raw


def chat(i: int, tag: str) -> bytes:
    payload = {"session_id": f"s{i}", "text": "Где мой заказ?", "email": f"c{i}@x.example"}
    return raw(envelope("chat", payload, event_id=f"{tag}-{i}"))


def test_a_partition_never_committed_by_the_route_group_starts_at_the_legacy_commit(
    broker: EmbeddedBroker,
) -> None:
    worker = WorkerProcess(broker, partitions=2)
    normalized = worker.topic("contacts.normalized")

    async def history_routed_by_the_old_group() -> None:
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

        await create_topics(broker.bootstrap, {normalized: 2})
        normalizer = Normalizer(lambda: datetime.now(UTC))
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            for i in range(30):  # contacts the old workers normalized and routed
                contact = normalizer(chat(i, "old"))
                assert not isinstance(contact, DeadLetter)
                key = contact.customer_key.encode()
                await producer.send_and_wait(normalized, encode_model(contact), key=key)
        finally:
            await producer.stop()
        # ... and committed, in faust's group (the app id).
        consumer = AIOKafkaConsumer(
            bootstrap_servers=broker.bootstrap, group_id=worker.app_id, enable_auto_commit=False
        )
        await consumer.start()
        try:
            tps = [TopicPartition(normalized, p) for p in range(2)]
            ends = await consumer.end_offsets(tps)
            assert sum(ends.values()) == 30
            consumer.assign(tps)
            await consumer.commit({tp: end for tp, end in ends.items()})
        finally:
            await consumer.stop()

    asyncio.run(history_routed_by_the_old_group())
    with worker:
        publish(broker.bootstrap, worker.topic("contacts.raw"), [chat(i, "new") for i in range(10)])
        routed = worker.topic("contacts.routed")
        got = drain(broker.bootstrap, [routed], until=lambda g: len(g[routed]) >= 10)
        # Give a worker that wrongly started from the earliest offset time to show it.
        got = drain(broker.bootstrap, [routed], until=lambda g: len(g[routed]) > 10, timeout=5)
    events = sorted(d["event_id"] for d in got[routed])
    assert events == sorted(f"new-{i}" for i in range(10)), events
