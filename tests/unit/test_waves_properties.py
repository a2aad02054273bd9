"""Property tests of the wave detector: never raises, never flaps, state is always plain JSON."""

from __future__ import annotations

import itertools
import math

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.waves import Signal, StateChange, WaveDetector, WaveLevel, WaveSettings

T0 = 1_700_000_000.0
DWELL = 60.0

SETTINGS = WaveSettings(
    warmup_s=30.0,
    min_dwell_s=DWELL,
    confirm_s=2.0,
    exit_confirm_s=5.0,
    short_window_s=10.0,
    short_window_max_s=60.0,
    window_expected_count=5.0,
    min_count=3.0,
    max_gap_s=30.0,
    max_lateness_s=10.0,
    refresh_s=10,
    profile_bucket_s=60,
)

# A step: how far the clock moves (mostly one second, sometimes back, sometimes far ahead)
# and the counts of two channels as (total, negative).
_steps = st.one_of(
    st.just(1.0),
    st.just(1.0),
    st.just(1.0),
    st.floats(min_value=-200.0, max_value=0.0),
    st.floats(min_value=1.0, max_value=100_000.0),
    st.floats(min_value=0.001, max_value=3.0),
)
_count = st.integers(min_value=0, max_value=60).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(min_value=0, max_value=n))
)
_ticks = st.lists(st.tuples(_steps, _count, _count), min_size=1, max_size=400)


def _replay(ticks: list[tuple[float, tuple[int, int], tuple[int, int]]]) -> list[StateChange]:
    det = WaveDetector(SETTINGS, capacities={"voice": 8.0})
    t = T0
    out: list[StateChange] = []
    for step, voice, chat in ticks:
        t += step
        counts: dict[str, int | tuple[int, int]] = {"voice": voice}
        if chat[0]:
            counts["chat"] = chat
        out.extend(det.tick(t, counts))
    state = det.snapshot().to_dict()
    for channel in state["channels"].values():
        for key, value in channel.items():
            if isinstance(value, float):
                assert math.isfinite(value), (key, value)
    orjson.dumps(state)
    orjson.dumps(det.checkpoint())
    return out


@settings(max_examples=300, deadline=None)
@given(_ticks)
def test_never_raises_and_never_flaps(
    ticks: list[tuple[float, tuple[int, int], tuple[int, int]]],
) -> None:
    changes = _replay(ticks)
    by_key: dict[tuple[str, Signal], list[StateChange]] = {}
    for c in changes:
        assert c.previous != c.current
        assert c.started_at <= c.at
        assert math.isfinite(c.rate) and math.isfinite(c.ratio) and math.isfinite(c.baseline)
        by_key.setdefault((c.channel, c.signal), []).append(c)
    rank = {WaveLevel.NORMAL: 0, WaveLevel.ELEVATED: 1, WaveLevel.WAVE: 2}
    for seq in by_key.values():
        for prev, cur in itertools.pairwise(seq):
            assert cur.previous == prev.current  # a chain: no change is lost
            assert cur.at >= prev.at  # event time never goes back
            went_down = rank[cur.current] < rank[cur.previous]
            reversed_ = (rank[cur.current] > rank[cur.previous]) != (
                rank[prev.current] > rank[prev.previous]
            )
            if went_down or reversed_:
                assert cur.at - prev.at >= DWELL, (prev, cur)


@settings(max_examples=100, deadline=None)
@given(_ticks)
def test_replay_is_deterministic(
    ticks: list[tuple[float, tuple[int, int], tuple[int, int]]],
) -> None:
    assert _replay(ticks) == _replay(ticks)
