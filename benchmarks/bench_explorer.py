"""Explorer throughput on the reference model, one core: distinct states per minute (target >= 500,000
on the paged-attention scenario). Prints one line per scenario; not a test (tests never time)."""

from __future__ import annotations

import argparse
import time

from model.builders import BUILTIN_SCENARIOS
from model.explorer import explore
from model.trb_model import TrbModel


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-states", type=int, default=1_000_000)
    parser.add_argument("scenarios", nargs="*", default=["pa_two_blocks", "pa_scope_deadlock"])
    args = parser.parse_args()
    for name in args.scenarios:
        model = TrbModel(BUILTIN_SCENARIOS[name]())
        started = time.perf_counter()
        result = explore(model, max_states=args.max_states)
        seconds = time.perf_counter() - started
        rate = result.states / seconds * 60
        print(
            f"{name:20s} {result.states:>9d} states {result.transitions:>10d} transitions "
            f"{seconds:7.1f}s  {rate:>11,.0f} states/min  [{result.bounds_text()}]"
        )


if __name__ == "__main__":
    main()
