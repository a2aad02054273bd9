"""`wavebreak eval sentiment`: negative-class precision/recall/F1 and texts/s on labelled CSV."""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from routing.sentiment import Analyzer

__all__ = ["FileReport", "configure", "evaluate", "read_labelled", "run"]

# Gold labels that count as the negative class; every other label is "not negative".
_NEGATIVE_GOLD = frozenset({"negative", "mixed"})
_PREDICTED = ("negative", "neutral", "positive")


@dataclass(frozen=True, slots=True)
class FileReport:
    """Figures for one labelled file."""

    path: str
    n: int
    precision: float
    recall: float
    f1: float
    texts_per_second: float
    warm_texts_per_second: float
    confusion: dict[str, Counter[str]]  # gold label -> predicted label -> count


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument(
        "--data",
        action="append",
        required=True,
        metavar="FILE",
        help="CSV file with `text,label` columns (repeat for several files)",
    )
    parser.add_argument(
        "--language",
        choices=("ru", "en", "other"),
        default="other",
        help="language passed to the analyzer; 'other' detects it per text (default)",
    )
    parser.add_argument(
        "--morphology",
        choices=("snowball", "pymorphy", "pymorphy+stem"),
        default="snowball",
        help="how Russian words are reduced before lexicon lookup (default: snowball)",
    )


def read_labelled(path: Path) -> list[tuple[str, str]]:
    """Read `(text, label)` rows from a CSV file with a header naming `text` and `label`.

    Raises:
        ValueError: when the header lacks either column.
    """
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        if "text" not in fields or "label" not in fields:
            raise ValueError(f"{path}: expected columns text,label; found {','.join(fields)}")
        return [(row["text"] or "", (row["label"] or "").strip().lower()) for row in reader]


def evaluate(
    analyzer: Analyzer, rows: list[tuple[str, str]], language: str, path: str
) -> FileReport:
    """Analyse every row and compute the negative-class figures."""
    analyze = analyzer.analyze
    started = time.perf_counter()
    predicted = [analyze(text, language).label for text, _ in rows]
    elapsed = time.perf_counter() - started
    # A running worker has seen most words before: time a second pass as well.
    started = time.perf_counter()
    for text, _ in rows:
        analyze(text, language)
    warm = time.perf_counter() - started
    confusion: dict[str, Counter[str]] = {}
    tp = fp = fn = 0
    for (_, gold), pred in zip(rows, predicted, strict=True):
        confusion.setdefault(gold, Counter())[pred] += 1
        gold_neg = gold in _NEGATIVE_GOLD
        pred_neg = pred == "negative"
        tp += gold_neg and pred_neg
        fp += pred_neg and not gold_neg
        fn += gold_neg and not pred_neg
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return FileReport(
        path=path,
        n=len(rows),
        precision=precision,
        recall=recall,
        f1=f1,
        texts_per_second=len(rows) / elapsed if elapsed > 0 else float("inf"),
        warm_texts_per_second=len(rows) / warm if warm > 0 else float("inf"),
        confusion=confusion,
    )


def _print_report(report: FileReport, out: TextIO) -> None:
    out.write(f"\n{report.path}\n")
    out.write(
        f"  n={report.n}  negative-class precision={report.precision:.3f} "
        f"recall={report.recall:.3f} F1={report.f1:.3f}\n"
        f"  texts/s: {report.texts_per_second:,.0f} first pass (cold token cache), "
        f"{report.warm_texts_per_second:,.0f} second pass (warm)\n"
    )
    out.write("  confusion (rows: gold label, columns: predicted; 'mixed' counts as negative)\n")
    width = max(10, *(len(g) + 2 for g in report.confusion))
    out.write("  " + "gold".ljust(width) + "".join(p.rjust(10) for p in _PREDICTED) + "\n")
    for gold in sorted(report.confusion, key=lambda g: (g not in _NEGATIVE_GOLD, g)):
        counts = report.confusion[gold]
        out.write("  " + gold.ljust(width) + "".join(str(counts[p]).rjust(10) for p in _PREDICTED))
        out.write("\n")


def run(args: argparse.Namespace) -> int:
    """Evaluate every `--data` file and print its figures; returns the exit code."""
    started = time.perf_counter()
    analyzer = Analyzer(morphology=args.morphology)
    build = time.perf_counter() - started
    out = sys.stdout
    out.write(f"analyzer: morphology={analyzer.morphology}, built in {build:.2f} s\n")
    status = 0
    for name in args.data:
        path = Path(name)
        try:
            rows = read_labelled(path)
        except (OSError, ValueError, csv.Error) as exc:
            sys.stderr.write(f"wavebreak eval sentiment: {exc}\n")
            status = 1
            continue
        _print_report(evaluate(analyzer, rows, args.language, name), out)
    return status
