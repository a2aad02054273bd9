"""Wave detector throughput: count updates per second (one channel's count for one 1 s tick).

Run: .venv/bin/python bench/bench_waves.py [--seconds 2000000] [--repeat 3]

Four paths, each fed pre-generated Poisson counts of a steady channel (so the numbers
measure the detector, not the random generator):

- `ChannelDetector.feed`   - the batch fast path used by `wavebreak eval waves`;
- `ChannelDetector.update` - one call per tick and channel;
- `WaveDetector.tick`      - the aggregator's call: 8 channels per tick plus the "all"
                             aggregate, i.e. 9 count updates per call;
- `WaveDetector.feed`      - 8 channels in batches (the aggregate summed per tick).

The counts include a few injected surges, so the slow path (level changes) is exercised too.
Best of `--repeat` runs is reported.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from routing.waves import ChannelDetector, WaveDetector, WaveSettings  # noqa: E402

T0 = 1_700_000_000.0
CHANNELS = ("voice", "chat", "email", "sms", "social", "app", "web", "branch")


def poisson_counts(rng: random.Random, rate: float, n: int) -> list[int]:
    """Poisson counts per second (inverse transform on a small table), surges every ~3 h."""
    out = []
    for i in range(n):
        lam = rate * (3.0 if (i % 10_800) < 600 else 1.0)
        limit = math.exp(-lam)
        k, p = 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        out.append(k)
    return out


def best_of(repeat: int, fn: Callable[[], int]) -> tuple[float, int]:
    best = math.inf
    updates = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        updates = fn()
        best = min(best, time.perf_counter() - t0)
    return best, updates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=2_000_000, help="ticks per channel")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settings = WaveSettings()
    rng = random.Random(1)
    n = args.seconds
    counts = poisson_counts(rng, 1.0, n)
    n_multi = max(n // 10, 1)
    multi = {ch: poisson_counts(rng, 0.2 + i * 0.3, n_multi) for i, ch in enumerate(CHANNELS)}
    ticks = [{ch: multi[ch][i] for ch in CHANNELS} for i in range(n_multi)]

    def feed() -> int:
        det = ChannelDetector("voice", settings)
        for i in range(0, n, 3600):
            det.feed(T0 + i, counts[i : i + 3600])
        return n

    def update() -> int:
        det = ChannelDetector("voice", settings)
        up = det.update
        for i, c in enumerate(counts):
            up(T0 + i, c)
        return n

    def tick() -> int:
        det = WaveDetector(settings)
        tk = det.tick
        for i, row in enumerate(ticks):
            tk(T0 + i, row)
        return n_multi * (len(CHANNELS) + 1)

    def multi_feed() -> int:
        det = WaveDetector(settings)
        for i in range(0, n_multi, 3600):
            det.feed(T0 + i, {ch: multi[ch][i : i + 3600] for ch in CHANNELS})
        return n_multi * (len(CHANNELS) + 1)

    print(f"python {sys.version.split()[0]}, default WaveSettings, best of {args.repeat}")
    for name, fn in (
        ("ChannelDetector.feed (batch, 1 channel)", feed),
        ("ChannelDetector.update (per tick)", update),
        ("WaveDetector.tick (8 channels + all)", tick),
        ("WaveDetector.feed (8 channels + all, batch)", multi_feed),
    ):
        secs, updates = best_of(args.repeat, fn)
        print(f"{name:45s} {updates:>11,} updates in {secs:6.2f} s = {updates / secs:>12,.0f}/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
