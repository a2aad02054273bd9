"""Customer memory: dedup, cross-channel history, rolling sentiment, bounds, idempotence, JSON."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from routing.memory import (
    CustomerMemory,
    DedupSettings,
    HistoryEntry,
    HistorySettings,
    observe,
    remember,
    summarize,
)

DAY = 86400.0
T0 = 1_800_000_000.0
SETTINGS = HistorySettings(
    history_seconds=30 * DAY, max_contacts=5, sentiment_half_life_seconds=DAY
)


def entry(
    i: int, at: float, score: float = 0.0, channel: str = "chat", public: bool = False
) -> HistoryEntry:
    return HistoryEntry(f"c{i}", channel, at, score, public)


def test_public_post_then_call_is_recognised_across_channels() -> None:
    m = remember(CustomerMemory(), entry(1, T0, -0.8, "social_public", True), SETTINGS)
    m = remember(m, entry(2, T0 + 600, 0.0, "voice"), SETTINGS)
    s = summarize(m, "c2", T0 + 600)
    assert s.count_within(3600) == 1
    assert s.channels_within(3600) == ("social_public",)
    assert s.public_negative_within(3600, -0.3)
    assert not s.public_negative_within(300, -0.3)  # the post is older than 5 minutes


def test_repeat_counts_within_windows() -> None:
    m = CustomerMemory()
    for i, ago in enumerate((10 * DAY, 3 * DAY, DAY / 2, 60)):
        m = remember(m, entry(i, T0 - ago), SETTINGS)
    m = remember(m, entry(9, T0), SETTINGS)
    s = summarize(m, "c9", T0)
    assert [s.count_within(w) for w in (120, DAY, 7 * DAY, 30 * DAY)] == [1, 2, 3, 4]


def test_redelivered_contact_is_not_a_second_contact() -> None:
    m = remember(CustomerMemory(), entry(1, T0, -0.5), SETTINGS)
    again = remember(m, entry(1, T0 + 5, -0.5), SETTINGS)
    assert again is m
    assert summarize(again, "c2", T0 + 10).count_within(DAY) == 1


def test_dedup_semantics_are_kept() -> None:
    d = DedupSettings(window_seconds=60, max_per_customer=2)
    m, dup = observe(CustomerMemory(), "a", T0, d)
    assert not dup
    assert observe(m, "a", T0 + 30, d) == (m, True)
    m2, dup = observe(m, "a", T0 + 120, d)  # outside the window: a new contact
    assert not dup
    for i, cid in enumerate("bcd"):
        m2, _ = observe(m2, cid, T0 + 130 + i, d)
    assert set(m2.seen) == {"c", "d"}


def test_history_is_bounded_by_age_and_count() -> None:
    m = CustomerMemory()
    for i in range(12):
        m = remember(m, entry(i, T0 + i * DAY), SETTINGS)
    assert [e.contact_id for e in m.recent] == [f"c{i}" for i in range(7, 12)]
    m = remember(m, entry(99, T0 + 100 * DAY), SETTINGS)
    assert [e.contact_id for e in m.recent] == ["c99"]


def test_rolling_sentiment_decays_with_time() -> None:
    m = remember(CustomerMemory(), entry(1, T0, -1.0), SETTINGS)
    m = remember(m, entry(2, T0 + DAY, 0.0), SETTINGS)  # the old score weighs half
    s = summarize(m, "c2", T0 + DAY)
    assert s.rolling_sentiment is not None
    assert abs(s.rolling_sentiment - (-0.5 / 1.5)) < 1e-9


def test_out_of_order_contacts_are_sorted() -> None:
    m = remember(CustomerMemory(), entry(2, T0 + 100), SETTINGS)
    m = remember(m, entry(1, T0), SETTINGS)
    assert [e.contact_id for e in m.recent] == ["c1", "c2"]


def test_json_round_trip_and_old_shape() -> None:
    m, _ = observe(CustomerMemory(), "a", T0, DedupSettings())
    m = remember(m, entry(1, T0, -0.25, "forum", True), SETTINGS)
    data = orjson.loads(orjson.dumps(m.to_dict()))
    assert CustomerMemory.from_dict(data) == m
    old = CustomerMemory.from_dict({"seen": {"x": T0}})  # written before history existed
    assert old.recent == () and old.rolling is None and old.seen == {"x": T0}
    assert CustomerMemory.from_dict(None) == CustomerMemory()


def test_own_dict_is_not_parsed_again_but_stays_plain_json() -> None:
    m, _ = observe(CustomerMemory(), "a", T0, DedupSettings())
    m = remember(m, entry(1, T0, -0.25, "forum", True), SETTINGS)
    data = m.to_dict()
    # The table sees a plain JSON object of the documented shape...
    assert orjson.loads(orjson.dumps(data)) == {
        "seen": {"a": T0},
        "recent": [["c1", "forum", T0, -0.25, True]],
        "rolling": [-0.25, 1.0, T0],
    }
    assert dict(data) == orjson.loads(orjson.dumps(data))
    # ...and reading back our own value returns the memory it was made from, while the
    # same content from anywhere else (the changelog, a plain dict) is parsed.
    assert CustomerMemory.from_dict(data) is m
    assert CustomerMemory.from_dict(dict(data)) is not m
    assert CustomerMemory.from_dict(dict(data)) == m


@given(
    st.lists(
        st.tuples(st.integers(0, 20), st.floats(0, 40 * DAY), st.floats(-1, 1)),
        max_size=40,
    )
)
def test_remember_is_bounded_sorted_and_idempotent(items: list[tuple[int, float, float]]) -> None:
    m = CustomerMemory()
    for i, at, score in items:
        m = remember(m, entry(i, T0 + at, score), SETTINGS)
        assert (
            remember(m, entry(i, T0 + at, score), SETTINGS) is m
            or any(e.contact_id == f"c{i}" for e in m.recent) is False
        )
    assert len(m.recent) <= SETTINGS.max_contacts
    ats = [e.at for e in m.recent]
    assert ats == sorted(ats)
    assert len({e.contact_id for e in m.recent}) == len(m.recent)
    if m.rolling is not None:
        s = summarize(m, "none", T0)
        assert s.rolling_sentiment is not None and -1.0 <= s.rolling_sentiment <= 1.0
