"""A compact live summary of what is being routed where, read from the worker's metrics."""

from __future__ import annotations

from collections import defaultdict

from routing.waves import LoadState, WaveLevel
from streams.metrics import Metrics

__all__ = ["render_summary"]


def _samples(metric: object, suffix: str = "_total") -> list[tuple[dict[str, str], float]]:
    out = []
    for family in metric.collect():  # type: ignore[attr-defined]
        for s in family.samples:
            if s.name.endswith(suffix):
                out.append((s.labels, s.value))
    return out


def render_summary(metrics: Metrics, elapsed: float, load: LoadState | None = None) -> str:
    """Return a few lines: totals, per-channel split by target, dead letters by reason."""
    by_channel: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    targets: dict[str, float] = defaultdict(float)
    for labels, value in _samples(metrics.decisions):
        by_channel[labels["channel"]][labels["target"]] += value
        targets[labels["target"]] += value
    dead: dict[str, float] = defaultdict(float)
    for labels, value in _samples(metrics.dead_letters):
        dead[labels["reason"]] += value
    dups = sum(v for _, v in _samples(metrics.duplicates))
    raw = sum(v for _, v in _samples(metrics.raw_messages))
    routed = sum(targets.values())
    lines = [
        f"[{elapsed:6.0f}s] read {raw:.0f} | routed {routed:.0f} "
        f"(bot {targets['bot']:.0f}, queue {targets['queue']:.0f}, "
        f"senior {targets['senior']:.0f}) | dead-lettered {sum(dead.values()):.0f} "
        f"| duplicates {dups:.0f}"
    ]
    cells = []
    for channel in sorted(by_channel, key=lambda c: -sum(by_channel[c].values())):
        split = by_channel[channel]
        parts = "/".join(f"{t[0]}{split[t]:.0f}" for t in ("bot", "queue", "senior") if split[t])
        cells.append(f"{channel} {parts}")
    if cells:
        lines.append("  by channel (b=bot q=queue s=senior): " + ", ".join(cells))
    if load is not None and load.channels:
        busy = []
        for name, c in sorted(load.channels.items()):
            marks = []
            if c.level != WaveLevel.NORMAL:
                marks.append(f"{c.level.value.upper()} {c.rate:.1f}/s vs {c.baseline:.1f}/s")
            if c.negativity:
                marks.append(f"NEGATIVITY {c.negative_share:.0%} negative")
            if c.overload:
                marks.append("OVERLOAD")
            if marks:
                busy.append(f"{name}: {', '.join(marks)}")
        warm = load.channels.get("all")
        state = "learning the baseline" if warm is not None and not warm.warm else "all normal"
        lines.append("  load: " + ("; ".join(busy) if busy else state))
    if dead:
        lines.append(
            "  dead letters: " + ", ".join(f"{r} {n:.0f}" for r, n in sorted(dead.items()))
        )
    return "\n".join(lines)
