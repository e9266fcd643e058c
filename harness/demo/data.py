"""The demo's data stage: validate, profile and split every bundled eval set.

For each bundled set (:data:`evalsets.SET_NAMES`) its train/val/test files are concatenated into
``<demo>/data/<set>/all.jsonl``, validated, profiled and split again with seed 0 into
``<demo>/data/<set>/{train,val,test}.jsonl`` (leakage must be 0). The later stages use the
**bundled** split files (``ctx.splits``), so every stage and every test agrees on the same
examples; the re-split shows the tooling on real data and whether it reproduces them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import evalsets
from harness.data.split import SPLIT_NAMES
from harness.demo.context import DemoContext, SplitFiles

SETS = evalsets.SET_NAMES


def bundled_splits(name: str) -> SplitFiles | None:
    """Return ``{"train"|"val"|"test": path}`` of a bundled set, or ``None`` when any file is missing."""
    files = evalsets.split_files(name)
    return files if all(p.is_file() for p in files.values()) else None


def concatenate(files: list[Path], target: Path) -> None:
    """Write the files one after the other into ``target`` (atomically), each ending with a newline."""
    from harness.io import atomic_write

    with atomic_write(target, "wb") as out:
        for path in files:
            with open(path, "rb") as handle:
                data = handle.read()
            out.write(data if data.endswith(b"\n") or not data else data + b"\n")


def bundled_leakage(all_path: Path, sizes: dict[str, int]) -> int:
    """Return the leakage of the bundled split itself (``all_path`` is train, val, test concatenated)."""
    from harness.data.reader import iter_objects
    from harness.data.schema import example_key, user_key
    from harness.data.split import count_leakage

    exact, near = [], []
    for _, obj in iter_objects(all_path):
        exact.append(example_key(obj))
        near.append(user_key(obj))
    assignment = [k for k, name in enumerate(SPLIT_NAMES) for _ in range(sizes[name])]
    if len(assignment) != len(exact):  # unreadable lines: the validation errors already say so
        return -1
    return count_leakage(exact, near, assignment)


def _count_lines(path: Path) -> int:
    from harness.data.reader import iter_objects

    return sum(1 for _ in iter_objects(path))


def _main_field(profile: Any) -> str:
    fields = profile.to_dict()["fields"]
    for name in ("product_area", "category", "label", "task", "skill"):
        if name in fields:
            shares = fields[name]["shares"]
            top = ", ".join(f"{v} {s:.0%}" for v, s in list(shares.items())[:4])
            return f"; {name}: {top}" + (", ..." if len(shares) > 4 else "")
    return ""


def stage(ctx: DemoContext, *, sets: tuple[str, ...] = SETS) -> None:
    """Validate, report and split each bundled set; sets ``ctx.splits`` to the bundled files."""
    from harness.data.report import profile_file
    from harness.data.split_io import split_file
    from harness.data.validate import SPLIT_TOLERATED, validate_file

    console = ctx.console
    splits: dict[str, SplitFiles] = {}
    total_leakage = 0
    for name in sets:
        files = bundled_splits(name)
        if files is None:
            console.print(f"[yellow]{name}: bundled set not found under {evalsets.path(name)}; skipped")
            continue
        out = ctx.out_dir / "data" / name
        all_path = out / "all.jsonl"
        concatenate([files[s] for s in SPLIT_NAMES], all_path)
        report = validate_file(all_path)
        profile = profile_file(all_path)
        users = profile.to_dict()["lengths"]["user_tokens"]
        tokens = "" if users is None else f"; user tokens median {users['median']:g}, p95 {users['p95']:.0f}"
        console.print(f"[bold]{name}[/]: {report.examples} examples, {report.error_count} errors, "
                      f"{report.warning_count} warnings, {profile.exact_duplicates} exact + "
                      f"{profile.near_duplicates} near duplicates{_main_field(profile)}{tokens}")
        blocking = report.blocking_errors(SPLIT_TOLERATED)
        if blocking:
            first = blocking[0]
            console.print(f"  [red]{len(blocking)} validation errors, not split[/]; first: line {first.line} "
                          f"{first.code}: {first.message}")
        else:
            result = split_file(all_path, out, seed=0, validate=False)
            sizes = result.stats.sizes
            total_leakage += result.stats.leakage
            bundled = bundled_leakage(all_path, {s: _count_lines(files[s]) for s in SPLIT_NAMES})
            total_leakage += max(bundled, 0)
            colour = "green" if result.stats.leakage == 0 and bundled == 0 else "red"
            console.print(f"  split (seed 0): train/val/test {'/'.join(str(sizes[s]) for s in SPLIT_NAMES)}, "
                          f"[{colour}]leakage {result.stats.leakage}[/]; bundled split leakage "
                          f"[{colour}]{bundled}[/]")
        splits[name] = files
    if splits:
        console.print(f"validated copies, reports and seed-0 splits: {ctx.out_dir / 'data'}")
        console.print("[dim]later stages use the bundled split files (evalsets/<set>/{train,val,test}.jsonl); "
                      "tokens are a regex estimate")
    ctx.splits = splits
    ctx.report("data", f"{len(splits)}/{len(sets)} bundled sets validated and split (leakage {total_leakage}) "
               f"in {ctx.out_dir / 'data'}")
