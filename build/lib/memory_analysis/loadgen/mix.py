"""Which endpoint comes next: exact shares at every point of a run, not only on average.

Drawing endpoints at random gives each category its share only in expectation (a
300-request run of a 10 % category lands anywhere from 5 % to 15 %). ``Mix`` instead
picks, at each draw, the item furthest behind its target count (``n * share - count``),
first among categories, then among the endpoints of the chosen category. Every
category's count then stays within about one request of ``n * share`` for every prefix
of the sequence, so shares are right to within a percentage point from 100 requests
on. The seed decides the tie-breaking order and a starting phase, so different seeds
give different (but equally exact) sequences and one seed always gives the same one.
"""

from __future__ import annotations

import random
from collections.abc import Sequence


class _Deficit:
    """Deterministic apportionment over items with the given weights."""

    __slots__ = ("_shares", "_counts", "_n", "_order")

    def __init__(self, weights: Sequence[float], rng: random.Random) -> None:
        total = float(sum(weights))
        self._shares = [w / total for w in weights]
        self._counts = [0] * len(weights)
        self._n = 0
        order = list(range(len(weights)))
        rng.shuffle(order)
        self._order = order  # tie-break: earlier in this order wins

    def next(self) -> int:
        self._n += 1
        n = self._n
        shares = self._shares
        counts = self._counts
        best = -1
        best_gap = -1e18
        for i in self._order:
            gap = n * shares[i] - counts[i]
            if gap > best_gap + 1e-12:
                best_gap = gap
                best = i
        counts[best] += 1
        return best


class Mix:
    """An endless, seeded sequence of endpoint indices honouring the weights exactly.

    ``categories[i]`` is the category of endpoint ``i``; ``weights[i]`` its weight.
    """

    def __init__(self, categories: Sequence[str], weights: Sequence[float], seed: int) -> None:
        if not weights or len(weights) != len(categories):
            raise ValueError("need one category per weight, and at least one")
        rng = random.Random(seed)
        names: list[str] = []
        for c in categories:
            if c not in names:
                names.append(c)
        self._members: list[list[int]] = [
            [i for i, c in enumerate(categories) if c == name] for name in names]
        self._top = _Deficit([sum(weights[i] for i in m) for m in self._members], rng)
        self._inner = [_Deficit([weights[i] for i in m], rng) for m in self._members]
        # a seeded phase, so two seeds do not start with the same few requests
        # (a window of the sequence stays within two requests of its target)
        for _ in range(rng.randrange(0, 64)):
            self.next()

    def next(self) -> int:
        group = self._top.next()
        return self._members[group][self._inner[group].next()]
