"""Split a JSONL file on disk: validate, key every line, assign, write all three splits atomically.

The file is read three times (validate, keys, copy) and never held in memory: only the keys and
the split of each line are. Lines are copied byte for byte (not re-serialised), so a split
reproduces its input exactly. The outputs are written as one set by
:mod:`harness.data.split_set`: an interrupted split leaves the previous files untouched, a kill
between the renames leaves files that readers refuse (never a silent mix of two splits), and the
next split removes what a killed one left behind. An output that would replace the input is refused.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.data.reader import iter_lines, iter_objects, parse_line
from harness.data.schema import CODES, example_key, get_field, stratum_label, user_key
from harness.data.split import (
    DEFAULT_RATIOS,
    SPLIT_NAMES,
    SplitStats,
    assign_splits,
    check_stratify,
    make_stats,
    parse_ratios,
)
from harness.data.split_set import check_split_member, output_paths, split_paths, write_split_set
from harness.data.validate import SPLIT_TOLERATED, validate_file
from harness.errors import DataError
from harness.io import file_sha256, refuse_overlap


@dataclass(frozen=True)
class SplitFileResult:
    """Where :func:`split_file` wrote the splits, and their :class:`~harness.data.split.SplitStats`."""

    source: Path
    paths: dict[str, Path]  # "train" | "val" | "test" -> file
    stats: SplitStats

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (source, paths, and the statistics)."""
        return {"source": str(self.source), "paths": {k: str(v) for k, v in self.paths.items()},
                **self.stats.to_dict()}


def refuse_invalid(path: Path) -> None:
    """Raise :class:`DataError` (exit 1) listing the first errors when ``path`` is not splittable."""
    report = validate_file(path)
    blocking = report.blocking_errors(SPLIT_TOLERATED)
    if not blocking:
        return
    total = sum(n for code, n in report.counts.items()
                if CODES[code].severity == "error" and code not in SPLIT_TOLERATED)
    shown = "\n".join(f"  {path}:{e.line}: {e.code}: {e.message}" for e in blocking[:5])
    more = f"\n  ... and {total - 5} more" if total > 5 else ""
    raise DataError(
        f"{path} has {total} validation error(s); refusing to split it:\n{shown}{more}",
        hint=f"fix them (see `harness data validate {path}`) and split again; duplicates are fine, they are grouped",
        exit_code=1,
    )


def split_file(
    path: str | Path,
    out_dir: str | Path,
    *,
    seed: int = 0,
    ratios: Sequence[float] | str = DEFAULT_RATIOS,
    stratify: str | None = None,
    validate: bool = True,
) -> SplitFileResult:
    """Validate ``path``, split it and write ``out_dir/{train,val,test}.jsonl`` plus ``split.json``.

    Returns a :class:`SplitFileResult`. Raises :class:`DataError` (exit 1) with the validation
    errors when the file is invalid (duplicates excepted: they are grouped, never refused).
    ``validate=False`` skips that check for a caller that has just validated the file itself
    (unparseable lines are then left out of the split). An ``out_dir`` whose outputs would replace
    ``path`` (also through a symlink) is refused with :class:`HarnessError` (exit 2); existing
    splits in ``out_dir`` are replaced (the CLI asks for ``--force`` first).
    """
    path = Path(path)
    parsed = parse_ratios(ratios)
    out = Path(out_dir)
    refuse_overlap(output_paths(out), [path], option="--out")
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out} exists and is not a directory", hint="choose a folder for train/val/test.jsonl")
    check_split_member(path)
    if validate:
        refuse_invalid(path)
    exact: list[str] = []
    near: list[str | None] = []
    strata: list[str] | None = None if stratify is None else []
    sample: list[Any] = []
    for _number, obj in iter_objects(path):
        exact.append(example_key(obj))
        near.append(user_key(obj))
        if strata is not None:
            strata.append(stratum_label(get_field(obj, stratify or "")))
            if len(sample) < 200:
                sample.append(obj)
    check_stratify(stratify, strata, sample)
    if not exact:
        raise DataError(f"{path} has no examples to split", hint="the file is empty or only blank lines", exit_code=1)
    assignment, groups, grouped = assign_splits(exact, near, strata, seed=seed, ratios=parsed)
    stats = make_stats(exact, near, strata, assignment, seed=seed, ratios=parsed, stratify=stratify,
                       groups=groups, grouped=grouped)
    result = SplitFileResult(source=path, paths=split_paths(out), stats=stats)
    manifest = {**result.to_dict(), "source_sha256": file_sha256(path),
                "repair": f"harness data split {path} --out {out} --force"}
    _write_splits(path, assignment, out, manifest)
    return result


def _write_splits(source: Path, assignment: list[int], out: Path, manifest: dict[str, Any]) -> None:
    """Copy each line of ``source`` to its split, writing the three files and ``split.json`` as one set.

    :func:`harness.data.split_set.write_split_set` stages the files and renames them into place;
    ``split.json`` records their hashes so readers refuse a set that a kill left half-renamed.
    """

    def fill(handles: dict[str, Any]) -> None:
        ordered = [handles[name] for name in SPLIT_NAMES]
        index = 0
        for number, text in _parsed_lines(source):
            if index >= len(assignment):
                raise DataError(f"{source}:{number}: file grew while splitting", hint="split again")
            _write_line(ordered[assignment[index]], text)
            index += 1
        if index != len(assignment):
            raise DataError(f"{source} changed while splitting ({index} lines, expected {len(assignment)})",
                            hint="split again once the file is no longer being written")

    write_split_set(out, fill, manifest)


def _parsed_lines(source: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(number, text)`` of the lines that parse as JSON objects: the lines that were keyed."""
    for line in iter_lines(source):
        _obj, problem = parse_line(line)
        if problem is None and line.text is not None:
            yield line.number, line.text


def _write_line(handle: Any, text: str) -> None:
    handle.write(text)
    handle.write("\n")
