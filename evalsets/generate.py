"""Write the bundled eval sets: ``python -m evalsets.generate [--out DIR] [--seed N] [--check]``.

For each set (``support``, ``extract``, ``classify``, ``general``) this generates the examples
(seeded, templates x vocabularies, no network), splits them with
:func:`harness.data.split.split_examples` (seed 0, 80/10/10, stratified by the set's category
field) and writes ``<out>/<set>/{train,val,test}.jsonl`` as one checked set with its ``split.json``
(:func:`harness.data.split_set.write_split_set`: readers refuse a half-replaced set) and
``<out>/<set>/suite.yaml`` atomically, plus ``<out>/extract/schema.json`` and ``<out>/STATS.md``. The
same seed gives the same bytes, which ``--check`` (and the test suite) verifies against the committed files.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from evalsets import ROOT, SPLITS
from evalsets.generators.classify import generate_classify
from evalsets.generators.extract import SCHEMA, generate_extract
from evalsets.generators.general import generate_general
from evalsets.generators.support import generate_support

if TYPE_CHECKING:
    from harness.data.split import SplitResult

RATIOS = (0.8, 0.1, 0.1)
SPLIT_SEED = 0


@dataclass(frozen=True)
class SetSpec:
    """How one bundled set is generated, split and evaluated."""

    name: str
    make: Callable[[int], list[dict]]
    stratify: str  # metadata field balanced across splits
    slices: tuple[str, ...]  # metadata fields summarised in STATS.md
    max_new_tokens: int
    metrics: tuple[str, ...]
    with_general: bool = True  # the suite also scores the general set (forgetting check)


SETS: tuple[SetSpec, ...] = (
    SetSpec("support", lambda seed: generate_support(1400, seed), "product_area",
            ("product_area", "customer_type", "query_style", "length_bucket"), 160,
            ("rougeL", "bleu", "embedding_similarity", "length_ratio", "latency")),
    SetSpec("extract", lambda seed: generate_extract(1400, seed), "issue",
            ("issue", "query_style", "fields_present"), 96, ("json_valid", "json_schema", "exact_match")),
    SetSpec("classify", lambda seed: generate_classify(1750, seed), "label",
            ("label", "query_style"), 8, ("accuracy", "exact_match")),
    SetSpec("general", generate_general, "task", ("task",), 48, ("exact_match", "rougeL"),
            with_general=False),
)
SET_NAMES = tuple(spec.name for spec in SETS)


def suite_yaml(spec: SetSpec) -> str:
    """Return the text of ``<set>/suite.yaml`` (paths relative to the suite file's folder)."""
    datasets = "{test: test.jsonl, general: ../general/test.jsonl}" if spec.with_general else "{test: test.jsonl}"
    return (
        f"# Suite for the bundled `{spec.name}` set. Written by `python -m evalsets.generate`: change the\n"
        f"# generator (evalsets/generate.py), not this file. Paths are relative to this folder.\n"
        f"name: {spec.name}-v1\n"
        f"datasets: {datasets}\n"
        f"generation: {{max_new_tokens: {spec.max_new_tokens}, temperature: 0.0, seed: 0}}\n"
        f"candidates:\n"
        f"  - {{name: base-zero-shot, model: smollm2-135m-instruct}}\n"
        f"  - {{name: base-few-shot, model: smollm2-135m-instruct, prompt: {{few_shot: 3, from: train.jsonl}}}}\n"
        f"metrics: [{', '.join(spec.metrics)}]\n"
    )


def _stats_section(spec: SetSpec, splits: dict[str, list[dict]]) -> list[str]:
    """Return the Markdown lines describing one set's split sizes and slice distributions."""
    lines = [f"## {spec.name}", "", "| split | examples |", "|---|---|"]
    lines += [f"| {name} | {len(rows)} |" for name, rows in splits.items()]
    lines.append(f"| total | {sum(len(rows) for rows in splits.values())} |")
    for field in spec.slices:
        counts = {name: Counter(str(r["metadata"][field]) for r in rows) for name, rows in splits.items()}
        values = sorted(set().union(*counts.values()), key=lambda v: (-sum(c[v] for c in counts.values()), v))
        lines += ["", f"`{field}`:", "", "| value | train | val | test | share |", "|---|---|---|---|---|"]
        total = sum(sum(c.values()) for c in counts.values())
        for value in values:
            n = [counts[name][value] for name in SPLITS]
            lines.append(f"| {value} | {n[0]} | {n[1]} | {n[2]} | {100 * sum(n) / total:.1f}% |")
    return lines + [""]


def generate_set(spec: SetSpec, seed: int = 0) -> dict[str, list[dict]]:
    """Return ``{"train"|"val"|"test": examples}`` for one set (generated, then split)."""
    result = _split(spec, seed)
    return {"train": result.train, "val": result.val, "test": result.test}


def _split(spec: SetSpec, seed: int) -> SplitResult:
    from harness.data.split import split_examples

    result = split_examples(spec.make(seed), seed=SPLIT_SEED, ratios=RATIOS, stratify=spec.stratify)
    if result.leakage:
        raise RuntimeError(f"{spec.name}: {result.leakage} examples leak across splits")
    return result


def write_splits(folder: Path, spec: SetSpec, result: SplitResult, seed: int) -> None:
    """Write ``folder/{train,val,test}.jsonl`` (one JSON object per line) and ``split.json`` as one set."""
    import json

    from harness.data.split_set import write_split_set

    def fill(handles: dict[str, IO[str]]) -> None:
        for name, rows in (("train", result.train), ("val", result.val), ("test", result.test)):
            for row in rows:
                handles[name].write(json.dumps(row, ensure_ascii=False))
                handles[name].write("\n")

    manifest = {"source": f"evalsets.generate ({spec.name}, generation seed {seed})", **result.stats.to_dict(),
                "repair": "python -m evalsets.generate"}
    write_split_set(folder, fill, manifest)


def generate_all(out_dir: str | Path = ROOT, *, seed: int = 0, sets: tuple[str, ...] = SET_NAMES,
                 echo: Callable[[str], None] | None = None) -> dict[str, dict[str, int]]:
    """Write every bundled set under ``out_dir``; returns ``{set: {split: size}}``.

    ``STATS.md`` is written only when all sets are generated.
    """
    from harness.io import atomic_write, write_json

    out = Path(out_dir)
    sizes: dict[str, dict[str, int]] = {}
    stats = ["# Bundled eval sets: sizes and distributions", "",
             "Written by `python -m evalsets.generate`; see README.md for what each field means.", ""]
    for spec in SETS:
        if spec.name not in sets:
            continue
        result = _split(spec, seed)
        splits = {"train": result.train, "val": result.val, "test": result.test}
        folder = out / spec.name
        write_splits(folder, spec, result, seed)
        with atomic_write(folder / "suite.yaml") as handle:
            handle.write(suite_yaml(spec))
        if spec.name == "extract":
            write_json(folder / "schema.json", SCHEMA)
        sizes[spec.name] = {name: len(rows) for name, rows in splits.items()}
        stats += _stats_section(spec, splits)
        if echo is not None:
            echo(f"{spec.name}: " + ", ".join(f"{k} {v}" for k, v in sizes[spec.name].items()))
    if set(sets) == set(SET_NAMES):
        with atomic_write(out / "STATS.md") as handle:
            handle.write("\n".join(stats).rstrip() + "\n")
    return sizes


def generated_files(root: str | Path = ROOT) -> list[Path]:
    """Return the paths (relative to ``root``) of every file the generator writes."""
    names = [Path("STATS.md"), Path("extract/schema.json")]
    for spec in SETS:
        names += [Path(spec.name) / f"{split}.jsonl" for split in SPLITS]
        names += [Path(spec.name) / "split.json", Path(spec.name) / "suite.yaml"]
    return sorted(names)


def differing_files(reference: str | Path = ROOT, *, seed: int = 0) -> list[str]:
    """Regenerate into a temporary folder; returns the files that differ from (or are missing in) ``reference``."""
    with tempfile.TemporaryDirectory(prefix="evalsets-check-") as tmp:
        generate_all(tmp, seed=seed)
        return [str(rel) for rel in generated_files()
                if not (Path(reference) / rel).is_file()
                or not filecmp.cmp(Path(tmp) / rel, Path(reference) / rel, shallow=False)]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: generate (default) or ``--check``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m evalsets.generate",
                                     description="Write (or --check) the bundled eval sets under --out.")
    parser.add_argument("--out", type=Path, default=ROOT, help="output folder (default: the evalsets package)")
    parser.add_argument("--seed", type=int, default=0, help="generation seed (default 0, the bundled sets)")
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if regenerating would change any file under --out")
    args = parser.parse_args(argv)
    if args.check:
        changed = differing_files(args.out, seed=args.seed)
        for name in changed:
            print(f"differs: {args.out / name}", file=sys.stderr)
        print("bundled sets are up to date" if not changed else
              f"{len(changed)} file(s) differ; run `python -m evalsets.generate` to rewrite them")
        return 1 if changed else 0
    generate_all(args.out, seed=args.seed, echo=print)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
