"""The data view: a file's profile as tables and histograms, and coverage against a production sample."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.errors import HarnessError
from harness.report.data import coverage, data_report, default_field, existing_file, histogram


def example(user: str, answer: str, category: str) -> dict:
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}],
            "metadata": {"category": category}}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("values", [[3], [5, 5, 5], list(range(0, 100)), [1, 2, 2, 7, 40, 41, 300],
                                    list(np.random.default_rng(0).integers(5, 900, 500))])
def test_histogram_matches_numpy(values: list[int]) -> None:
    values = [int(v) for v in values]
    bins = histogram(values, max_bins=30)
    assert len(bins) <= 30
    widths = {end - start for start, end, _ in bins}
    assert len(widths) == 1 and widths.pop() >= 1
    assert bins[0][0] == min(values) and bins[-1][0] <= max(values) < bins[-1][1]
    assert all(a[1] == b[0] for a, b in zip(bins, bins[1:], strict=False))
    edges = [b[0] for b in bins] + [bins[-1][1]]
    expected, _ = np.histogram(values, bins=edges)
    assert [c for *_, c in bins] == expected.tolist()
    assert sum(c for *_, c in bins) == len(values)


def test_histogram_of_nothing() -> None:
    assert histogram([]) == []


def test_data_report_counts(tmp_path: Path) -> None:
    rows = [example("where is my bill", "here", "billing"), example("refund my bill please", "ok", "billing"),
            example("where is my parcel now", "on its way", "shipping"),
            example("where is my bill", "here", "billing"),  # exact duplicate of line 1
            example("where is my parcel now", "lost", "shipping")]  # near duplicate of line 3
    path = write_jsonl(tmp_path / "train.jsonl", rows)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("{not json\n")
    report = data_report(path)
    assert (report.examples, report.unreadable_lines) == (5, 1)
    assert (report.exact_duplicates, report.near_duplicates) == (1, 1)
    assert report.duplicate_pairs == ((4, 1, "exact"), (5, 3, "near"))
    cats = report.categories_frame("category").set_index("value")
    assert cats["count"].to_dict() == {"billing": 3, "shipping": 2}
    assert cats["share"].to_dict() == {"billing": 0.6, "shipping": 0.4}
    lengths = report.lengths_frame().set_index("measure")
    user = [4, 4, 5, 4, 5]  # regex words per user turn
    assert lengths.loc["user_tokens", "median"] == np.median(user) and lengths.loc["user_tokens", "n"] == 5
    hist = report.histogram_frame("user_tokens")
    assert hist["count"].sum() == 5 and hist.set_index("start")["count"].to_dict() == {4: 3, 5: 2}
    assert report.fields == ["category"] and default_field(report.fields) == "category"


def test_coverage_flags_a_missing_category(tmp_path: Path) -> None:
    train = write_jsonl(tmp_path / "train.jsonl",
                        [example(f"bill question {i}", "a", "billing") for i in range(60)]
                        + [example(f"parcel question {i}", "a", "shipping") for i in range(40)])
    write_jsonl(tmp_path / "prod.jsonl",
                [example(f"bill q {i}", "a", "billing") for i in range(30)]
                + [example(f"parcel q {i}", "a", "shipping") for i in range(30)]
                + [example(f"return q {i}", "a", "returns") for i in range(40)])
    result = coverage(train, "prod.jsonl", base=tmp_path)  # relative to the workspace
    assert (result.train_examples, result.production_examples) == (100, 100)
    assert [(c.field, c.value, c.flag) for c in result.flags if c.flag != "over"] == [
        ("category", "returns", "missing")]
    assert result.headline().startswith("1 missing and 0 under-covered") and "category=returns" in result.headline()
    shares = result.shares_frame("category").set_index(["value", "sample"])["share"]
    assert shares[("returns", "production")] == 0.4 and shares[("returns", "training")] == 0.0
    assert shares[("billing", "training")] == 0.6 and shares[("billing", "production")] == 0.3
    flags = result.flags_frame()
    assert flags.iloc[0]["value"] == "returns" and flags.iloc[0]["production share"] == 0.4


def test_coverage_of_itself_has_no_flags(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", [example(f"q {i}", "a", "billing" if i % 2 else "x") for i in range(20)])
    result = coverage(path, path)
    assert result.flags == () and result.headline().startswith("no under-covered categories")


def test_missing_production_file_says_which(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="production sample 'nowhere.jsonl' not found"):
        existing_file("nowhere.jsonl", "production sample", base=tmp_path)
