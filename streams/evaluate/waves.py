"""`wavebreak eval waves`: replay an arrival trace through the wave detector and print figures."""

from __future__ import annotations

import argparse
import bisect
import csv
import math
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from routing.waves import ChannelDetector, Signal, StateChange, WaveLevel, WaveSettings

if TYPE_CHECKING:
    import numpy as np

__all__ = ["configure", "run"]

_DAY = 86400.0


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument("--data", required=True, type=Path, help="arrival trace (CSV)")
    parser.add_argument(
        "--format",
        choices=("counts", "events"),
        default="counts",
        help="counts: one row per time bin with a count; events: one row per event",
    )
    parser.add_argument("--time-column", help="timestamp column (default: the first that parses)")
    parser.add_argument("--count-column", help="count column for --format counts (default: last)")
    parser.add_argument(
        "--case-column",
        help="events: arrivals are the first event per case (default: a column named *case*; "
        "pass '' to count every row)",
    )
    parser.add_argument("--channel", default="voice", help="channel name in the output")
    parser.add_argument("--seed", type=int, default=1, help="seed for Poisson arrivals and surges")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a WaveSettings field (repeatable)",
    )
    parser.add_argument("--inject", action="store_true", help="also replay with injected surges")
    parser.add_argument(
        "--multipliers",
        default="2,3,5,10",
        help="surge sizes relative to the local rate (default 2,3,5,10)",
    )
    parser.add_argument("--min-surge-s", type=int, default=300, help="shortest surge (s)")
    parser.add_argument("--max-surge-s", type=int, default=1800, help="longest surge (s)")
    parser.add_argument(
        "--skip-days",
        type=int,
        default=7,
        help="no surges in the first days, while the detector learns the daily profile",
    )
    parser.add_argument("--intervals", type=int, default=15, help="detected intervals to list")
    parser.add_argument("--plot", type=Path, help="write a PNG chart of rate, baseline and levels")
    parser.add_argument(
        "--plot-multiplier",
        type=float,
        help="with --inject: chart that surge replay instead of the plain one",
    )
    parser.add_argument("--plot-from", help="chart start (ISO date/time, default: after skip-days)")
    parser.add_argument("--plot-to", help="chart end (ISO date/time, default: 3 days later)")


# ---------------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class _Segment:
    """A contiguous stretch of per-second arrival rates (no data between segments)."""

    start: float
    rates: np.ndarray[Any, Any]  # arrivals per second for each second of the segment


@dataclass(slots=True)
class _Trace:
    segments: list[_Segment]
    description: str
    days: float
    arrivals: int
    exact: bool  # True: rates are exact per-second counts (events); False: Poisson rates


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip())
    # Traces without a zone are taken as UTC; the profile works in the trace's own clock.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _pick_time_column(header: Sequence[str], row: dict[str, str], wanted: str | None) -> str:
    if wanted:
        if wanted not in header:
            raise SystemExit(f"no column {wanted!r} in {list(header)}")
        return wanted
    for name in header:
        try:
            _parse_time(row[name])
        except ValueError:
            continue
        return name
    raise SystemExit(f"no timestamp column among {list(header)}; pass --time-column")


def _read_counts(path: Path, args: argparse.Namespace) -> _Trace:
    import numpy as np

    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        header = list(reader.fieldnames or [])
    if not rows:
        raise SystemExit(f"{path}: no rows")
    time_col = _pick_time_column(header, rows[0], args.time_column)
    count_col = args.count_column or next(
        name for name in reversed(header) if name != time_col and _is_number(rows[0][name])
    )
    times = np.array([_parse_time(r[time_col]).timestamp() for r in rows])
    counts = np.array([float(r[count_col]) for r in rows])
    order = np.argsort(times, kind="stable")
    times, counts = times[order], counts[order]
    diffs = np.diff(times)
    positive = diffs[diffs > 0]
    values, freq = np.unique(positive, return_counts=True)
    bin_s = int(values[np.argmax(freq)])
    breaks = np.flatnonzero(diffs != bin_s) + 1
    segments = []
    for chunk_t, chunk_c in zip(np.split(times, breaks), np.split(counts, breaks), strict=True):
        segments.append(_Segment(float(chunk_t[0]), np.repeat(chunk_c / bin_s, bin_s)))
    days = len({datetime.fromtimestamp(float(t), UTC).date() for t in times})
    desc = (
        f"{path.name}: {len(rows):,} bins of {bin_s} s in {len(segments)} contiguous stretches, "
        f"{days} days, {int(counts.sum()):,} arrivals ({time_col!r}, {count_col!r}); "
        f"per-second Poisson arrivals at the bin rate (seed {args.seed})"
    )
    return _Trace(segments, desc, float(days), int(counts.sum()), exact=False)


def _read_events(path: Path, args: argparse.Namespace) -> _Trace:
    import numpy as np

    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        header = list(reader.fieldnames or [])
    if not rows:
        raise SystemExit(f"{path}: no rows")
    time_col = _pick_time_column(header, rows[0], args.time_column)
    case_col = args.case_column
    if case_col is None:
        case_col = next((h for h in header if "case" in h.lower()), "")
    if case_col:
        first: dict[str, float] = {}
        for r in rows:
            ts = _parse_time(r[time_col]).timestamp()
            key = r[case_col]
            if key not in first or ts < first[key]:
                first[key] = ts
        stamps = np.array(sorted(first.values()))
        what = f"first event per {case_col!r}"
    else:
        stamps = np.sort(np.array([_parse_time(r[time_col]).timestamp() for r in rows]))
        what = "every row"
    start = math.floor(stamps[0] / _DAY) * _DAY
    end = math.ceil((stamps[-1] + 1) / _DAY) * _DAY
    per_second = np.bincount((stamps - start).astype(np.int64), minlength=int(end - start))
    days = (end - start) / _DAY
    desc = (
        f"{path.name}: {len(stamps):,} arrivals ({what}, {time_col!r}) over {days:.0f} days, "
        "replayed second by second (silence counts as zero arrivals)"
    )
    return _Trace([_Segment(start, per_second.astype(np.float64))], desc, days, len(stamps), True)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------- replay


@dataclass(frozen=True, slots=True)
class _Surge:
    start: float
    end: float
    multiplier: float


@dataclass(slots=True)
class _Replay:
    changes: list[StateChange]
    ticks: int
    seconds: float
    samples: list[tuple[float, float, float, int]] = field(default_factory=list)


def _plan_surges(
    trace: _Trace, multiplier: float, args: argparse.Namespace, rng: np.random.Generator
) -> list[_Surge]:
    """One surge per contiguous stretch (a day for the bank trace) after the learning days."""
    surges = []
    lo, hi = args.min_surge_s, args.max_surge_s
    for seg in trace.segments[args.skip_days :]:
        length = len(seg.rates)
        duration = int(rng.integers(lo, hi + 1))
        if length < duration + 2 * 3600:
            continue
        # Not in the first hour of a stretch: the detector restarts its window there.
        offset = int(rng.integers(3600, length - duration - 600))
        surges.append(_Surge(seg.start + offset, seg.start + offset + duration, multiplier))
    return surges


def _replay(
    trace: _Trace,
    settings: WaveSettings,
    channel: str,
    surges: Sequence[_Surge],
    rng: np.random.Generator,
    sample: bool,
) -> _Replay:
    import numpy as np

    det = ChannelDetector(channel, settings)
    changes: list[StateChange] = []
    samples: list[tuple[float, float, float, int]] = []
    ticks = 0
    elapsed = 0.0
    by_start = sorted(surges, key=lambda s: s.start)
    for seg in trace.segments:
        rates = seg.rates
        seg_end = seg.start + len(rates)
        hits = [s for s in by_start if s.start < seg_end and s.end > seg.start]
        if hits:
            rates = rates.copy()
            for s in hits:
                a = int(s.start - seg.start)
                b = int(s.end - seg.start)
                rates[a:b] *= s.multiplier
        # Exact event traces replay as they are; rates become seeded Poisson arrivals.
        counts = rates.astype(np.int64) if trace.exact and not hits else rng.poisson(rates)
        step = 60 if sample else 86400
        for i in range(0, len(counts), step):
            chunk = counts[i : i + step].tolist()
            t0 = time.perf_counter()
            changes.extend(det.feed(seg.start + i, chunk))
            elapsed += time.perf_counter() - t0
            ticks += len(chunk)
            if sample:
                samples.append(
                    (det.snapshot().at, det.rate, det.baseline, list(WaveLevel).index(det.level))
                )
    return _Replay(changes, ticks, elapsed, samples)


@dataclass(frozen=True, slots=True)
class _Episode:
    start: float  # left normal (episode start as reported by the detector)
    wave_at: float | None  # first entry into WAVE, if any
    end: float | None
    peak_ratio: float


def _episodes(changes: Sequence[StateChange]) -> list[_Episode]:
    out: list[_Episode] = []
    start: float | None = None
    wave_at: float | None = None
    peak = 0.0
    for c in changes:
        if c.signal is not Signal.LEVEL:
            continue
        if c.previous is WaveLevel.NORMAL:
            start, wave_at, peak = c.started_at, None, c.ratio
        peak = max(peak, c.ratio)
        if c.current is WaveLevel.WAVE and wave_at is None:
            wave_at = c.at
        if c.current is WaveLevel.NORMAL and start is not None:
            out.append(_Episode(start, wave_at, c.at, peak))
            start = None
    if start is not None:
        out.append(_Episode(start, wave_at, None, peak))
    return out


def _fmt_t(ts: float | None) -> str:
    if ts is None:
        return "(open)"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _print_intervals(episodes: Sequence[_Episode], limit: int) -> None:
    shown = [e for e in episodes if e.wave_at is not None][:limit]
    for e in shown:
        length = "" if e.end is None else f" ({(e.end - e.start) / 60:.0f} min)"
        print(
            f"    wave: {_fmt_t(e.start)} -> {_fmt_t(e.end)}{length}, "
            f"wave at {_fmt_t(e.wave_at)}, peak ratio {e.peak_ratio:.2f}"
        )


def _settings(overrides: Sequence[str]) -> WaveSettings:
    values: dict[str, str] = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set needs KEY=VALUE, got {item!r}")
        values[key.strip()] = value.strip()
    return WaveSettings.model_validate(values)


def _surge_stats(
    episodes: Sequence[_Episode], surges: Sequence[_Surge]
) -> tuple[list[float], list[float], int]:
    """Delays to WAVE and to ELEVATED-or-above per detected surge, and false waves."""
    wave_times = sorted(e.wave_at for e in episodes if e.wave_at is not None)
    starts = sorted(e.start for e in episodes)
    wave_delays: list[float] = []
    any_delays: list[float] = []
    explained = 0
    by_start = sorted(episodes, key=lambda e: e.start)
    for s in surges:
        # An episode already under way when the surge starts counts as detecting it at once.
        k = bisect.bisect_right(starts, s.start) - 1
        if k >= 0:
            ongoing = by_start[k]
            if ongoing.end is None or ongoing.end > s.start:
                any_delays.append(0.0)
                if ongoing.wave_at is not None and ongoing.wave_at <= s.start:
                    wave_delays.append(0.0)
                    continue
                i = bisect.bisect_left(wave_times, s.start)
                if i < len(wave_times) and wave_times[i] <= s.end:
                    wave_delays.append(wave_times[i] - s.start)
                continue
        i = bisect.bisect_left(wave_times, s.start)
        if i < len(wave_times) and wave_times[i] <= s.end:
            wave_delays.append(wave_times[i] - s.start)
        j = bisect.bisect_left(starts, s.start)
        if j < len(starts) and starts[j] <= s.end:
            any_delays.append(starts[j] - s.start)
    # A wave that begins inside a surge or within 10 min after it belongs to the surge.
    ends = sorted((s.start, s.end + 600.0) for s in surges)
    for t in wave_times:
        k = bisect.bisect_right(ends, (t, math.inf)) - 1
        if k >= 0 and ends[k][0] <= t <= ends[k][1]:
            explained += 1
    return wave_delays, any_delays, len(wave_times) - explained


def _delay_text(delays: Sequence[float]) -> str:
    if not delays:
        return "      -        -"
    return f"{statistics.median(delays):7.0f}s {max(delays):7.0f}s"


def run(args: argparse.Namespace) -> int:
    """Replay the trace, print detected intervals, false alarms/day and surge detection."""
    import numpy as np

    settings = _settings(args.overrides)
    reader = _read_counts if args.format == "counts" else _read_events
    trace = reader(args.data, args)
    print(f"trace: {trace.description}")
    changed = {
        k: v for k, v in settings.model_dump().items() if v != WaveSettings.model_fields[k].default
    }
    print(f"settings: defaults{'' if not changed else f' with {changed}'}")

    plot_mult = args.plot_multiplier if args.inject else None
    rng = np.random.default_rng(args.seed)
    base = _replay(trace, settings, args.channel, (), rng, sample=bool(args.plot) and not plot_mult)
    episodes = _episodes(base.changes)
    waves = [e for e in episodes if e.wave_at is not None]
    print(
        f"replay: {base.ticks:,} ticks in {base.seconds:.1f} s of detector time "
        f"({base.ticks / max(base.seconds, 1e-9) / 1e6:.2f}M count updates/s)"
    )
    print(
        f"waves: {len(waves)} in {trace.days:.0f} days = {len(waves) / trace.days:.3f}/day "
        f"({10 * len(waves) / trace.days:.2f} per 10 days); "
        f"episodes above normal (elevated or wave): {len(episodes)} "
        f"= {len(episodes) / trace.days:.3f}/day"
    )
    _print_intervals(episodes, args.intervals)
    plotted = base
    surges_for_plot: list[_Surge] = []

    if args.inject:
        print(
            f"injected surges: one per stretch after the first {args.skip_days}, "
            f"{args.min_surge_s}-{args.max_surge_s} s long, at random times (seed {args.seed}); "
            "detected = reached WAVE before the surge ended"
        )
        print(
            "  mult  surges  detected      median     max   elevated+  median     max"
            "   false waves/day"
        )
        for mult in (float(m) for m in args.multipliers.split(",")):
            srng = np.random.default_rng([args.seed, int(mult * 1000)])
            surges = _plan_surges(trace, mult, args, srng)
            sample = bool(args.plot) and plot_mult == mult
            result = _replay(trace, settings, args.channel, surges, srng, sample)
            eps = _episodes(result.changes)
            wave_d, any_d, false_waves = _surge_stats(eps, surges)
            pct = 100.0 * len(wave_d) / max(len(surges), 1)
            pct_any = 100.0 * len(any_d) / max(len(surges), 1)
            print(
                f"  {mult:4g}x  {len(surges):6d}  {len(wave_d):4d} {pct:5.1f}% "
                f"{_delay_text(wave_d)}   {pct_any:5.1f}% {_delay_text(any_d)}"
                f"   {false_waves / trace.days:.3f}"
            )
            if sample:
                plotted, surges_for_plot = result, surges
    if args.plot:
        _plot(args, trace, plotted, surges_for_plot)
        print(f"chart: {args.plot}")
    return 0


def _window(args: argparse.Namespace, trace: _Trace) -> tuple[float, float]:
    if args.plot_from:
        lo = _parse_time(args.plot_from).timestamp()
    else:
        idx = min(args.skip_days, len(trace.segments) - 1)
        lo = math.floor(trace.segments[idx].start / _DAY) * _DAY
    hi = _parse_time(args.plot_to).timestamp() if args.plot_to else lo + 3 * _DAY
    return lo, hi


def _plot(
    args: argparse.Namespace, trace: _Trace, replay: _Replay, surges: Sequence[_Surge]
) -> None:
    try:
        import matplotlib
    except ImportError:
        print(
            "chart: --plot needs matplotlib: pip install 'wavebreak[plot]' (skipping the chart)",
            file=sys.stderr,
        )
        return

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lo, hi = _window(args, trace)
    rows = [r for r in replay.samples if lo <= r[0] <= hi]
    if not rows:
        print(f"chart: no samples between {_fmt_t(lo)} and {_fmt_t(hi)}", file=sys.stderr)
        return
    # Squeeze out the gaps (nights, weekends) so the chart shows traffic, not empty axes.
    xs: list[float] = []
    x = 0.0
    prev: float | None = None
    for t, *_ in rows:
        if prev is not None:
            x += min(t - prev, 600.0)
        xs.append(x / 3600.0)
        prev = t
    fig, ax = plt.subplots(figsize=(14, 5))
    ax.plot(xs, [r[1] * 60 for r in rows], lw=0.8, label="short-window rate (/min)")
    ax.plot(xs, [r[2] * 60 for r in rows], lw=1.2, label="baseline (/min)")
    top = max(r[1] for r in rows) * 60 * 1.05
    colors = {1: "#f6c85f", 2: "#e0474c"}
    for level, color in colors.items():
        ax.fill_between(
            xs,
            0,
            top,
            where=[r[3] == level for r in rows],
            color=color,
            alpha=0.3,
            step="mid",
            label=f"{WaveLevel(list(WaveLevel)[level]).value}",
        )
    for s in surges:
        if lo <= s.start <= hi:
            i = bisect.bisect_left([r[0] for r in rows], s.start)
            j = bisect.bisect_left([r[0] for r in rows], s.end)
            if i < len(xs):
                ax.axvspan(xs[i], xs[min(j, len(xs) - 1)], color="grey", alpha=0.25)
    # Mark day starts so the squeezed axis stays readable.
    day_marks = _day_marks(rows, xs)
    ax.set_xticks([m[0] for m in day_marks], [m[1] for m in day_marks], rotation=30, ha="right")
    ax.set_ylim(0, top)
    ax.set_ylabel("contacts per minute")
    ax.set_title(f"{args.data.name}: {args.channel} (grey: injected surges)")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(args.plot, dpi=110)
    plt.close(fig)


def _day_marks(
    rows: Sequence[tuple[float, float, float, int]], xs: Sequence[float]
) -> list[tuple[float, str]]:
    marks: list[tuple[float, str]] = []
    last = None
    for (t, *_), x in zip(rows, xs, strict=True):
        day = datetime.fromtimestamp(t, UTC).strftime("%a %m-%d %H:%M")
        key = day[:9]
        if key != last:
            marks.append((x, day))
            last = key
    return marks


if __name__ == "__main__":
    # `python -m streams.evaluate.waves` works even while other eval commands are missing.
    _parser = argparse.ArgumentParser(prog="wavebreak eval waves")
    configure(_parser)
    sys.exit(run(_parser.parse_args()))
