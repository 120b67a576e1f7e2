"""Interleaved timing for the speed claims in docs/benchmarks.md.

On a machine shared with other jobs the load drifts over minutes, so timing contender A for a while
and then B measures the load as much as the code. Here every round runs each contender once, in
turn (A, B, A, B, ...), and a ratio is taken within each round before the median: the two runs of
a round see nearly the same load, and the spread over rounds says how much to trust the ratio.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping


def interleaved(contenders: Mapping[str, Callable[[], object]], rounds: int = 7, warmup: int = 1):
    """Seconds per call of each contender, ``rounds`` times, the contenders alternating within each
    round after ``warmup`` untimed rounds: ``{name: [seconds per round]}``."""
    if rounds < 1 or warmup < 0:
        raise ValueError(f"need rounds >= 1 and warmup >= 0, got rounds={rounds}, warmup={warmup}")
    if not contenders:
        raise ValueError("nothing to time: no contenders")
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for r in range(warmup + rounds):
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn()
            if r >= warmup:
                times[name].append(time.perf_counter() - start)
    return times


def spread(values: list[float], fmt: str = "{:.3g}") -> str:
    """``median [min, max]`` of a list, formatted."""
    return f"{fmt.format(statistics.median(values))} [{fmt.format(min(values))}, {fmt.format(max(values))}]"


def ratios(times: Mapping[str, list[float]], numerator: str, denominator: str) -> list[float]:
    """Per-round ratios numerator / denominator (a speed-up when the numerator is the slower one)."""
    return [a / b for a, b in zip(times[numerator], times[denominator], strict=True)]
