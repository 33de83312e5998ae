"""PCT: probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte, ASPLOS 2010).

Each run gives every thread a random distinct priority and picks d-1 random change points among the
first k steps; the scheduler always runs the highest-priority thread that can run, and at the i-th
change point it drops the priority of the thread about to run below every initial priority (to i). A
bug of depth d (d ordering constraints between steps) is then found by one run with probability at least
1/(n k^(d-1)) for n threads and k steps, whatever the program; `bound_text()` prints it for the run.

Reproducible: run j uses its own seed, the j-th value drawn from the master seed, and nothing else.
Priorities are assigned when a thread is first offered (a uniform random permutation either way).
k starts at `steps_estimate` and grows to the longest run seen, so later runs keep the guarantee.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from model.errors import PtocheckError


def pct_probability_bound(threads: int, steps: int, depth: int) -> float:
    """The PCT lower bound 1/(n k^(d-1)) on one run finding a given depth-d bug."""
    return 1.0 / (max(threads, 1) * float(max(steps, 1)) ** (depth - 1))


class PCTScheduler:
    """PCT of depth `depth` over `runs` runs; implements `runtime.execution.Scheduler`."""

    name = "pct"

    def __init__(
        self, seed: int, depth: int = 3, runs: int = 1, steps_estimate: int = 100, threads: int = 0
    ) -> None:
        if depth < 1:
            raise PtocheckError(
                f"PCT depth must be >= 1, got {depth}", "pct", "depth 1 finds ordering bugs, 2-3 is usual"
            )
        if steps_estimate < 1:
            raise PtocheckError(
                f"PCT step estimate must be >= 1, got {steps_estimate}",
                "pct",
                "pass the length of a typical run",
            )
        if runs < 0:
            raise PtocheckError(f"PCT runs must be >= 0, got {runs}", "pct", "pass how many runs to make")
        self.seed = seed
        self.depth = depth
        self.runs = runs
        self.steps_estimate = steps_estimate
        self.threads = threads
        self.run_seed = seed
        self.change_points: dict[int, int] = {}  # step index -> the priority a thread drops to there
        self._master = random.Random(seed)
        self._rng = random.Random(0)
        self._done = 0
        self._priority: dict[int, float] = {}
        self._longest = 0

    def new_execution(self) -> bool:
        if self._done >= self.runs:
            return False
        self._done += 1
        self.steps_estimate = max(self.steps_estimate, self._longest)
        self.run_seed = self._master.getrandbits(63)
        self._rng = random.Random(self.run_seed)
        self._priority = {}
        k = self.steps_estimate
        points = self._rng.sample(range(1, k + 1), min(self.depth - 1, k))
        # The i-th sampled point lowers to priority i (below every initial priority, which are >= depth).
        self.change_points = {step: i for i, step in enumerate(points)}
        return True

    def choose(self, choices: Sequence[int], current: int | None, step: int) -> int:
        if step + 1 > self._longest:
            self._longest = step + 1
        priority = self._priority
        for tid in choices:
            if tid not in priority:
                priority[tid] = self.depth + self._rng.random()
                if tid + 1 > self.threads:
                    self.threads = tid + 1
        best = max(choices, key=priority.__getitem__)
        lowered = self.change_points.get(step)
        if lowered is not None:
            priority[best] = float(lowered)
            best = max(choices, key=priority.__getitem__)
        return best

    def probability_bound(self) -> float:
        return pct_probability_bound(self.threads, self.steps_estimate, self.depth)

    def bound_text(self) -> str:
        """What one run guarantees, with the n and k it is computed from."""
        n, k, d = max(self.threads, 1), self.steps_estimate, self.depth
        p = self.probability_bound()
        return (
            f"PCT depth {d}: n={n} threads, k={k} steps: each run finds a given depth-{d} bug with "
            f"probability >= 1/(n*k^(d-1)) = 1/{round(1 / p):,}"
        )
