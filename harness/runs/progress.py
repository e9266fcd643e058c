"""Generation progress: a rich bar on a terminal, plain timestamped lines in a log file; both with a rate.

The rate is rich's recent speed while it has one, else the average since the start (completed /
elapsed), so one large batch, or batches further apart than rich's 30-second speed window, still
show examples/s instead of ``-- ex/s``. A console that is not a terminal (output redirected to a log
file or a CI log) gets one line per ``log_every_s`` seconds and a final line, never a redrawn bar.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any


def rate_text(completed: float, elapsed: float | None, speed: float | None = None) -> str:
    """``"3.2 ex/s"``: ``speed`` when known, else ``completed / elapsed``; ``"-- ex/s"`` before any example."""
    rate = speed or (completed / elapsed if completed and elapsed else None)
    return f"{rate:.2f} ex/s" if rate else "-- ex/s"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


@contextlib.contextmanager
def generation_progress(console: Any, label: str, total: int, *,
                        log_every_s: float = 15.0) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``; reports progress with examples/s and ETA on ``console`` (stderr) when given."""
    if console is None or total == 0:
        yield lambda _n: None
        return
    if not (console.is_terminal or getattr(console, "is_jupyter", False)):
        with _log_lines(console, label, total, log_every_s) as advance:
            yield advance
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            if task.finished:  # the whole run's average, not the last window's
                return Text(rate_text(task.completed, task.finished_time))
            return Text(rate_text(task.completed, task.elapsed, task.speed))

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
                  TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console,
                  transient=False) as progress:
        task = progress.add_task(f"generating {label}", total=total)
        yield lambda n: progress.advance(task, n)


@contextlib.contextmanager
def _log_lines(console: Any, label: str, total: int, every_s: float) -> Iterator[Callable[[int], None]]:
    """Plain progress lines for a log: ``generating NAME: 32/60 (53%), 1.71 ex/s, elapsed 0:00:19, ETA 0:00:16``."""
    started = time.perf_counter()
    state = {"done": 0, "printed_at": started}

    def line(now: float) -> str:
        done, elapsed = state["done"], now - started
        text = f"generating {label}: {done}/{total} ({100 * done // total}%), {rate_text(done, elapsed)}, " \
               f"elapsed {_clock(elapsed)}"
        if 0 < done < total:
            text += f", ETA {_clock(elapsed / done * (total - done))}"
        return text

    def advance(n: int) -> None:
        state["done"] += n
        now = time.perf_counter()
        if state["done"] >= total or now - state["printed_at"] >= every_s:
            state["printed_at"] = now
            console.print(line(now), highlight=False, soft_wrap=True)

    console.print(f"generating {label}: {total} examples", highlight=False, soft_wrap=True)
    try:
        yield advance
    finally:
        if state["done"] < total:  # stopped early (an error, Ctrl-C): say how far it got
            console.print(line(time.perf_counter()) + " (stopped)", highlight=False, soft_wrap=True)
