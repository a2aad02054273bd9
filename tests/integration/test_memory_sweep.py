"""Expired customer memories leave a live worker's table and its changelog (no resurrection)."""

from __future__ import annotations

from pathlib import Path

import yaml

from routing.config import load_config
from streams.embedded_broker import EmbeddedBroker
from tests.integration.workers import ROOT, WorkerProcess, drain, publish, wait_until
from tests.unit.conftest import envelope, raw


def short_memory_config(tmp_path: Path) -> Path:
    """config/open.yaml whose customer memories expire 3 s after a customer's last contact."""
    data = yaml.safe_load((ROOT / "config" / "open.yaml").read_text(encoding="utf-8"))
    data["memory"].update(history_seconds=3, dedup_seconds=3, repeat_window_seconds=3)
    path = tmp_path / "short-memory.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    load_config(path)
    return path


def sms(customer: int, n: int) -> bytes:
    payload = {"from_number": f"+7916{customer:07d}", "text": "Где мой заказ?"}
    return raw(envelope("sms", payload, event_id=f"sms-{customer}-{n}"))


def test_expired_memories_are_swept_and_stay_gone_after_a_restart(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    env = {
        "WAVEBREAK_CONFIG": str(short_memory_config(tmp_path)),
        "WAVEBREAK_MEMORY_SWEEP_SECONDS": "1",
    }
    customers = 40
    with WorkerProcess(broker, partitions=4, env=env) as worker:
        contacts = [sms(c, n) for n in range(2) for c in range(customers)]
        routed_t = worker.topic("contacts.routed")
        publish(broker.bootstrap, worker.topic("contacts.raw"), contacts)
        drain(broker.bootstrap, [routed_t], until=lambda g: len(g[routed_t]) >= len(contacts))
        wait_until(
            lambda: worker.metric("wavebreak_memory_expired_total") >= customers,
            timeout=30,
            what="every memory expired and swept",
        )
        assert worker.metric("wavebreak_memory_expired_total") == customers
        assert worker.metric("wavebreak_memory_customers") == 0

        # A restarted worker replays the changelog: the tombstones keep the table empty
        # (without them its first sweeps would find and delete the same memories again).
        worker.stop()
        worker.start()
        wait_until(
            lambda: worker.metric("wavebreak_memory_sweeps_total") >= 2,
            timeout=30,
            what="two sweeps after the restart",
        )
        assert worker.metric("wavebreak_memory_customers") == 0
        assert worker.metric("wavebreak_memory_expired_total") == 0
        # A customer's next contact is a first contact again, and is remembered.
        again = [sms(c, 9) for c in range(customers)]
        publish(broker.bootstrap, worker.topic("contacts.raw"), again)
        got = drain(broker.bootstrap, [routed_t], until=lambda g: len(g[routed_t]) >= 3 * customers)
        assert len(got[routed_t]) == 3 * customers
        assert worker.metric("wavebreak_duplicates_total") == 0
