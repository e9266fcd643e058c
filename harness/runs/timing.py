"""How long a run took, and how fast it generated: per candidate and in total.

``generation_s`` is the time spent on a candidate's cache misses: building the backend, loading the
model, generating and storing the answers (model loading is part of it, as it is of any first run).
Rates are generated examples (and generated tokens) per second of ``generation_s``; they are None when
nothing was generated (everything came from the cache) or a backend reports no token counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def _rate(count: int | None, seconds: float) -> float | None:
    return round(count / seconds, 3) if count and seconds > 0 else None


@dataclass
class CandidateTiming:
    """One candidate's generation and scoring time and what it generated."""

    generation_s: float = 0.0
    scoring_s: float = 0.0
    generated: int = 0
    generated_tokens: int | None = None

    def add_tokens(self, tokens: list[int | None]) -> None:
        """Count the completion tokens of newly generated answers (None when a backend reports none)."""
        known = [t for t in tokens if t is not None]
        if known:
            self.generated_tokens = (self.generated_tokens or 0) + sum(known)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form with the derived rates."""
        return {"generation_s": round(self.generation_s, 3), "scoring_s": round(self.scoring_s, 3),
                "generated": self.generated, "generated_tokens": self.generated_tokens,
                "examples_per_s": _rate(self.generated, self.generation_s),
                "tokens_per_s": _rate(self.generated_tokens, self.generation_s)}


@dataclass
class RunTiming:
    """A run's wall time and the per-candidate timings; :meth:`as_dict` adds the totals."""

    wall_s: float = 0.0
    candidates: dict[str, CandidateTiming] = field(default_factory=dict)

    def candidate(self, name: str) -> CandidateTiming:
        """The timing record of candidate ``name`` (created on first use)."""
        return self.candidates.setdefault(name, CandidateTiming())

    def as_dict(self) -> dict[str, Any]:
        """``{"wall_s", "generation_s", "scoring_s", "generated", "generated_tokens", "examples_per_s",
        "tokens_per_s", "candidates": {name: {...}}}`` (seconds rounded to milliseconds)."""
        total = CandidateTiming()
        for item in self.candidates.values():
            total.generation_s += item.generation_s
            total.scoring_s += item.scoring_s
            total.generated += item.generated
            total.add_tokens([item.generated_tokens])
        return {"wall_s": round(self.wall_s, 3), **total.as_dict(),
                "candidates": {name: item.as_dict() for name, item in self.candidates.items()}}


def describe(timing: dict[str, Any]) -> str:
    """One line for people: ``wall 12.3 s, generation 10.1 s (1.98 examples/s, 61.2 tokens/s)``."""
    text = f"wall {timing['wall_s']:.1f} s, generation {timing['generation_s']:.1f} s"
    if not timing.get("generated"):
        return text + " (nothing generated: all cached)"
    rates = [f"{timing['examples_per_s']:.2f} examples/s"]
    if timing.get("tokens_per_s") is not None:
        rates.append(f"{timing['tokens_per_s']:.1f} tokens/s")
    return text + f" ({', '.join(rates)})"
