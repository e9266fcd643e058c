"""Sticky, deterministic assignment of units (users, conversations) to the variants of an experiment.

Pure and importable by any service (no store, no numpy). A unit's *bucket* is a number in [0, 1) taken
from ``sha256(f"{salt}:{unit_id}")``; each variant owns a fixed part of [0, 1) (its *slots*) whose size
is its weight, and a unit belongs to the variant whose slot holds its bucket.

Rules (the gateway and the analysis rely on them):

- **Weights are absolute shares of all units** and may sum to less than 1: the rest of the units are
  *not enrolled*, :func:`assign` returns ``None`` for them. The gateway serves them the control and
  records them as **no exposure at all** (not as control): counting them as control would inflate the
  control's share (a false sample-ratio mismatch) and dilute the effect with units that never had a
  chance to see the candidate. The same holds while an experiment is stopped or killed
  (:meth:`harness.ab.control.ExperimentState.variant_for` returns ``None``).
- **Sticky**: the same (salt, unit, weights) always gives the same variant, in every process.
- **Ramp-up never reassigns**: raising a variant's weight only takes units from the unenrolled share;
  a unit already in a variant stays there. With two variants this holds for any weights (the first
  variant's slot grows up from 0, the second's grows down from 1). With three or more variants each
  variant has its own lane of width 1/k and grows inside it, so it holds while every weight is at most
  1/k; a heavier split falls back to consecutive slots, where changing weights can move units
  (:func:`moved_share` measures it; ``harness ab weights`` refuses such a change without ``--force``).
  Lowering a weight un-enrolls units (they do not move to another variant).
- **Independent across salts**: the bucket is a hash of the salt and the unit, so two experiments with
  different salts split the same units independently (the default salt is the experiment name).
- Variants are laid out in ``order`` (default: sorted names), so the layout does not depend on the
  order of a YAML file or a dict; every service of one experiment must use the same ``order``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from harness.errors import DataError

_TOLERANCE = 1e-9
_SCALE = float(1 << 53)

#: A variant's slot: (variant, low, high), the bucket interval [low, high) it owns.
Slot = tuple[str, float, float]


def bucket(salt: str, unit_id: str) -> float:
    """Return the unit's bucket, uniform in [0, 1): the top 53 bits of ``sha256(f"{salt}:{unit_id}")``."""
    digest = hashlib.sha256(f"{salt}:{unit_id}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") >> 11) / _SCALE


def slots(weights: Mapping[str, float], *, order: Sequence[str] | None = None) -> tuple[Slot, ...]:
    """Return the slots ``(variant, low, high)`` of the variants in [0, 1) for these weights.

    Raises :class:`~harness.errors.DataError` for a negative weight, weights summing to more than 1, or an
    ``order`` that does not name exactly the variants.
    """
    return _layout(_normalised_items(weights, order))


def assign(unit_id: str, salt: str, weights: Mapping[str, float], *,
           order: Sequence[str] | None = None) -> str | None:
    """Return the variant of ``unit_id`` in the experiment with this salt and weights, or ``None``.

    ``None`` means the unit is not enrolled (its bucket is outside every variant's share): serve it the
    control and record no exposure (see the module docstring).
    """
    if not unit_id:
        raise DataError("cannot assign an empty unit id to a variant",
                        hint="send a user id (the request's `user` field or an X-Harness-Unit header)")
    b = bucket(salt, unit_id)
    for name, low, high in slots(weights, order=order):
        if low <= b < high:
            return name
    return None


def moved_share(old: Mapping[str, float], new: Mapping[str, float], *,
                order: Sequence[str] | None = None) -> float:
    """Return the share of all units that changing the weights ``old`` -> ``new`` moves to another variant.

    0 for every ramp-up (and ramp-down) that keeps assignments sticky; units that become enrolled or stop
    being enrolled do not count. Both weight mappings must name the same variants.
    """
    if set(old) != set(new):
        raise DataError(f"weights name different variants: {sorted(old)} and {sorted(new)}")
    moved = 0.0
    for name_a, low_a, high_a in slots(old, order=order):
        for name_b, low_b, high_b in slots(new, order=order):
            if name_a != name_b:
                moved += max(0.0, min(high_a, high_b) - max(low_a, low_b))
    return moved if moved > _TOLERANCE else 0.0


@dataclass(frozen=True)
class Assigner:
    """Assignment for one experiment: a salt and weights, with its slots computed once.

    ``Assigner("exp-1", {"base": 0.5, "candidate": 0.5})("user-7")`` returns the unit's variant or ``None``.
    """

    salt: str
    weights: Mapping[str, float]
    order: Sequence[str] | None = None
    slots: tuple[Slot, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "slots", slots(self.weights, order=self.order))

    def __call__(self, unit_id: str) -> str | None:
        """Return the variant of ``unit_id`` (``None``: not enrolled)."""
        if not unit_id:
            return assign(unit_id, self.salt, self.weights)  # raises the empty-unit error
        b = bucket(self.salt, unit_id)
        for name, low, high in self.slots:
            if low <= b < high:
                return name
        return None


def _normalised_items(weights: Mapping[str, float], order: Sequence[str] | None) -> tuple[tuple[str, float], ...]:
    if not weights:
        raise DataError("an experiment needs at least one variant with a weight")
    names = list(order) if order is not None else sorted(weights)
    if sorted(names) != sorted(weights) or len(set(names)) != len(names):
        raise DataError(f"variant order {names} does not name exactly the variants {sorted(weights)}")
    items = tuple((name, float(weights[name])) for name in names)
    for name, w in items:
        if not w >= 0:  # also catches NaN
            raise DataError(f"variant {name!r}: weight {w} must be >= 0")
    total = sum(w for _, w in items)
    if total > 1 + _TOLERANCE:
        raise DataError(f"weights {dict(items)} sum to {total:g} > 1: weights are shares of all units",
                        hint="scale them to sum to 1 (or less: the rest of the units is not enrolled), "
                        "e.g. base=0.5,candidate=0.5")
    return items


@lru_cache(maxsize=1024)
def _layout(items: tuple[tuple[str, float], ...]) -> tuple[Slot, ...]:
    k = len(items)
    if k == 1:
        (name, w), = items
        return ((name, 0.0, w),)
    if k == 2:  # the first grows up from 0, the second down from 1: sticky under any ramp-up
        (a, wa), (b, wb) = items
        return ((a, 0.0, wa), (b, 1.0 - wb, 1.0))
    lane = 1.0 / k
    if all(w <= lane + _TOLERANCE for _, w in items):
        return tuple((name, i * lane, i * lane + min(w, lane)) for i, (name, w) in enumerate(items))
    out: list[Slot] = []
    low = 0.0
    for name, w in items:  # consecutive slots: a heavy split of three or more variants
        out.append((name, low, low + w))
        low += w
    return tuple(out)
