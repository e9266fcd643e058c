"""The generation progress shows a rate on a terminal and in a log file, even after a single batch."""

from __future__ import annotations

import io
import re
import time

from rich.console import Console

from harness.runs.progress import generation_progress, rate_text


def _console(*, terminal: bool) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=terminal, width=160, color_system=None), buffer


def _rates(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"([0-9.]+) ex/s", text)]


def test_log_file_gets_plain_lines_with_a_rate_after_one_batch() -> None:
    console, buffer = _console(terminal=False)
    with generation_progress(console, "zero", 6) as advance:
        time.sleep(0.2)
        advance(6)  # one batch: rich's own speed estimate has a single sample and shows "-- ex/s"
    lines = buffer.getvalue().splitlines()
    assert lines[0] == "generating zero: 6 examples"
    assert lines[-1].startswith("generating zero: 6/6 (100%), ") and "━" not in buffer.getvalue()
    (rate,) = _rates(lines[-1])
    assert 6 / 0.6 < rate <= 6 / 0.2  # the average since the start, about 30 ex/s


def test_log_lines_are_rate_limited_and_give_an_eta() -> None:
    console, buffer = _console(terminal=False)
    with generation_progress(console, "few", 10, log_every_s=0.05) as advance:
        advance(2)  # too soon after the start: no line
        time.sleep(0.1)
        advance(2)
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 3  # start, one progress line, and the "stopped" line (4 of 10 done)
    assert lines[1].startswith("generating few: 4/10 (40%), ") and ", ETA 0:00:0" in lines[1]
    assert lines[2].endswith("(stopped)")


def test_terminal_bar_shows_the_average_rate_after_one_batch() -> None:
    console, buffer = _console(terminal=True)
    with generation_progress(console, "zero", 6) as advance:
        time.sleep(0.2)
        advance(6)
    final = buffer.getvalue().rsplit("\r", 1)[-1]
    assert "-- ex/s" not in final
    assert 6 / 0.6 < _rates(final)[-1] <= 6 / 0.2


def test_rate_text() -> None:
    assert rate_text(0, 1.0) == "-- ex/s" and rate_text(5, None) == "-- ex/s"
    assert rate_text(5, 2.0) == "2.50 ex/s"
    assert rate_text(5, 2.0, speed=4.0) == "4.00 ex/s"  # rich's recent speed wins while it has one
