"""Unit tests of the wave detector: levels, hysteresis, dwell, overload, negativity, time."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from pydantic import ValidationError

from routing.waves import (
    ALL_CHANNELS,
    ChannelDetector,
    ChannelLoad,
    LoadState,
    Signal,
    StateChange,
    WaveDetector,
    WaveLevel,
    WaveSettings,
)

T0 = 1_700_000_000.0  # an arbitrary epoch second; the detector never reads a clock

# One profile bucket per day keeps the baseline a plain long-run mean inside a test day,
# so the figures below can be reasoned about exactly.
FLAT = {
    "profile_bucket_s": 86400,
    "baseline_half_life_s": 1e9,
    "warmup_s": 300.0,
    "min_dwell_s": 120.0,
    "confirm_s": 5.0,
    "short_window_s": 30.0,
}


def settings(**overrides: object) -> WaveSettings:
    return WaveSettings.model_validate({**FLAT, **overrides})


def trained(rate: int = 2, seconds: int = 20_000, **overrides: object) -> ChannelDetector:
    det = ChannelDetector("voice", settings(**overrides))
    assert det.feed(T0, [rate] * seconds) == []
    return det


def run(det: ChannelDetector, start: float, counts: Sequence[int]) -> list[StateChange]:
    """Tick by tick through `update`, the path the aggregator uses."""
    out: list[StateChange] = []
    for i, c in enumerate(counts):
        out.extend(det.update(start + i, c))
    return out


def levels(changes: Sequence[StateChange]) -> list[tuple[WaveLevel, WaveLevel]]:
    return [(c.previous, c.current) for c in changes if c.signal is Signal.LEVEL]


# ---------------------------------------------------------------------------- settings


def test_settings_are_frozen_forbid_extras_and_check_hysteresis() -> None:
    s = WaveSettings()
    with pytest.raises(ValidationError):
        s.min_count = 3  # type: ignore[misc]  # frozen model: assignment must fail
    with pytest.raises(ValidationError):
        WaveSettings.model_validate({"no_such_field": 1})
    with pytest.raises(ValidationError):
        WaveSettings(wave_enter_ratio=1.5, wave_exit_ratio=1.6)
    with pytest.raises(ValidationError):
        WaveSettings(profile_bucket_s=7)
    assert s.wave_exit_ratio < s.wave_enter_ratio
    assert s.elevated_exit_ratio < s.elevated_enter_ratio


# ---------------------------------------------------------------------------- levels


def test_steady_poisson_traffic_never_leaves_normal() -> None:
    rng = random.Random(7)
    det = ChannelDetector("voice", settings(baseline_half_life_s=900.0))
    counts = [_poisson(rng, 1.5) for _ in range(6 * 3600)]
    assert det.feed(T0, counts) == []
    assert det.level is WaveLevel.NORMAL
    assert det.baseline == pytest.approx(1.5, rel=0.1)


def test_surge_reaches_wave_quickly_and_reports_its_figures() -> None:
    det = trained()
    changes = run(det, T0 + 20_000, [8] * 120)
    assert levels(changes)[-1][1] is WaveLevel.WAVE
    wave = next(c for c in changes if c.current is WaveLevel.WAVE)
    assert wave.at - (T0 + 20_000) <= 30
    assert wave.started_at <= wave.at
    assert wave.baseline == pytest.approx(2.0, rel=0.01)
    assert wave.ratio == pytest.approx(wave.rate / wave.baseline)
    assert wave.ratio >= WaveSettings().wave_enter_ratio
    assert wave.window_count >= WaveSettings().min_count


def test_hysteresis_holds_between_exit_and_enter_ratio() -> None:
    det = trained()
    t = T0 + 20_000
    assert levels(run(det, t, [8] * 60))[-1][1] is WaveLevel.WAVE
    t += 60
    # 3.2/s = 1.6x: below the enter ratio (1.75) but above the exit ratio (1.4).
    assert run(det, t, [4, 3, 3, 3, 3] * 300) == []
    assert det.level is WaveLevel.WAVE
    t += 1500
    # 1.33x: below the wave exit but above the elevated exit (1.2), then the normal rate.
    changes = run(det, t, [3, 3, 3, 3, 2] * 120) + run(det, t + 600, [2] * 600)
    assert levels(changes) == [
        (WaveLevel.WAVE, WaveLevel.ELEVATED),
        (WaveLevel.ELEVATED, WaveLevel.NORMAL),
    ]
    assert changes[1].at - changes[0].at >= 120.0
    assert changes[1].at >= t + 600 + 60.0  # the drop must last exit_confirm_s


def test_ratio_below_enter_threshold_never_enters() -> None:
    det = trained()
    # 1.4x sustained for an hour: above the exit ratio of elevated but below its entry.
    assert run(det, T0 + 20_000, [3, 3, 3, 3, 2] * 720) == []


def test_minimum_count_keeps_a_quiet_channel_calm() -> None:
    det = ChannelDetector("letters", settings(min_count=10.0))
    sparse = [1 if i % 1000 == 0 else 0 for i in range(40_000)]
    assert det.feed(T0, sparse) == []
    # From one arrival per 1000 s to three in ten seconds: a huge ratio, but not a wave.
    assert run(det, T0 + 40_000, [1, 0, 0, 0, 1, 0, 0, 0, 0, 1] + [0] * 600) == []
    assert det.level is WaveLevel.NORMAL
    # Thirty in half a minute is a wave even here.
    changes = run(det, T0 + 40_610, [1] * 30 + [0] * 30)
    assert WaveLevel.WAVE in [c.current for c in changes]


def test_min_dwell_holds_a_level_although_traffic_stops() -> None:
    det = trained()
    t = T0 + 20_000
    entered = [c for c in run(det, t, [10] * 30) if c.current is WaveLevel.WAVE]
    assert entered
    changes = run(det, t + 30, [0] * 1000)
    assert [c.current for c in changes] == [WaveLevel.NORMAL]
    assert changes[0].at - entered[0].at >= 120.0
    assert changes[0].started_at == entered[0].started_at


def test_alternating_bursts_do_not_flap() -> None:
    det = trained(min_dwell_s=300.0)
    pattern = ([12] * 20 + [2] * 40) * 60  # a burst every minute for an hour: 2.7x on average
    changes = levels(run(det, T0 + 20_000, pattern))
    assert changes == [(WaveLevel.NORMAL, WaveLevel.WAVE)]


# ---------------------------------------------------------------------------- overload


def test_capacity_overload_is_absolute_and_has_hysteresis() -> None:
    det = ChannelDetector("voice", settings(warmup_s=1e9), capacity=3.0)
    t = T0
    assert det.feed(t, [2] * 600) == []
    changes = run(det, t + 600, [4] * 120)
    over = [c for c in changes if c.signal is Signal.OVERLOAD]
    assert [c.current for c in over] == [WaveLevel.WAVE]
    assert over[0].baseline == 3.0 and over[0].ratio > 1.0
    assert levels(changes) == []  # still warming up: the level itself stays normal
    # 2.85/s is below capacity but above the 0.9 exit fraction: stays overloaded.
    assert run(det, t + 720, [3, 3, 3, 3, 3, 3, 2] * 100) == []
    assert det.overload
    off = [c for c in run(det, t + 1420, [1] * 600) if c.signal is Signal.OVERLOAD]
    assert [c.current for c in off] == [WaveLevel.NORMAL]
    assert det.snapshot().overload is False


def test_capacity_can_be_changed_and_removed() -> None:
    det = WaveDetector(settings(), capacities={"voice": 100.0})
    assert det.channels["voice"].capacity == 100.0
    det.set_capacity("voice", None)
    assert det.channels["voice"].capacity is None
    with pytest.raises(ValueError):
        det.set_capacity("voice", -1.0)


# ---------------------------------------------------------------------------- negativity


def test_negativity_wave_on_share_rising_over_its_baseline() -> None:
    det = ChannelDetector("chat", settings())
    t = T0
    for i in range(20_000):
        assert det.update(t + i, 10, 1) == []
    assert det.snapshot().negative_baseline == pytest.approx(0.1, abs=0.01)
    t += 20_000
    on: list[StateChange] = []
    for i in range(120):
        on.extend(det.update(t + i, 10, 5))
    neg = [c for c in on if c.signal is Signal.NEGATIVITY]
    assert [c.current for c in neg] == [WaveLevel.WAVE]
    assert neg[0].rate > 0.2 and neg[0].baseline == pytest.approx(0.1, abs=0.01)
    assert levels(on) == []  # the volume did not change
    off: list[StateChange] = []
    for i in range(600):
        off.extend(det.update(t + 120 + i, 10, 1))
    assert [c.current for c in off if c.signal is Signal.NEGATIVITY] == [WaveLevel.NORMAL]


def test_negativity_that_builds_over_half_an_hour_is_still_caught() -> None:
    det = ChannelDetector("chat", settings())
    for i in range(20_000):
        det.update(T0 + i, 10, 1)
    changes: list[StateChange] = []
    for i in range(1800):  # from 1 to 5 negative of 10 per second, linearly
        changes += det.update(T0 + 20_000 + i, 10, 1 + (4 * i) // 1800)
    assert [c.current for c in changes if c.signal is Signal.NEGATIVITY] == [WaveLevel.WAVE]


@pytest.mark.parametrize(("surge", "wave"), [(6, False), (7, True), (9, True)])
def test_negativity_on_a_channel_where_half_the_contacts_are_negative(
    surge: int, wave: bool
) -> None:
    # A complaints channel (public social, a collections line) runs at ~50% negative: a
    # share ratio of 2 would need 100% and never fire; the odds ratio needs about 67%.
    det = ChannelDetector("social_public", settings())
    for i in range(20_000):
        det.update(T0 + i, 10, 5)
    assert det.snapshot().negative_baseline == pytest.approx(0.5, abs=0.01)
    changes: list[StateChange] = []
    for i in range(300):
        changes.extend(det.update(T0 + 20_000 + i, 10, surge))
    neg = [c.current for c in changes if c.signal is Signal.NEGATIVITY]
    assert neg == ([WaveLevel.WAVE] if wave else [])


def test_negativity_needs_a_minimum_of_negative_contacts() -> None:
    det = ChannelDetector("email", settings())
    sparse = [1 if i % 100 == 0 else 0 for i in range(20_000)]
    det.feed(T0, sparse)
    changes: list[StateChange] = []
    for i in range(300):
        # Every arrival negative, but only one per 100 s.
        changes.extend(
            det.update(T0 + 20_000 + i, 1 if i % 100 == 0 else 0, 1 if i % 100 == 0 else 0)
        )
    assert changes == []


# ---------------------------------------------------------------------------- channels and time


def test_channel_that_goes_silent_returns_to_normal() -> None:
    det = WaveDetector(settings())
    t = T0
    for i in range(5000):
        assert det.tick(t + i, {"voice": 3, "chat": 1}) == []
    t += 5000
    changes: list[StateChange] = []
    for i in range(60):
        changes.extend(det.tick(t + i, {"voice": 15, "chat": 1}))
    assert det.channels["voice"].level is WaveLevel.WAVE
    assert {c.channel for c in changes if c.current is WaveLevel.WAVE} == {"voice", ALL_CHANNELS}
    t += 60
    for i in range(1000):
        changes.extend(det.tick(t + i, {"chat": 1}))  # voice silent: absent from ticks
    assert det.channels["voice"].level is WaveLevel.NORMAL
    assert det.channels["voice"].rate < 0.01
    assert det.snapshot().level("chat") is WaveLevel.NORMAL
    assert det.snapshot().level("never-seen") is WaveLevel.NORMAL


def test_all_is_reserved_for_the_aggregate() -> None:
    det = WaveDetector(settings())
    with pytest.raises(ValueError):
        det.tick(T0, {ALL_CHANNELS: 1})
    with pytest.raises(ValueError):
        det.tick(T0, {"voice": (1, 2)})


def test_clock_jump_forward_is_a_gap_not_silence() -> None:
    det = trained()
    before = det.baseline
    t = T0 + 20_000 + 10 * 3600  # ten hours without ticks (closed, or the feed was down)
    assert run(det, t, [2] * 600) == []
    assert det.baseline == pytest.approx(before, rel=0.01)
    assert det.rate == pytest.approx(2.0, rel=0.01)
    # And a doubling right after the gap is still a surge against that baseline.
    changes = run(det, t + 600, [5] * 120)
    assert WaveLevel.WAVE in [c.current for c in changes]


def test_silence_shorter_than_max_gap_counts_as_zero_arrivals() -> None:
    det = trained()
    det.update(T0 + 20_000 + 50, 0)  # 50 s hole < max_gap_s (60 s): zeros, not a gap
    assert det.rate < 2.0 * math.exp(-2.0 * 49 / 30.0) + 0.01


def test_out_of_order_and_late_ticks() -> None:
    det = trained()
    t = T0 + 19_999
    rate = det.rate
    assert det.update(t - 5, 40) == [] or True  # counted now, may or may not change state
    assert det.rate > rate
    assert det.snapshot().at == t  # time does not go back
    dropped = det.dropped_late
    assert det.update(t - 3600, 1000) == []  # an hour late: dropped
    assert det.dropped_late == dropped + 1
    assert det.snapshot().at == t


def test_clock_jump_backwards_does_not_move_time_or_raise() -> None:
    det = WaveDetector(settings())
    for i in range(1000):
        det.tick(T0 + i, {"voice": 2})
    assert det.tick(T0 - 86_400, {"voice": 500}) == []
    assert det.snapshot().at == T0 + 999
    assert det.channels["voice"].dropped_late == 1


def test_aware_datetimes_work_and_naive_ones_are_refused() -> None:
    det = ChannelDetector("voice", settings())
    start = datetime.fromtimestamp(T0, UTC)
    det.update(start, 1)
    det.update(start + timedelta(seconds=1), 1)
    assert det.snapshot().at == T0 + 1
    with pytest.raises(ValueError):
        det.update(datetime(2024, 1, 1, 12, 0), 1)  # noqa: DTZ001  # naive on purpose
    with pytest.raises(ValueError):
        det.update(math.nan, 1)
    with pytest.raises(ValueError):
        det.update(T0 + 2, -1)


def test_never_reads_the_wall_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom() -> float:
        raise AssertionError("the detector read the wall clock")

    monkeypatch.setattr(time, "time", boom)
    monkeypatch.setattr(time, "monotonic", boom)
    det = trained(seconds=2000)
    run(det, T0 + 2000, [9] * 100)


# ---------------------------------------------------------------------------- profile


def test_daily_profile_learns_the_morning_ramp() -> None:
    """Days of 07:00-19:00 with a steep ramp and nights without data: no waves once learned."""
    s = WaveSettings(warmup_s=1800.0)
    det = ChannelDetector("voice", s)
    rng = random.Random(3)
    day0 = datetime(2024, 3, 4, tzinfo=UTC).timestamp()
    waves: list[StateChange] = []
    for day in range(6):
        start = day0 + day * 86400 + 7 * 3600
        counts = [_poisson(rng, _ramp(i)) for i in range(12 * 3600)]
        if day == 5:  # a 3x surge at 14:00 for 10 minutes
            for i in range(7 * 3600, 7 * 3600 + 600):
                counts[i] = _poisson(rng, 3 * _ramp(i))
        changes = det.feed(start, counts)
        if day >= 2:
            waves += [c for c in changes if c.current is WaveLevel.WAVE]
    assert len(waves) == 1
    surge_start = day0 + 5 * 86400 + 14 * 3600
    assert 0 <= waves[0].at - surge_start <= 120


def _ramp(i: int) -> float:
    # 0.2/s at 07:00 doubling every 40 min until 1.6/s, then flat: steeper than a bank's morning.
    return min(0.2 * 2 ** (i / 2400), 1.6)


# ---------------------------------------------------------------------------- state and fast path


def test_snapshot_and_changes_round_trip_through_json() -> None:
    det = WaveDetector(settings(), capacities={"voice": 50.0})
    changes: list[StateChange] = []
    for i in range(3000):
        changes += det.tick(T0 + i, {"voice": (2, 1), "chat": 1})
    for i in range(60):
        changes += det.tick(T0 + 3000 + i, {"voice": (9, 1), "chat": 1})
    assert changes
    for c in changes:
        assert StateChange.from_dict(orjson.loads(orjson.dumps(c.to_dict()))) == c
    state = det.snapshot()
    data = orjson.loads(orjson.dumps(state.to_dict()))
    assert set(data["channels"]) == {"voice", "chat", ALL_CHANNELS}
    assert LoadState.from_dict(data) == state
    voice = data["channels"]["voice"]
    assert voice["level"] == "wave" and voice["capacity"] == 50.0
    assert ChannelLoad.from_dict(voice) == state.channels["voice"]


def test_checkpoint_restores_an_identical_detector() -> None:
    det = WaveDetector(settings(profile_bucket_s=300), capacities={"voice": 5.0})
    rng = random.Random(11)
    for i in range(4000):
        det.tick(T0 + i, {"voice": _poisson(rng, 2.0), "chat": (_poisson(rng, 1.0), 0)})
    blob = orjson.loads(orjson.dumps(det.checkpoint()))
    copy = WaveDetector.from_checkpoint(blob, settings(profile_bucket_s=300))
    tail = [{"voice": _poisson(rng, 6.0), "chat": 1} for _ in range(600)]
    a = [c for i, counts in enumerate(tail) for c in det.tick(T0 + 4000 + i, counts)]
    b = [c for i, counts in enumerate(tail) for c in copy.tick(T0 + 4000 + i, counts)]
    assert a == b and a
    assert copy.snapshot() == det.snapshot()


def test_feed_matches_tick_by_tick_updates() -> None:
    rng = random.Random(5)
    rates = [1.0] * 5000 + [4.0] * 300 + [1.0] * 2000 + [0.0] * 50 + [1.0] * 1000
    counts = [_poisson(rng, r) for r in rates]
    negatives = [rng.randint(0, c) for c in counts]
    s = settings(profile_bucket_s=300)
    fast = ChannelDetector("x", s)
    slow = ChannelDetector("x", s)
    a = fast.feed(T0, counts[:4000], negatives[:4000]) + fast.feed(
        T0 + 4000, counts[4000:], negatives[4000:]
    )
    b = [
        c
        for i, (n, m) in enumerate(zip(counts, negatives, strict=True))
        for c in slow.update(T0 + i, n, m)
    ]
    assert a == b and a
    assert fast.snapshot() == slow.snapshot()
    plain_fast = ChannelDetector("x", s)
    plain_slow = ChannelDetector("x", s)
    assert plain_fast.feed(T0, counts) == run(plain_slow, T0, counts)
    assert plain_fast.snapshot() == plain_slow.snapshot()


def test_feed_into_the_past_is_late_not_fast() -> None:
    det = trained()
    rate = det.rate
    # A batch that starts an hour back: every tick is too late and must be dropped.
    assert det.feed(T0 + 20_000 - 3600, [50] * 100) == []
    assert det.dropped_late == 100
    assert det.rate == rate
    assert det.snapshot().at == T0 + 19_999


def test_wave_detector_feed_matches_tick() -> None:
    rng = random.Random(9)
    voice = [_poisson(rng, 2.0 if 3000 <= i < 3300 else 0.5) for i in range(5000)]
    chat = [_poisson(rng, 1.0) for _ in range(5000)]
    a_det = WaveDetector(settings())
    b_det = WaveDetector(settings())
    a = a_det.feed(T0, {"voice": voice, "chat": chat})
    b = [c for i in range(5000) for c in b_det.tick(T0 + i, {"voice": voice[i], "chat": chat[i]})]
    assert sorted(a, key=lambda c: (c.at, c.channel)) == sorted(b, key=lambda c: (c.at, c.channel))
    assert a
    assert a_det.snapshot() == b_det.snapshot()


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method: enough for the small rates used here."""
    if lam <= 0.0:
        return 0
    limit = math.exp(-lam)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
