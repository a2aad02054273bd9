"""Instructions per contact of the full offline path, counted by callgrind (repeatable).

Run: .venv/bin/python bench/callgrind_policy.py [--warm 12000] [--n 2000]
     [--config config/open.yaml] [--texts ../shared/data/sentiment/*.csv | --texts synthetic]

Wall-clock rates swing by tens of percent on a shared machine; an instruction count does
not, so compare variants of the routing core with this (and confirm with interleaved
`bench_policy.py` runs: fewer instructions is not always less time). Needs valgrind.

The script runs itself under `valgrind --tool=callgrind`. Inside, it warms the analyzers'
vocabulary on `--warm` texts (normalize + enrich, as the stage lines of `bench_policy.py`
do), then routes `--n` other texts through a fresh `OfflineRouter` (normalize -> enrich
-> memory -> waves -> decide). Callgrind's counters are zeroed when that loop starts and
dumped when it ends (the loop is bracketed by `os.getppid()` and `os.getsid(0)`, which
callgrind's `--zero-before` / `--dump-before` trigger on), so start-up, lexicon loading
and the warm-up are not counted. The texts are those of `bench_policy.py`. The hash seed
is fixed; the count still moves by about 0.1 % between runs (address-dependent layouts).
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_policy import SHARED_TWEETS, load_texts, make_messages  # noqa: E402

_INSIDE = "WAVEBREAK_CALLGRIND_INSIDE"


def _measure(args: argparse.Namespace) -> None:
    """The measured run (under callgrind): warm up, then the bracketed loop."""
    from routing.config import load_config
    from routing.enrich import enricher_for
    from streams.ingest import Normalizer, Source
    from streams.offline import OfflineRouter

    config = load_config(args.config)
    warm, n = args.warm, args.n
    if args.texts == ["synthetic"]:
        stage = make_messages(warm, seed=11)
        full = make_messages(n, seed=12, first=warm)
    else:
        pool = load_texts([Path(p) for p in args.texts])
        if len(pool) < warm + n:
            sys.exit(f"need {warm + n} distinct texts, the files hold {len(pool)}")
        stage = make_messages(warm, seed=11, texts=pool[:warm])
        full = make_messages(n, seed=12, texts=pool[warm : warm + n], first=warm)
    norm = Normalizer(lambda: datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    src = Source(topic="bench", partition=0, offset=0)
    enricher = enricher_for(config)
    for m in stage:
        enricher(norm(m, src))  # type: ignore[arg-type]
    router = OfflineRouter(config)
    gc.collect()
    gc.freeze()
    os.getppid()  # callgrind: --zero-before=getppid
    for i, m in enumerate(full):
        router.process(m, i)
    os.getsid(0)  # callgrind: --dump-before=getsid


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warm", type=int, default=12_000, help="texts that warm the vocabulary")
    parser.add_argument("--n", type=int, default=2_000, help="contacts measured")
    parser.add_argument("--config", default=str(ROOT / "config" / "open.yaml"))
    parser.add_argument(
        "--texts",
        nargs="+",
        default=[str(p) for p in SHARED_TWEETS] or ["synthetic"],
        help="CSV files with a `text` column, or `synthetic` (default: the shared tweets)",
    )
    args = parser.parse_args()
    if os.environ.get(_INSIDE):
        _measure(args)
        return 0
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        cmd = [
            valgrind,
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            "--zero-before=getppid",
            "--dump-before=getsid",
            sys.executable,
            __file__,
            *sys.argv[1:],
        ]
        done = subprocess.run(
            cmd,
            # A fixed hash seed: str hashes (dict and set layouts) are part of the count.
            env={**os.environ, _INSIDE: "1", "PYTHONHASHSEED": "0"},
            capture_output=True,
            text=True,
            check=False,
        )
        dumps = sorted(Path(tmp).glob("callgrind.out.*"))  # part 1: the measured loop
        if done.returncode != 0 or not dumps:
            print(done.stderr[-2000:], file=sys.stderr)
            return 1
        found = re.search(r"^summary: (\d+)$", dumps[0].read_text(), re.MULTILINE)
        if found is None:
            print(f"no summary line in {dumps[0]}", file=sys.stderr)
            return 1
    total = int(found.group(1))
    source = "synthetic texts" if args.texts == ["synthetic"] else "distinct tweets"
    print(
        f"full offline path: {total / args.n:,.0f} instructions per contact "
        f"(callgrind; {args.warm:,} warm-up and {args.n:,} measured {source}, "
        f"config {Path(args.config).name})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
