"""Wave-load detection per channel: short-window rate against a learned baseline."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "ALL_CHANNELS",
    "ChannelDetector",
    "ChannelLoad",
    "LoadState",
    "Signal",
    "StateChange",
    "WaveDetector",
    "WaveLevel",
    "WaveSettings",
]

ALL_CHANNELS: Final = "all"
"""Name of the aggregate that sees the sum of every channel's arrivals."""

_CHECKPOINT_VERSION: Final = 1
# A baseline of exactly zero would make ratios infinite, which JSON cannot carry.
_MIN_BASELINE: Final = 1e-6


class WaveLevel(StrEnum):
    """How far a channel's arrival rate is above its normal rhythm."""

    NORMAL = "normal"
    ELEVATED = "elevated"
    WAVE = "wave"


_LEVELS: Final = (WaveLevel.NORMAL, WaveLevel.ELEVATED, WaveLevel.WAVE)
_RANK: Final = {level: rank for rank, level in enumerate(_LEVELS)}


class Signal(StrEnum):
    """Which of a channel's three signals a `StateChange` is about."""

    LEVEL = "level"
    """Arrival rate against the learned baseline: normal, elevated or wave."""
    OVERLOAD = "overload"
    """Arrival rate against the configured capacity: normal or wave."""
    NEGATIVITY = "negativity"
    """Share of negative contacts against its own baseline: normal or wave."""


class WaveSettings(BaseModel):
    """Parameters of the wave detector; embedded in the routing config as `waves`.

    Counts are compared on the *short window*: an exponentially weighted moving average
    of arrivals per second whose effective length is `short_window_s`, so that
    `rate * short_window_s` behaves like a Poisson count with that many seconds of
    traffic. A level is entered only when that count exceeds the baseline count by a
    ratio *and* by `z` standard deviations (`z * sqrt(baseline count)`) *and* is at
    least `min_count`: the ratio keeps busy channels from alarming on statistically
    significant but harmless bumps, the z-score keeps quiet channels from alarming on
    Poisson noise, and the minimum count keeps a channel going from 1 to 3 contacts
    from being called a wave.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    short_window_s: float = Field(
        default=120.0,
        gt=2.0,
        description="Effective length of the short-window rate (EWMA time constant is half of it).",
    )
    short_window_max_s: float = Field(
        default=600.0,
        gt=2.0,
        description="Longest the short window may stretch on a quiet channel.",
    )
    window_expected_count: float = Field(
        default=60.0,
        ge=0.0,
        description=(
            "The short window stretches (up to `short_window_max_s`) until the baseline "
            "expects this many arrivals in it, so Poisson noise on a quiet channel does "
            "not pass for a surge."
        ),
    )
    min_count: float = Field(
        default=10.0,
        ge=0.0,
        description="Arrivals the short window must hold before any level above normal.",
    )
    elevated_enter_ratio: float = Field(
        default=1.5, gt=1.0, description="Rate/baseline ratio that enters `elevated`."
    )
    elevated_exit_ratio: float = Field(
        default=1.2, gt=0.0, description="Ratio below which `elevated` falls back to normal."
    )
    elevated_z: float = Field(
        default=4.0, ge=0.0, description="Poisson z-score of the window count to enter `elevated`."
    )
    wave_enter_ratio: float = Field(
        default=1.75, gt=1.0, description="Rate/baseline ratio that enters `wave`."
    )
    wave_exit_ratio: float = Field(
        default=1.4, gt=0.0, description="Ratio below which `wave` falls back to elevated."
    )
    wave_z: float = Field(
        default=5.0, ge=0.0, description="Poisson z-score of the window count to enter `wave`."
    )
    baseline_error: float = Field(
        default=0.12,
        ge=0.0,
        description=(
            "Relative error of the baseline as a forecast (day-to-day scatter of a time "
            "of day); the z-scores use Poisson variance plus (baseline_error * count)^2."
        ),
    )
    confirm_s: float = Field(
        default=10.0,
        ge=0.0,
        description="An upward condition must hold this long before the level rises.",
    )
    exit_confirm_s: float = Field(
        default=60.0,
        ge=0.0,
        description=(
            "A downward condition must hold this long before the level falls, so a "
            "sustained surge that arrives in bursts is not left between bursts."
        ),
    )
    min_dwell_s: float = Field(
        default=300.0,
        ge=0.0,
        description=(
            "A level is held at least this long before it falls, and a rise after a fall "
            "waits this long, so the state never flaps."
        ),
    )
    baseline_half_life_s: float = Field(
        default=900.0,
        gt=0.0,
        description=(
            "Half-life of the plain EWMA baseline used where the profile does not know the "
            "time of day yet: short enough to follow a morning ramp, long enough that a "
            "surge still stands out for many minutes."
        ),
    )
    level_half_life_s: float = Field(
        default=3600.0,
        gt=0.0,
        description="Half-life of today's traffic level relative to the learned profile.",
    )
    adapt_slowdown: float = Field(
        default=4.0,
        ge=1.0,
        description=(
            "While a channel is elevated or in a wave its baseline adapts this many times "
            "slower, so a surge is not learned as normal within minutes but a lasting "
            "shift is absorbed within hours."
        ),
    )
    profile_bucket_s: int = Field(
        default=300,
        gt=0,
        description="Width of one time-of-day profile bucket (must divide a day).",
    )
    profile_weekly: bool = Field(
        default=False,
        description="Learn a time-of-week profile (7x the buckets, needs weeks of history).",
    )
    profile_alpha: float = Field(
        default=0.25,
        gt=0.0,
        le=1.0,
        description="Weight of the newest day in a profile bucket (the first days are averaged).",
    )
    profile_utc_offset_s: int = Field(
        default=0,
        ge=-86400,
        le=86400,
        description="Offset of the contact center's local day from UTC, for the profile buckets.",
    )
    refresh_s: int = Field(
        default=60,
        gt=0,
        description="Baselines are updated every this many seconds (must divide the bucket).",
    )
    warmup_s: float = Field(
        default=3600.0,
        ge=0.0,
        description="Seconds of traffic seen before a channel may leave normal (not overload).",
    )
    max_gap_s: float = Field(
        default=60.0,
        gt=0.0,
        description=(
            "A longer hole between ticks is missing data, not silence: baselines are "
            "frozen across it and the short window restarts from the baseline."
        ),
    )
    max_lateness_s: float = Field(
        default=30.0,
        ge=0.0,
        description="Out-of-order ticks at most this late are counted now; older ones are dropped.",
    )
    overload_exit_fraction: float = Field(
        default=0.9,
        gt=0.0,
        le=1.0,
        description="Overload ends when the rate falls below this fraction of the capacity.",
    )
    negativity_enter_ratio: float = Field(
        default=2.0,
        gt=1.0,
        description=(
            "Odds ratio of the negative share against its baseline that enters a negativity "
            "wave (about the share ratio while shares are small: 10% -> 18%; unlike a share "
            "ratio it stays reachable on channels where half the contacts are negative: "
            "50% -> 67%)."
        ),
    )
    negativity_exit_ratio: float = Field(
        default=1.5, gt=0.0, description="Odds ratio below which a negativity wave ends."
    )
    negativity_z: float = Field(
        default=4.0, ge=0.0, description="Binomial z-score of the negative share to enter."
    )
    negativity_min_count: float = Field(
        default=10.0, ge=0.0, description="Negative contacts the short window must hold to enter."
    )
    negativity_min_share: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="Negative share the short window must reach to enter, whatever the baseline.",
    )
    negativity_half_life_s: float = Field(
        default=6 * 3600.0,
        gt=0.0,
        description=(
            "Half-life of the baseline negative share (frozen during a negativity wave): "
            "long, so that a mood that sours over an hour still stands out."
        ),
    )
    negativity_floor_share: float = Field(
        default=0.05,
        gt=0.0,
        lt=1.0,
        description="Lowest baseline share assumed, so a channel that never saw negatives is sane.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.short_window_max_s < self.short_window_s:
            raise ValueError("short_window_max_s must not be below short_window_s")
        if self.elevated_exit_ratio >= self.elevated_enter_ratio:
            raise ValueError("elevated_exit_ratio must be below elevated_enter_ratio")
        if self.wave_exit_ratio >= self.wave_enter_ratio:
            raise ValueError("wave_exit_ratio must be below wave_enter_ratio")
        if self.wave_enter_ratio < self.elevated_enter_ratio or self.wave_z < self.elevated_z:
            raise ValueError("wave thresholds must not be below the elevated ones")
        if self.negativity_exit_ratio >= self.negativity_enter_ratio:
            raise ValueError("negativity_exit_ratio must be below negativity_enter_ratio")
        if 86400 % self.profile_bucket_s:
            raise ValueError("profile_bucket_s must divide a day (86400 s)")
        if self.profile_bucket_s % self.refresh_s:
            raise ValueError("refresh_s must divide profile_bucket_s")
        return self


@dataclass(frozen=True, slots=True)
class StateChange:
    """One signal of one channel changed; carries the figures that made it change.

    For `Signal.LEVEL` the rates are arrivals per second and the baseline is the learned
    normal rate; for `Signal.OVERLOAD` the baseline is the configured capacity; for
    `Signal.NEGATIVITY` `rate` and `baseline` are negative *shares* (0..1).
    `started_at` is when the episode began (the first moment it left normal), so a
    change back to normal describes the whole interval `[started_at, at]`.
    """

    channel: str
    signal: Signal
    at: float
    previous: WaveLevel
    current: WaveLevel
    started_at: float
    rate: float
    baseline: float
    ratio: float
    window_count: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (timestamps are epoch seconds)."""
        return {
            "channel": self.channel,
            "signal": self.signal.value,
            "at": self.at,
            "previous": self.previous.value,
            "current": self.current.value,
            "started_at": self.started_at,
            "rate": self.rate,
            "baseline": self.baseline,
            "ratio": self.ratio,
            "window_count": self.window_count,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StateChange:
        """Inverse of `to_dict`."""
        return cls(
            channel=str(data["channel"]),
            signal=Signal(data["signal"]),
            at=float(data["at"]),
            previous=WaveLevel(data["previous"]),
            current=WaveLevel(data["current"]),
            started_at=float(data["started_at"]),
            rate=float(data["rate"]),
            baseline=float(data["baseline"]),
            ratio=float(data["ratio"]),
            window_count=float(data["window_count"]),
        )


@dataclass(frozen=True, slots=True)
class ChannelLoad:
    """Published load state of one channel: the value of a `wavebreak.load.state` record."""

    channel: str
    at: float
    level: WaveLevel
    level_since: float | None
    episode_started_at: float | None
    rate: float
    baseline: float
    ratio: float
    window_count: float
    warm: bool
    overload: bool = False
    overload_since: float | None = None
    capacity: float | None = None
    negativity: bool = False
    negativity_since: float | None = None
    negative_share: float = 0.0
    negative_baseline: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (timestamps are epoch seconds, rates per second)."""
        return {
            "channel": self.channel,
            "at": self.at,
            "level": self.level.value,
            "level_since": self.level_since,
            "episode_started_at": self.episode_started_at,
            "rate": self.rate,
            "baseline": self.baseline,
            "ratio": self.ratio,
            "window_count": self.window_count,
            "warm": self.warm,
            "overload": self.overload,
            "overload_since": self.overload_since,
            "capacity": self.capacity,
            "negativity": self.negativity,
            "negativity_since": self.negativity_since,
            "negative_share": self.negative_share,
            "negative_baseline": self.negative_baseline,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChannelLoad:
        """Inverse of `to_dict`."""
        return cls(
            channel=str(data["channel"]),
            at=float(data["at"]),
            level=WaveLevel(data["level"]),
            level_since=_opt_float(data.get("level_since")),
            episode_started_at=_opt_float(data.get("episode_started_at")),
            rate=float(data["rate"]),
            baseline=float(data["baseline"]),
            ratio=float(data["ratio"]),
            window_count=float(data["window_count"]),
            warm=bool(data["warm"]),
            overload=bool(data.get("overload", False)),
            overload_since=_opt_float(data.get("overload_since")),
            capacity=_opt_float(data.get("capacity")),
            negativity=bool(data.get("negativity", False)),
            negativity_since=_opt_float(data.get("negativity_since")),
            negative_share=float(data.get("negative_share", 0.0)),
            negative_baseline=float(data.get("negative_baseline", 0.0)),
        )


@dataclass(frozen=True, slots=True)
class LoadState:
    """Load state of every channel (and `ALL_CHANNELS`) at one moment."""

    at: float
    channels: Mapping[str, ChannelLoad] = field(default_factory=dict)

    def level(self, channel: str) -> WaveLevel:
        """The channel's level, `NORMAL` for a channel never seen."""
        load = self.channels.get(channel)
        return WaveLevel.NORMAL if load is None else load.level

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict: `{"at": float, "channels": {name: ChannelLoad dict}}`."""
        return {"at": self.at, "channels": {k: v.to_dict() for k, v in self.channels.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LoadState:
        """Inverse of `to_dict`."""
        channels = {str(k): ChannelLoad.from_dict(v) for k, v in data["channels"].items()}
        return cls(at=float(data["at"]), channels=channels)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _timestamp(at: float | datetime) -> float:
    """Epoch seconds from a float or an aware datetime; the detector never reads a clock."""
    if isinstance(at, datetime):
        if at.tzinfo is None:
            raise ValueError("naive datetime: pass an aware datetime or epoch seconds")
        return at.timestamp()
    ts = float(at)
    if not math.isfinite(ts):
        raise ValueError(f"timestamp must be finite, got {at!r}")
    return ts


class _Params:
    """WaveSettings flattened into plain floats, shared by every channel of a detector."""

    __slots__ = (
        "adapt_slowdown",
        "baseline_error",
        "baseline_hl",
        "bucket_s",
        "confirm_s",
        "el_enter",
        "el_exit",
        "el_z",
        "exit_confirm_s",
        "level_hl",
        "max_gap_s",
        "max_lateness_s",
        "min_count",
        "min_dwell_s",
        "n_buckets",
        "neg_enter",
        "neg_exit",
        "neg_floor",
        "neg_hl",
        "neg_min_count",
        "neg_min_share",
        "neg_z",
        "offset_s",
        "ov_exit",
        "profile_alpha",
        "refresh_s",
        "warmup_s",
        "wave_enter",
        "wave_exit",
        "wave_z",
        "window",
        "window_expected",
        "window_max",
    )

    def __init__(self, s: WaveSettings) -> None:
        self.window = float(s.short_window_s)
        self.window_max = float(s.short_window_max_s)
        self.window_expected = float(s.window_expected_count)
        self.min_count = float(s.min_count)
        self.el_enter = float(s.elevated_enter_ratio)
        self.el_exit = float(s.elevated_exit_ratio)
        self.el_z = float(s.elevated_z)
        self.baseline_error = float(s.baseline_error)
        self.wave_enter = float(s.wave_enter_ratio)
        self.wave_exit = float(s.wave_exit_ratio)
        self.wave_z = float(s.wave_z)
        self.confirm_s = float(s.confirm_s)
        self.exit_confirm_s = float(s.exit_confirm_s)
        self.min_dwell_s = float(s.min_dwell_s)
        self.baseline_hl = float(s.baseline_half_life_s)
        self.level_hl = float(s.level_half_life_s)
        self.adapt_slowdown = float(s.adapt_slowdown)
        self.bucket_s = float(s.profile_bucket_s)
        self.n_buckets = (86400 // s.profile_bucket_s) * (7 if s.profile_weekly else 1)
        self.profile_alpha = float(s.profile_alpha)
        self.offset_s = float(s.profile_utc_offset_s)
        self.refresh_s = float(s.refresh_s)
        self.warmup_s = float(s.warmup_s)
        self.max_gap_s = float(s.max_gap_s)
        self.max_lateness_s = float(s.max_lateness_s)
        self.ov_exit = float(s.overload_exit_fraction)
        self.neg_enter = float(s.negativity_enter_ratio)
        self.neg_exit = float(s.negativity_exit_ratio)
        self.neg_z = float(s.negativity_z)
        self.neg_hl = float(s.negativity_half_life_s)
        self.neg_min_count = float(s.negativity_min_count)
        self.neg_min_share = float(s.negativity_min_share)
        self.neg_floor = float(s.negativity_floor_share)


# Names of the ChannelDetector slots that make up its checkpoint, in order.
_STATE_SLOTS: Final = (
    "_t",
    "_s",
    "_sn",
    "_acc_n",
    "_acc_neg",
    "_acc_s",
    "_step_start",
    "_next_step",
    "_data_s",
    "_e",
    "_ew",
    "_lo",
    "_lp",
    "_ne",
    "_nt",
    "_bucket",
    "_bucket_n",
    "_bucket_cov",
    "_bucket_clean",
    "_profile",
    "_profile_n",
    "_b",
    "_pred",
    "_level",
    "_level_since",
    "_episode_start",
    "_changed_at",
    "_last_dir",
    "_pending",
    "_down_pending",
    "_capacity",
    "_ov",
    "_ov_since",
    "_ov_changed",
    "_ov_pending",
    "_neg",
    "_neg_since",
    "_neg_changed",
    "_neg_pending",
    "_dropped_late",
)


class ChannelDetector:
    """Wave state machine of one channel, fed one count per 1 s tick (O(1) per tick).

    Keeps a short-window rate (EWMA), a baseline that follows the daily rhythm (a
    time-of-day profile learned online times today's level, or a plain long EWMA until
    the profile knows the hour), and three signals with hysteresis: the level
    (normal/elevated/wave), capacity overload and a negativity wave. Time is whatever
    the caller passes; nothing here reads a clock.
    """

    __slots__ = (*_STATE_SLOTS, "_a1", "_b1", "_b_trig", "_n_trig", "_p", "_quiet", "_w", "name")

    def __init__(
        self,
        name: str,
        settings: WaveSettings | None = None,
        *,
        capacity: float | None = None,
        _params: _Params | None = None,
    ) -> None:
        self.name = name
        self._p = _params if _params is not None else _Params(settings or WaveSettings())
        p = self._p
        self._t: float | None = None
        self._s = 0.0
        self._sn = 0.0
        self._acc_n = 0.0
        self._acc_neg = 0.0
        self._acc_s = 0.0
        self._step_start = 0.0
        self._next_step = 0.0
        self._data_s = 0.0
        self._e = 0.0
        self._ew = 0.0
        self._lo = 0.0
        self._lp = 0.0
        self._ne = 0.0
        self._nt = 0.0
        self._bucket = -1
        self._bucket_n = 0.0
        self._bucket_cov = 0.0
        self._bucket_clean = True
        self._profile = [0.0] * p.n_buckets
        self._profile_n = [0] * p.n_buckets
        self._b = 0.0
        self._pred: float | None = None
        self._level = 0
        self._level_since: float | None = None
        self._episode_start: float | None = None
        self._changed_at: float | None = None
        self._last_dir = 0
        self._pending: float | None = None
        self._down_pending: float | None = None
        self._capacity = _check_capacity(capacity)
        self._ov = False
        self._ov_since: float | None = None
        self._ov_changed: float | None = None
        self._ov_pending: float | None = None
        self._neg = False
        self._neg_since: float | None = None
        self._neg_changed: float | None = None
        self._neg_pending: float | None = None
        self._dropped_late = 0
        self._b_trig = math.inf
        self._n_trig = math.inf
        self._quiet = True
        self._w = self._a1 = self._b1 = 0.0
        self._set_window()
        self._set_triggers()

    # ------------------------------------------------------------------ public API

    @property
    def level(self) -> WaveLevel:
        """Current level of the arrival rate."""
        return _LEVELS[self._level]

    @property
    def rate(self) -> float:
        """Short-window arrival rate, contacts per second."""
        return self._s

    @property
    def baseline(self) -> float:
        """Expected normal rate now, contacts per second."""
        return self._b

    @property
    def overload(self) -> bool:
        """Whether the rate exceeds the configured capacity."""
        return self._ov

    @property
    def negativity(self) -> bool:
        """Whether a negativity wave is on."""
        return self._neg

    @property
    def dropped_late(self) -> int:
        """Ticks dropped because they were older than `max_lateness_s`."""
        return self._dropped_late

    @property
    def capacity(self) -> float | None:
        """Configured capacity in contacts per second, or None."""
        return self._capacity

    def set_capacity(self, per_s: float | None) -> None:
        """Set the capacity (contacts per second) of the queues serving this channel."""
        self._capacity = _check_capacity(per_s)
        self._set_triggers()

    def update(self, at: float | datetime, count: int, negative: int = 0) -> list[StateChange]:
        """Feed one tick: `count` arrivals (of which `negative` negative) in the second at `at`."""
        if count < 0 or negative < 0 or negative > count:
            raise ValueError(f"need 0 <= negative <= count, got count={count} negative={negative}")
        out = self._update(_timestamp(at), count, negative)
        return [] if out is None else out

    def feed(
        self,
        start: float | datetime,
        counts: Sequence[int],
        negatives: Sequence[int] | None = None,
    ) -> list[StateChange]:
        """Feed consecutive 1 s ticks at `start`, `start + 1`, ...: the fast path for replays.

        Equivalent to calling `update` for each tick, but the common case (everything
        normal, rate below every trigger) runs in a tight loop over plain floats.
        """
        t0 = _timestamp(start)
        n = len(counts)
        if negatives is not None and len(negatives) != n:
            raise ValueError("counts and negatives differ in length")
        if n and min(counts) < 0:
            raise ValueError("counts must not be negative")
        if negatives is not None and n and min(negatives) < 0:
            raise ValueError("negatives must not be negative")
        out: list[StateChange] = []
        i = 0
        while i < n:
            neg_i = 0 if negatives is None else negatives[i]
            if neg_i > counts[i]:
                raise ValueError("negative count above total count")
            changes = self._update(t0 + i, counts[i], neg_i)
            if changes:
                out.extend(changes)
            i += 1
            if not self._quiet or i >= n or self._t != t0 + (i - 1):
                # Busy, done, or that tick was late or dropped: stay on the careful path.
                continue
            # Tight loop up to the next baseline step; leaves via `break` on a trigger.
            stop = min(n, i + max(0, math.ceil(self._next_step - (t0 + i))))
            if stop <= i:
                continue
            s = self._s
            trig = self._b_trig
            a1 = self._a1
            b1 = self._b1
            acc = 0.0
            j = i
            if negatives is None:
                while j < stop:
                    c = counts[j]
                    s = s * a1 + c * b1
                    acc += c
                    j += 1
                    if s >= trig:
                        break
                self._sn *= a1 ** (j - i)
            else:
                sn = self._sn
                ntrig = self._n_trig
                while j < stop:
                    c = counts[j]
                    m = negatives[j]
                    if m > c:
                        raise ValueError("negative count above total count")
                    s = s * a1 + c * b1
                    sn = sn * a1 + m * b1
                    acc += c
                    self._acc_neg += m
                    j += 1
                    if s >= trig or sn >= ntrig:
                        break
                self._sn = sn
            self._s = s
            self._acc_n += acc
            self._acc_s += j - i
            self._data_s += j - i
            self._t = t0 + (j - 1)
            i = j
            if s >= trig or self._sn >= self._n_trig:
                changes = self._evaluate(t0 + (j - 1))
                if changes:
                    out.extend(changes)
        return out

    def snapshot(self) -> ChannelLoad:
        """The published state of this channel as of its last tick."""
        p = self._p
        b = max(self._b, _MIN_BASELINE)
        share = self._sn / self._s if self._s > 0.0 else 0.0
        return ChannelLoad(
            channel=self.name,
            at=self._t if self._t is not None else 0.0,
            level=_LEVELS[self._level],
            level_since=self._level_since,
            episode_started_at=self._episode_start,
            rate=self._s,
            baseline=self._b,
            ratio=self._s / b,
            window_count=self._s * self._w,
            warm=self._data_s >= p.warmup_s,
            overload=self._ov,
            overload_since=self._ov_since,
            capacity=self._capacity,
            negativity=self._neg,
            negativity_since=self._neg_since,
            negative_share=share,
            negative_baseline=self._neg_base(),
        )

    def checkpoint(self) -> dict[str, Any]:
        """Full internal state (profile included) as a JSON-ready dict, for restarts."""
        state: dict[str, Any] = {"v": _CHECKPOINT_VERSION, "name": self.name}
        for slot in _STATE_SLOTS:
            value = getattr(self, slot)
            state[slot.lstrip("_")] = list(value) if isinstance(value, list) else value
        return state

    @classmethod
    def from_checkpoint(
        cls, data: Mapping[str, Any], settings: WaveSettings | None = None
    ) -> ChannelDetector:
        """Rebuild a detector from `checkpoint()`; a profile of another shape is dropped."""
        if data.get("v") != _CHECKPOINT_VERSION:
            raise ValueError(f"unsupported wave checkpoint version {data.get('v')!r}")
        det = cls(str(data["name"]), settings)
        det._restore(data)
        return det

    # ------------------------------------------------------------------ internals

    def _restore(self, data: Mapping[str, Any]) -> None:
        n_buckets = self._p.n_buckets
        for slot in _STATE_SLOTS:
            key = slot.lstrip("_")
            if key not in data:
                continue
            value = data[key]
            if slot in ("_profile", "_profile_n"):
                if not isinstance(value, list) or len(value) != n_buckets:
                    continue  # settings changed the bucket layout: relearn the profile
                value = [float(x) for x in value] if slot == "_profile" else [int(x) for x in value]
            setattr(self, slot, value)
        self._quiet = self._calm()
        self._set_window()
        self._set_triggers()

    def _calm(self) -> bool:
        return (
            self._level == 0
            and not self._ov
            and not self._neg
            and self._pending is None
            and self._ov_pending is None
            and self._neg_pending is None
        )

    def _update(self, ts: float, n: int, neg: int) -> list[StateChange] | None:
        p = self._p
        t = self._t
        if t is None:
            self._start(ts)
            dt = 1.0
            decay = self._a1
        else:
            dt = ts - t
            if dt == 1.0:
                decay = self._a1
            elif dt <= 0.0:
                # Out of order: count it now (rates stay right) unless hopelessly late.
                if -dt > p.max_lateness_s:
                    self._dropped_late += 1
                    return None
                self._s += n * self._b1
                self._sn += neg * self._b1
                self._acc_n += n
                self._acc_neg += neg
                return self._evaluate(t) if n else None
            elif dt > p.max_gap_s:
                self._gap(t, ts)
                dt = 1.0
                decay = self._a1
            else:
                decay = math.exp(-2.0 * dt / self._w)
        if ts >= self._next_step:
            self._step(ts)
        self._s = s = self._s * decay + n * self._b1
        self._sn = sn = self._sn * decay + neg * self._b1
        self._acc_n += n
        self._acc_neg += neg
        self._acc_s += dt
        self._data_s += dt
        self._t = ts
        if s < self._b_trig and sn < self._n_trig and self._quiet:
            return None
        return self._evaluate(ts)

    def _start(self, ts: float) -> None:
        p = self._p
        self._t = ts - 1.0
        self._step_start = math.floor((ts + p.offset_s) / p.refresh_s) * p.refresh_s - p.offset_s
        self._next_step = self._step_start + p.refresh_s
        self._refresh_baseline(ts)
        self._s = self._b

    def _gap(self, t: float, ts: float) -> None:
        """Missing data from `t` to `ts`: account what we had, restart the short window."""
        p = self._p
        self._step(t + 1.0)
        # Today's level relative to the profile says less the longer the hole: relax it
        # towards 1 (closing time to opening time is many half-lives, so about a reset).
        keep = 0.5 ** ((ts - t) / p.level_hl)
        self._lo = self._lo * keep + self._lp * (1.0 - keep)
        self._t = ts - 1.0
        self._step_start = math.floor((ts + p.offset_s) / p.refresh_s) * p.refresh_s - p.offset_s
        self._next_step = self._step_start + p.refresh_s
        self._refresh_baseline(ts)
        # Nothing is known about the hole; assume the traffic was normal.
        self._s = self._b
        self._sn = self._b * self._neg_base()
        self._pending = self._ov_pending = self._neg_pending = self._down_pending = None
        self._quiet = self._calm()

    def _step(self, now: float) -> None:
        """Every `refresh_s`: fold the accumulated counts into the baselines and profile."""
        p = self._p
        acc_s = self._acc_s
        if acc_s > 0.0:
            rate = self._acc_n / acc_s
            # The plain EWMA only stands in while the profile is cold; it must keep up with
            # the first morning ramp, so it never slows down (a surge then fades sooner).
            a = 0.5 ** (acc_s / p.baseline_hl)
            self._e = self._e * a + rate * (1.0 - a)
            self._ew = self._ew * a + (1.0 - a)
            pred = self._pred
            if pred is not None:
                slow = p.adapt_slowdown if self._level else 1.0
                a = 0.5 ** (acc_s / (p.level_hl * slow))
                self._lo = self._lo * a + rate * (1.0 - a)
                self._lp = self._lp * a + pred * (1.0 - a)
            if not self._neg:
                a = 0.5 ** (acc_s / p.neg_hl)
                self._ne = self._ne * a + (self._acc_neg / acc_s) * (1.0 - a)
                self._nt = self._nt * a + rate * (1.0 - a)
            bucket = int((self._step_start + p.offset_s) // p.bucket_s)
            if bucket != self._bucket:
                self._close_bucket()
                self._bucket = bucket
            self._bucket_n += self._acc_n
            self._bucket_cov += acc_s
            if self._level:
                self._bucket_clean = False
        self._acc_n = self._acc_neg = self._acc_s = 0.0
        self._step_start = math.floor((now + p.offset_s) / p.refresh_s) * p.refresh_s - p.offset_s
        self._next_step = self._step_start + p.refresh_s
        self._refresh_baseline(self._step_start + p.refresh_s / 2.0)

    def _close_bucket(self) -> None:
        p = self._p
        if self._bucket >= 0 and self._bucket_cov >= p.bucket_s / 2.0:
            i = self._bucket % p.n_buckets
            rate = self._bucket_n / self._bucket_cov
            k = self._profile_n[i]
            if k and not self._bucket_clean:
                # A bucket spent above normal may hold a surge: let it raise the profile only
                # as far as the exit threshold, so a lasting shift is still learned over days.
                # Refusing it altogether would leave a bucket that alarmed before it was
                # learned (the first morning ramp) unlearned, and alarming, forever.
                rate = min(rate, self._profile[i] * p.el_exit)
            # Average the first days equally, then forget old days at profile_alpha.
            alpha = max(p.profile_alpha, 1.0 / (k + 1))
            self._profile[i] += alpha * (rate - self._profile[i])
            self._profile_n[i] = k + 1
        self._bucket_n = self._bucket_cov = 0.0
        self._bucket_clean = True

    def _predict(self, ts: float) -> float | None:
        """Profile rate at `ts`, linearly interpolated between bucket centres."""
        p = self._p
        pos = (ts + p.offset_s) / p.bucket_s - 0.5
        lo = math.floor(pos)
        frac = pos - lo
        i0 = lo % p.n_buckets
        i1 = (lo + 1) % p.n_buckets
        known0 = self._profile_n[i0] > 0
        known1 = self._profile_n[i1] > 0
        if known0 and known1:
            return self._profile[i0] * (1.0 - frac) + self._profile[i1] * frac
        if known0:
            return self._profile[i0]
        if known1:
            return self._profile[i1]
        return None

    def _refresh_baseline(self, ts: float) -> None:
        pred = self._predict(ts)
        self._pred = pred
        if pred is not None and self._lp > 0.0:
            self._b = pred * (self._lo / self._lp)
        elif self._ew > 0.0:
            self._b = self._e / self._ew
        else:
            self._b = 0.0
        self._set_window()
        self._set_triggers()

    def _set_window(self) -> None:
        """Stretch the short window on quiet channels until it expects enough arrivals."""
        p = self._p
        w = p.window
        if self._b > 0.0:
            w = min(max(w, p.window_expected / self._b), p.window_max)
        self._w = w
        self._a1 = math.exp(-2.0 / w)
        self._b1 = 1.0 - self._a1

    def _set_triggers(self) -> None:
        """Lowest short-window rates at which an upward change is even possible."""
        p = self._p
        trig = math.inf
        if self._data_s >= p.warmup_s:
            b = max(self._b, _MIN_BASELINE)
            count = b * self._w
            z_rate = b + p.el_z * math.sqrt(_variance(count, p.baseline_error)) / self._w
            trig = max(p.min_count / self._w, b * p.el_enter, z_rate)
            self._n_trig = max(p.neg_min_count / self._w, _MIN_BASELINE)
        else:
            self._n_trig = math.inf
        if self._capacity is not None:
            trig = min(trig, self._capacity)
        self._b_trig = trig

    def _neg_base(self) -> float:
        # At most 0.999: the odds of the baseline stay finite.
        base = self._ne / self._nt if self._nt > 0.0 else 0.0
        return min(max(base, self._p.neg_floor), 0.999)

    def _evaluate(self, ts: float) -> list[StateChange] | None:
        p = self._p
        out: list[StateChange] | None = None
        s = self._s
        b = max(self._b, _MIN_BASELINE)
        count = s * self._w
        base_count = b * self._w
        ratio = s / b
        warm = self._data_s >= p.warmup_s

        # Level: up needs ratio, z and count; down needs the exit ratio or half the count.
        z = (count - base_count) / math.sqrt(_variance(base_count, p.baseline_error))
        up = 0
        if warm and count >= p.min_count:
            if ratio >= p.wave_enter and z >= p.wave_z:
                up = 2
            elif ratio >= p.el_enter and z >= p.el_z:
                up = 1
        level = self._level
        if up > level:
            if self._pending is None:
                self._pending = ts
            if ts - self._pending >= p.confirm_s and (
                self._last_dir >= 0
                or self._changed_at is None
                or ts - self._changed_at >= p.min_dwell_s
            ):
                out = [self._change_level(ts, up, ratio, count)]
        else:
            self._pending = None
            if level:
                enough = count >= p.min_count / 2.0
                down = level
                if level == 2 and not (enough and ratio >= p.wave_exit):
                    down = 1
                if down == 1 and not (enough and ratio >= p.el_exit):
                    down = 0
                if down < level:
                    if self._down_pending is None:
                        self._down_pending = ts
                    changed_at = self._changed_at if self._changed_at is not None else ts
                    if (
                        ts - self._down_pending >= p.exit_confirm_s
                        and ts - changed_at >= p.min_dwell_s
                    ):
                        out = [self._change_level(ts, down, ratio, count)]
                else:
                    self._down_pending = None

        # Overload: the configured capacity, no baseline involved.
        cap = self._capacity
        if cap is not None or self._ov:
            cap_v = cap if cap is not None else math.inf
            if not self._ov:
                if s >= cap_v:
                    if self._ov_pending is None:
                        self._ov_pending = ts
                    if ts - self._ov_pending >= p.confirm_s and (
                        self._ov_changed is None or ts - self._ov_changed >= p.min_dwell_s
                    ):
                        out = _append(out, self._change_flag(ts, Signal.OVERLOAD, True, cap_v))
                else:
                    self._ov_pending = None
            elif s < cap_v * p.ov_exit and (
                self._ov_changed is None or ts - self._ov_changed >= p.min_dwell_s
            ):
                out = _append(out, self._change_flag(ts, Signal.OVERLOAD, False, cap_v))

        # Negativity: the share of negative contacts against its own (binomial) baseline.
        sn = self._sn
        if warm and (self._neg or sn >= self._n_trig or self._neg_pending is not None):
            base = self._neg_base()
            share = sn / s if s > 0.0 else 0.0
            neg_count = sn * self._w
            if not self._neg:
                zn = (share - base) / math.sqrt(base * (1.0 - base) / max(count, 1.0))
                if (
                    neg_count >= p.neg_min_count
                    and share >= p.neg_min_share
                    and _odds(share) >= _odds(base) * p.neg_enter
                    and zn >= p.neg_z
                ):
                    if self._neg_pending is None:
                        self._neg_pending = ts
                    if ts - self._neg_pending >= p.confirm_s and (
                        self._neg_changed is None or ts - self._neg_changed >= p.min_dwell_s
                    ):
                        out = _append(out, self._change_flag(ts, Signal.NEGATIVITY, True, base))
                else:
                    self._neg_pending = None
            elif (
                _odds(share) < _odds(base) * p.neg_exit or neg_count < p.neg_min_count / 2.0
            ) and (self._neg_changed is None or ts - self._neg_changed >= p.min_dwell_s):
                out = _append(out, self._change_flag(ts, Signal.NEGATIVITY, False, base))
        self._quiet = self._calm()
        return out

    def _change_level(self, ts: float, new: int, ratio: float, count: float) -> StateChange:
        old = self._level
        if old == 0:
            self._episode_start = self._pending if self._pending is not None else ts
        started = self._episode_start if self._episode_start is not None else ts
        self._last_dir = 1 if new > old else -1
        self._level = new
        self._level_since = ts
        self._changed_at = ts
        self._pending = None
        self._down_pending = None
        if new == 0:
            self._episode_start = None
        self._set_triggers()
        return StateChange(
            channel=self.name,
            signal=Signal.LEVEL,
            at=ts,
            previous=_LEVELS[old],
            current=_LEVELS[new],
            started_at=started,
            rate=self._s,
            baseline=self._b,
            ratio=ratio,
            window_count=count,
        )

    def _change_flag(self, ts: float, signal: Signal, on: bool, base: float) -> StateChange:
        if signal is Signal.OVERLOAD:
            pending = self._ov_pending
            started = (pending if pending is not None else ts) if on else self._ov_since
            self._ov = on
            self._ov_since = started if on else None
            self._ov_changed = ts
            self._ov_pending = None
            rate = self._s
        else:
            pending = self._neg_pending
            started = (pending if pending is not None else ts) if on else self._neg_since
            self._neg = on
            self._neg_since = started if on else None
            self._neg_changed = ts
            self._neg_pending = None
            rate = self._sn / self._s if self._s > 0.0 else 0.0
        return StateChange(
            channel=self.name,
            signal=signal,
            at=ts,
            previous=WaveLevel.WAVE if not on else WaveLevel.NORMAL,
            current=WaveLevel.WAVE if on else WaveLevel.NORMAL,
            started_at=started if started is not None else ts,
            rate=rate,
            baseline=base,
            ratio=rate / max(base, _MIN_BASELINE),
            window_count=self._s * self._w,
        )


def _variance(expected: float, rel_error: float) -> float:
    """Variance of a window count: Poisson noise plus the baseline's own forecast error."""
    return max(expected, 1.0) + (rel_error * expected) ** 2


def _append(out: list[StateChange] | None, change: StateChange) -> list[StateChange]:
    if out is None:
        return [change]
    out.append(change)
    return out


def _check_capacity(value: float | None) -> float | None:
    if value is None:
        return None
    cap = float(value)
    if not cap > 0.0 or not math.isfinite(cap):
        raise ValueError(
            f"capacity must be a positive number of contacts per second, got {value!r}"
        )
    return cap


class WaveDetector:
    """Wave detection for every channel plus `ALL_CHANNELS`, fed one tick per second.

    The aggregator calls `tick(at, {channel: count or (count, negative)})` once per
    second with the summed counts of all workers; a channel missing from a tick had
    no arrivals in it. The returned `StateChange` list is what to publish; `snapshot()`
    is the compacted `wavebreak.load.state` content; `checkpoint()` / `from_checkpoint()`
    carry the learned baselines across restarts.
    """

    __slots__ = ("_capacities", "_channels", "_params", "_settings", "_t")

    def __init__(
        self,
        settings: WaveSettings | None = None,
        *,
        capacities: Mapping[str, float] | None = None,
    ) -> None:
        self._settings = settings or WaveSettings()
        self._params = _Params(self._settings)
        self._capacities: dict[str, float] = {}
        self._channels: dict[str, ChannelDetector] = {}
        self._t: float | None = None
        self._add(ALL_CHANNELS)
        for name, cap in (capacities or {}).items():
            self.set_capacity(name, cap)

    @property
    def settings(self) -> WaveSettings:
        """The settings this detector runs with."""
        return self._settings

    @property
    def channels(self) -> Mapping[str, ChannelDetector]:
        """Per-channel detectors by name, `ALL_CHANNELS` included."""
        return self._channels

    def set_capacity(self, channel: str, per_s: float | None) -> None:
        """Capacity of the queues serving `channel` (contacts per second); None removes it."""
        cap = _check_capacity(per_s)
        if cap is None:
            self._capacities.pop(channel, None)
        else:
            self._capacities[channel] = cap
        self._add(channel).set_capacity(cap)

    def tick(
        self,
        at: float | datetime,
        counts: Mapping[str, int | tuple[int, int]],
    ) -> list[StateChange]:
        """Feed one second of arrivals per channel; returns the state changes it caused."""
        ts = _timestamp(at)
        total = 0
        total_neg = 0
        parsed: dict[str, tuple[int, int]] = {}
        for name, value in counts.items():
            n, neg = (value, 0) if isinstance(value, int) else value
            if n < 0 or neg < 0 or neg > n:
                raise ValueError(f"{name}: need 0 <= negative <= count, got {value!r}")
            parsed[name] = (n, neg)
            total += n
            total_neg += neg
        channels = self._channels
        if ALL_CHANNELS in parsed:
            raise ValueError(f"{ALL_CHANNELS!r} is the aggregate, not a channel")
        for name in parsed:
            if name not in channels:
                self._add(name)
        out: list[StateChange] = []
        parsed[ALL_CHANNELS] = (total, total_neg)
        zero = (0, 0)
        for name, det in channels.items():
            n, neg = parsed.get(name, zero)
            changes = det._update(ts, n, neg)
            if changes:
                out.extend(changes)
        if self._t is None or ts > self._t:
            self._t = ts
        return out

    def feed(
        self,
        start: float | datetime,
        counts: Mapping[str, Sequence[int]],
    ) -> list[StateChange]:
        """Feed consecutive ticks for several channels at once (fast path for replays)."""
        ts = _timestamp(start)
        lengths = {len(v) for v in counts.values()}
        if len(lengths) > 1:
            raise ValueError("every channel needs the same number of ticks")
        if ALL_CHANNELS in counts:
            raise ValueError(f"{ALL_CHANNELS!r} is the aggregate, not a channel")
        n = lengths.pop() if lengths else 0
        if not n:
            return []
        series: dict[str, Sequence[int]] = dict(counts)
        series[ALL_CHANNELS] = [sum(col) for col in zip(*counts.values(), strict=True)]
        zeros = [0] * n
        out: list[StateChange] = []
        for name in series.keys() - self._channels.keys():
            self._add(name)
        for name, det in self._channels.items():
            out.extend(det.feed(ts, series.get(name, zeros)))
        out.sort(key=lambda c: c.at)
        end = ts + n - 1
        if self._t is None or end > self._t:
            self._t = end
        return out

    def snapshot(self) -> LoadState:
        """Published state of all channels."""
        return LoadState(
            at=self._t if self._t is not None else 0.0,
            channels={name: det.snapshot() for name, det in self._channels.items()},
        )

    def checkpoint(self) -> dict[str, Any]:
        """Full state of every channel (learned profiles included) as a JSON-ready dict."""
        return {
            "v": _CHECKPOINT_VERSION,
            "at": self._t,
            "capacities": dict(self._capacities),
            "channels": {name: det.checkpoint() for name, det in self._channels.items()},
        }

    @classmethod
    def from_checkpoint(
        cls, data: Mapping[str, Any], settings: WaveSettings | None = None
    ) -> WaveDetector:
        """Rebuild from `checkpoint()`, with possibly new settings."""
        if data.get("v") != _CHECKPOINT_VERSION:
            raise ValueError(f"unsupported wave checkpoint version {data.get('v')!r}")
        det = cls(settings)
        at = data.get("at")
        det._t = None if at is None else float(at)
        for name, state in data.get("channels", {}).items():
            det._add(str(name))._restore(state)
        for name, cap in data.get("capacities", {}).items():
            det.set_capacity(str(name), float(cap))
        return det

    def _add(self, name: str) -> ChannelDetector:
        det = self._channels.get(name)
        if det is None:
            det = ChannelDetector(name, _params=self._params)
            det.set_capacity(self._capacities.get(name))
            self._channels[name] = det
        return det


def _odds(share: float) -> float:
    """The odds of a share, share / (1 - share); a high baseline share can still double."""
    return share / (1.0 - share) if share < 1.0 else math.inf
