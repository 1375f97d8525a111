"""RFM scores 1-5 by quintiles, and the rules that name segments from them.

Scores follow pandas exactly, without pandas::

    F = pd.qcut(frequency.rank(method="first"), 5, labels=[1, 2, 3, 4, 5])
    M = pd.qcut(monetary.rank(method="first"), 5, labels=[1, 2, 3, 4, 5])
    R = pd.qcut(days_since_last.rank(method="first"), 5, labels=[5, 4, 3, 2, 1])

`rank(method="first")` gives equal values consecutive ranks in the order the
customers come (the store streams them by id), so every quintile holds a fifth
of the customers even when a value is shared by many (most customers have
one order): equal figures may get neighbouring scores. `qcut` on the ranks
1..n puts rank r in the quintile b whose edges, 1 + (b-1)(n-1)/5 and
1 + b(n-1)/5, hold it (right edge included, the first quintile includes 1):
b = max(1, ceil(5(r-1)/(n-1))). With a single customer there is nothing to
rank against: every score is 3.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


def quintile(rank: int, n: int) -> int:
    """The quintile (1-5) of a 1-based rank among n, as `pd.qcut(ranks, 5)` gives it."""
    if n < 1 or not 1 <= rank <= n:
        raise ValueError(f"rank {rank} is not between 1 and {n}")
    if n == 1:
        return 3
    return max(1, -(-5 * (rank - 1) // (n - 1)))


def quintile_scores(values: Sequence[float], *, higher_is_better: bool = True) -> list[int]:
    """Scores 1-5 for `values`, in their order: rank first (ties by position),
    then quintiles; `higher_is_better=False` reverses the labels (recency)."""
    n = len(values)
    order = sorted(range(n), key=values.__getitem__)  # stable: ties keep their order
    scores = [0] * n
    for rank0, index in enumerate(order):
        q = quintile(rank0 + 1, n)
        scores[index] = q if higher_is_better else 6 - q
    return scores


@dataclass(frozen=True)
class RfmRule:
    """A box of scores that names a segment: each range is inclusive (low, high).

    Rules are tried in order; the first whose box holds (R, F, M) names the
    customer's segment. Two rules may share a name (a segment that is not one box).
    """

    segment: str
    r: tuple[int, int] = (1, 5)
    f: tuple[int, int] = (1, 5)
    m: tuple[int, int] = (1, 5)

    def holds(self, r: int, f: int, m: int) -> bool:
        return (
            self.r[0] <= r <= self.r[1]
            and self.f[0] <= f <= self.f[1]
            and self.m[0] <= m <= self.m[1]
        )


# The CRM playbook's RFM matrix names champions (5-5-5), loyal (4-5-4), at risk (2-2-4)
# and inactive (1-1-1); the other names are the usual RFM map's. Every one of
# the 125 score triples falls in exactly one segment (a test checks it).
DEFAULT_RULES: tuple[RfmRule, ...] = (
    RfmRule("champions", r=(5, 5), f=(4, 5), m=(4, 5)),
    RfmRule("loyal", r=(3, 5), f=(4, 5), m=(3, 5)),
    RfmRule("cant_lose", r=(1, 2), f=(4, 5), m=(4, 5)),
    RfmRule("at_risk", r=(1, 2), f=(3, 5)),
    RfmRule("at_risk", r=(1, 2), m=(3, 5)),
    RfmRule("inactive", r=(1, 1)),
    RfmRule("hibernating", r=(2, 2)),
    RfmRule("about_to_sleep", r=(3, 3), f=(1, 2), m=(1, 2)),
    RfmRule("need_attention", r=(3, 3)),
    RfmRule("new", r=(4, 5), f=(1, 1)),
    RfmRule("promising", r=(4, 5)),
)


def segment_names(rules: Sequence[RfmRule]) -> tuple[str, ...]:
    """The distinct segment names of `rules`, in rule order."""
    return tuple(dict.fromkeys(rule.segment for rule in rules))


def name_segment(rules: Sequence[RfmRule], r: int, f: int, m: int) -> str | None:
    """The first rule's segment holding (r, f, m), or None."""
    for rule in rules:
        if rule.holds(r, f, m):
            return rule.segment
    return None
