"""The offset contiguity guard: skipped offsets are re-read, real holes are confirmed once."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.offset_guard import ContiguityGuard, Verdict

D, R, S, C = Verdict.DELIVER, Verdict.REFETCH, Verdict.STALE, Verdict.CONFIRMED


def feed(guard: ContiguityGuard[str], batch: list[int], tp: str = "p") -> list[Verdict]:
    guard.begin_batch()
    return [guard.check(tp, o) for o in batch]


def test_contiguous_offsets_are_delivered() -> None:
    guard: ContiguityGuard[str] = ContiguityGuard()
    assert feed(guard, [5, 6, 7]) == [D, D, D]
    assert feed(guard, [8]) == [D]
    assert guard.expected["p"] == 9


def test_skipped_offsets_are_read_again_and_the_rest_of_the_batch_is_stale() -> None:
    guard: ContiguityGuard[str] = ContiguityGuard()
    guard.reset("p", 100)  # faust sought to the committed offset
    assert feed(guard, [140, 141, 142]) == [R, S, S]
    assert guard.expected["p"] == 100  # where the consumer must seek back to
    assert feed(guard, [100, 101]) == [D, D]  # the re-read brings the skipped records
    assert feed(guard, [102, 103]) == [D, D]


def test_a_hole_that_the_re_read_confirms_is_delivered_once() -> None:
    # Transaction markers and compaction leave real holes: the re-read jumps again.
    guard: ContiguityGuard[str] = ContiguityGuard()
    assert feed(guard, [10, 11]) == [D, D]
    assert feed(guard, [13, 14]) == [R, S]
    assert feed(guard, [13, 14]) == [C, D]
    assert feed(guard, [16]) == [R]  # another hole is suspected afresh
    assert feed(guard, [17]) == [R]  # a different jump from the same place: re-read again
    assert feed(guard, [17, 18]) == [C, D]


def test_earlier_offsets_pass_through_for_the_consumer_to_drop() -> None:
    guard: ContiguityGuard[str] = ContiguityGuard()
    assert feed(guard, [10, 11, 12]) == [D, D, D]
    assert feed(guard, [11, 12, 13]) == [D, D, D]
    assert guard.expected["p"] == 14


def test_partitions_are_independent_and_unknown_positions_accept_the_first_record() -> None:
    guard: ContiguityGuard[str] = ContiguityGuard()
    guard.begin_batch()
    assert guard.check("a", 50) is D
    assert guard.check("b", 7) is D
    assert guard.check("a", 60) is R
    assert guard.check("b", 8) is D  # a's re-read does not hold b back
    assert guard.check("a", 61) is S
    guard.forget(["a"])  # revoked: its position is unknown again
    guard.begin_batch()
    assert guard.check("a", 999) is D
    guard.reset("b", -1)  # no committed offset
    assert guard.check("b", 3) is D


@given(
    start=st.integers(0, 1_000),
    holes=st.lists(st.integers(0, 3), min_size=1, max_size=40),
    skips=st.lists(st.booleans(), min_size=1, max_size=40),
)
def test_every_record_of_the_log_is_delivered_exactly_once_in_order(
    start: int, holes: list[int], skips: list[bool]
) -> None:
    """A simulated consumer whose fetches sometimes jump ahead (as faust's races do).

    The race needs a rebalance, so the re-read right after a seek back does not hit it
    again (if it did, identically, the guard would take the jump for a real hole).
    """
    log, offset = [], start
    for hole in holes:  # the log: offsets with real holes of 0-3 between records
        offset += hole
        log.append(offset)
        offset += 1
    guard: ContiguityGuard[int] = ContiguityGuard()
    guard.reset(0, start)
    position, delivered, fetches, reread = start, [], 0, False
    while fetches < 10 * len(log) + 10:
        fetches += 1
        batch = [o for o in log if o >= position][:3]
        if not batch:
            break
        if skips[fetches % len(skips)] and len(batch) > 1 and not reread:
            batch = batch[1:]  # the race: a record was fetched and dropped unseen
        reread = False
        guard.begin_batch()
        for o in batch:
            verdict = guard.check(0, o)
            if verdict in (D, C):
                delivered.append(o)
                position = o + 1
            elif verdict is R:
                position, reread = guard.expected[0], True
                break
    assert delivered == log
