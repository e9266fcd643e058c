"""The bundled eval sets: reproducible from the generator, well formed, leak-free, with valid suites."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
import yaml

import evalsets
from evalsets import generate
from evalsets.generators.classify import LABELS
from evalsets.generators.extract import KEYS, SCHEMA, canonical_json
from evalsets.generators.text import normalise

ROOT = evalsets.ROOT
TASK_SETS = ("support", "extract", "classify")
ALL_SETS = (*TASK_SETS, "general")
SPLITS = evalsets.SPLITS
# Metric names agreed between the teams (brief: "Metric names (scoring helper implements)").
CONTRACT_METRICS = {"exact_match", "rouge1", "rouge2", "rougeL", "bleu", "chrf", "embedding_similarity",
                    "json_valid", "json_schema", "accuracy", "length_ratio", "latency", "cost"}


def _load(name: str, split: str, root: Path = ROOT) -> list[dict]:
    with open(root / name / f"{split}.jsonl", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sets generated afresh into a temporary folder (seed 0, like the bundled ones)."""
    out = tmp_path_factory.mktemp("evalsets")
    generate.generate_all(out)
    return out


@pytest.fixture(scope="module")
def bundled() -> dict[str, dict[str, list[dict]]]:
    """Every bundled split, parsed."""
    return {name: {split: _load(name, split) for split in SPLITS} for name in ALL_SETS}


def test_regenerating_reproduces_the_committed_files_byte_for_byte(regenerated: Path) -> None:
    files = generate.generated_files()
    assert len(files) == 2 + 5 * len(ALL_SETS)  # per set: train/val/test, split.json, suite.yaml
    for rel in files:
        fresh, committed = (regenerated / rel).read_bytes(), (ROOT / rel).read_bytes()
        assert fresh == committed, f"{rel} differs from the generator output: run `python -m evalsets.generate`"


def test_each_bundled_set_is_a_checked_split_set(regenerated: Path) -> None:
    from harness.data.split_set import check_split_folder
    from harness.errors import DataError

    for name in ALL_SETS:
        manifest = check_split_folder(ROOT / name)
        assert manifest is not None and set(manifest["files"]) == {f"{s}.jsonl" for s in SPLITS}
        assert manifest["leakage"] == 0 and manifest["repair"] == "python -m evalsets.generate"
    copy = regenerated.parent / "mixed"
    shutil.copytree(regenerated / "classify", copy)
    (copy / "val.jsonl").write_bytes((regenerated / "general" / "val.jsonl").read_bytes())
    with pytest.raises(DataError, match="python -m evalsets.generate"):
        check_split_folder(copy)


def test_check_mode_reports_changed_and_missing_files(regenerated: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(regenerated, copy)
    target = copy / "classify" / "test.jsonl"
    target.write_text(target.read_text(encoding="utf-8").replace('"billing"', '"sales"', 1), encoding="utf-8")
    (copy / "general" / "suite.yaml").unlink()
    assert generate.main(["--check", "--out", str(copy)]) == 1
    err = capsys.readouterr().err
    assert err.count("differs: ") == 2
    assert "classify/test.jsonl" in err and "general/suite.yaml" in err


def test_the_generator_writes_exactly_the_sets_the_lookup_knows() -> None:
    assert generate.SET_NAMES == evalsets.SET_NAMES == ALL_SETS
    assert generate.ROOT == evalsets.ROOT and generate.SPLITS == evalsets.SPLITS


def test_a_different_seed_gives_different_examples() -> None:
    first = generate.SETS[1].make(0)[:20]
    other = generate.SETS[1].make(1)[:20]
    assert [e["messages"][1]["content"] for e in first] != [e["messages"][1]["content"] for e in other]


def test_sizes(bundled: dict) -> None:
    for name in TASK_SETS:
        sizes = {split: len(rows) for split, rows in bundled[name].items()}
        assert sizes["train"] >= 1000, (name, sizes)
        assert 130 <= sizes["test"] <= 200, (name, sizes)
        assert 130 <= sizes["val"] <= 200, (name, sizes)
    general = {split: len(rows) for split, rows in bundled["general"].items()}
    assert general["train"] >= 500 and general["test"] >= 100, general


def test_every_line_is_a_valid_chat_example(bundled: dict) -> None:
    ids: set[str] = set()
    for name, splits in bundled.items():
        for split, rows in splits.items():
            for row in rows:
                where = f"{name}/{split} {row.get('id')}"
                assert set(row) == {"id", "messages", "metadata"}, where
                assert isinstance(row["id"], str) and row["id"].startswith(f"{name}-"), where
                assert row["id"] not in ids, f"duplicate id {where}"
                ids.add(row["id"])
                roles = [m["role"] for m in row["messages"]]
                assert roles == ["system", "user", "assistant"], where
                for message in row["messages"]:
                    assert set(message) == {"role", "content"}, where
                    assert isinstance(message["content"], str) and message["content"].strip(), where
                    assert message["content"] == message["content"].strip(), where
                assert isinstance(row["metadata"], dict) and row["metadata"].get("category"), where


def test_no_user_message_is_shared_between_splits(bundled: dict) -> None:
    from harness.data.schema import user_key

    for name, splits in bundled.items():
        mine = {split: {normalise(r["messages"][1]["content"]) for r in rows} for split, rows in splits.items()}
        theirs = {split: {user_key(r) for r in rows} for split, rows in splits.items()}
        for keys in (mine, theirs):
            assert sum(len(v) for v in keys.values()) == sum(len(r) for r in splits.values()), name
            assert not keys["train"] & keys["test"], name
            assert not keys["train"] & keys["val"], name
            assert not keys["val"] & keys["test"], name


def test_bundled_files_pass_the_data_validator_with_no_errors_or_warnings(tmp_path: Path) -> None:
    from harness.data.validate import validate_file

    for name in ALL_SETS:
        combined = tmp_path / f"{name}.jsonl"
        combined.write_bytes(b"".join((ROOT / name / f"{split}.jsonl").read_bytes() for split in SPLITS))
        for path in [ROOT / name / f"{split}.jsonl" for split in SPLITS] + [combined]:
            report = validate_file(path)
            assert report.examples == len(path.read_text(encoding="utf-8").splitlines()) > 0
            assert report.error_count == 0, (path, report.to_dict()["errors"][:3])
            assert report.warning_count == 0, (path, report.to_dict()["warnings"][:3])


def test_extract_references_are_canonical_and_valid_against_their_schema(bundled: dict) -> None:
    from jsonschema import Draft202012Validator

    assert json.loads((ROOT / "extract" / "schema.json").read_text(encoding="utf-8")) == SCHEMA
    validator = Draft202012Validator(SCHEMA)
    Draft202012Validator.check_schema(SCHEMA)
    nulls = Counter()
    for rows in bundled["extract"].values():
        for row in rows:
            assert row["metadata"]["schema"] == SCHEMA
            reference = row["messages"][-1]["content"]
            obj = json.loads(reference)
            validator.validate(obj)
            assert reference == canonical_json(obj)
            assert list(obj) == list(KEYS)
            assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", key) for key in obj)
            assert obj["issue"] == row["metadata"]["issue"]
            message = row["messages"][1]["content"]
            for key in ("name", "order_id"):  # extracted values are copied verbatim from the message
                if obj[key] is not None:
                    assert obj[key] in message, (key, row["id"])
            nulls.update(key for key, value in obj.items() if value is None)
    # Every optional field is sometimes absent, so the model must learn to write null.
    assert {key for key in KEYS if key != "issue"} <= set(nulls)


def test_extract_schema_rejects_malformed_outputs() -> None:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(SCHEMA)
    good = {"name": "Ana Silva", "order_id": "KX-40213", "product": "desk lamp", "quantity": 2, "issue": "late"}
    assert validator.is_valid(good)
    bad = [
        {k: v for k, v in good.items() if k != "quantity"},  # missing key
        {**good, "orderId": "KX-40213"},  # extra (camelCase) key
        {**good, "order_id": "#KX-40213"},  # not the canonical id
        {**good, "issue": "broken"},  # not a known issue
        {**good, "quantity": "2"},  # number as string
        {**good, "quantity": 0},
    ]
    assert not any(validator.is_valid(obj) for obj in bad)


def test_extract_examples_are_short(bundled: dict) -> None:
    # Rough budget check without a tokenizer: SmolLM2 spends about 1.3 tokens per word on this text.
    longest = max(sum(len(m["content"].split()) for m in row["messages"])
                  for rows in bundled["extract"].values() for row in rows)
    assert longest <= 80, longest


def test_classify_labels_are_imbalanced_but_all_well_represented(bundled: dict) -> None:
    totals = Counter()
    for split, rows in bundled["classify"].items():
        counts = Counter(row["metadata"]["label"] for row in rows)
        for row in rows:
            assert row["metadata"]["label"] in LABELS
            assert row["messages"][-1]["content"] == row["metadata"]["label"]
        assert set(counts) == set(LABELS), split
        if split == "test":
            assert min(counts.values()) >= 10, counts
        totals.update(counts)
    n = sum(totals.values())
    assert min(totals.values()) / n >= 0.075
    assert max(totals.values()) / min(totals.values()) >= 3


def test_support_metadata_and_answers_are_specific(bundled: dict) -> None:
    allowed = {"product_area": {"billing", "technical", "account", "shipping"},
               "customer_type": {"consumer", "business", "enterprise"},
               "query_style": {"formal", "casual", "typos"},
               "length_bucket": {"short", "medium", "long"}}
    rows = [row for split in bundled["support"].values() for row in split]
    for field, values in allowed.items():
        assert {row["metadata"][field] for row in rows} == values, field
    for row in rows:
        query, answer = row["messages"][1]["content"], row["messages"][-1]["content"]
        assert 20 <= len(answer.split()) <= 110, row["id"]
        for token in re.findall(r"\b(?:E\d{3}|NV-\d{6})\b", query):  # error codes, order ids
            if row["metadata"]["intent"] in ("error_code", "where_is_order"):
                assert token in answer or "order" in answer, row["id"]
        if row["metadata"]["intent"] == "error_code":
            assert re.search(r"E\d{3}", answer)
    # The three styles really differ: casual/typo queries are mostly lower-case or misspelled.
    formal = [r for r in rows if r["metadata"]["query_style"] == "formal"]
    assert all(r["messages"][1]["content"][0].isupper() for r in formal)


def test_support_answers_only_repeat_facts_the_customer_gave(bundled: dict) -> None:
    """Amounts, dates, ids, codes, versions, systems, products and places in an answer come from the query.

    Otherwise the reference would teach the model to invent them. Policy constants (prices, the current
    app version, the list of countries Nimbus ships to) are the exceptions.
    """
    from evalsets.generators import vocab

    policy = {"$14.99", "$15", "6.4"}
    names = sorted([*vocab.OPERATING_SYSTEMS, *vocab.INTEGRATIONS, *vocab.HARDWARE, *vocab.COUNTRIES,
                    *vocab.CITIES], key=len, reverse=True)
    months, named = "|".join(vocab.MONTHS), "|".join(map(re.escape, names))
    fact = re.compile(r"\$[\d,]+(?:\.\d\d)?|NV-\d{6}|\bE\d{3}\b|\b\d\.\d\b|\b\d{4}\b"
                      + rf"|\b(?:{months}) \d{{1,2}}\b|\b(?:{named})\b")
    checked = 0
    for rows in bundled["support"].values():
        for row in rows:
            query, answer = row["messages"][1]["content"], row["messages"][-1]["content"]
            if "we currently deliver to" in answer:
                answer = answer.split("we currently deliver to")[0] + answer.split("European Union.")[1]
            for value in fact.findall(answer):
                if value not in policy:
                    assert value in query, (row["id"], value, query)
                    checked += 1
    assert checked > 500


def test_general_references_are_exact(bundled: dict) -> None:
    rows = [row for split in bundled["general"].values() for row in split]
    tasks = Counter(row["metadata"]["task"] for row in rows)
    assert set(tasks) == {"arithmetic", "conversion", "capital", "definition", "spelling", "past_tense", "sort"}
    for row in rows:
        question, answer = row["messages"][1]["content"], row["messages"][-1]["content"]
        task = row["metadata"]["task"]
        if task == "arithmetic":
            assert re.fullmatch(r"-?\d+", answer), row
        elif task == "sort":
            words = question.split(": ", 1)[1].split(", ")
            assert answer.split(", ") == sorted(words)
        elif task == "spelling":
            assert question.split(": ", 1)[1] != answer
        elif task == "conversion":
            assert re.fullmatch(r"-?\d+(\.\d)? [a-z ]+", answer, flags=re.IGNORECASE), answer
    # spot-check facts that the generator computes
    by_question = {row["messages"][1]["content"]: row["messages"][-1]["content"] for row in rows}
    for question, answer in by_question.items():
        match = re.fullmatch(r"What is (\d+) (plus|minus|times) (\d+)\? Answer with the number only\.", question)
        if match:
            a, op, b = int(match[1]), match[2], int(match[3])
            assert int(answer) == {"plus": a + b, "minus": a - b, "times": a * b}[op]
        match = re.fullmatch(r"Convert (-?\d+) degrees Celsius to degrees Fahrenheit\..*", question)
        if match:
            assert abs(float(answer.split()[0]) - (int(match[1]) * 9 / 5 + 32)) <= 0.05


def test_suite_files_parse_with_the_agreed_keys(bundled: dict) -> None:
    for name in ALL_SETS:
        path = ROOT / name / "suite.yaml"
        suite = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert set(suite) == {"name", "datasets", "generation", "candidates", "metrics"}, name
        assert suite["name"] == f"{name}-v1"
        assert suite["datasets"]["test"] == "test.jsonl"
        if name != "general":
            assert suite["datasets"]["general"] == "../general/test.jsonl"
        for dataset in suite["datasets"].values():
            assert (path.parent / dataset).is_file(), (name, dataset)
        generation = suite["generation"]
        assert generation["temperature"] == 0.0 and generation["seed"] == 0
        assert isinstance(generation["max_new_tokens"], int) and 0 < generation["max_new_tokens"] <= 256
        names = [c["name"] for c in suite["candidates"]]
        assert names == ["base-zero-shot", "base-few-shot"]
        assert all(c["model"] == "smollm2-135m-instruct" for c in suite["candidates"])
        few_shot = suite["candidates"][1]["prompt"]
        assert few_shot == {"few_shot": 3, "from": "train.jsonl"} and (path.parent / few_shot["from"]).is_file()
        assert suite["metrics"] and set(suite["metrics"]) <= CONTRACT_METRICS, suite["metrics"]
    # The eval runner's own parser accepts them, and every metric is registered.
    from harness.metrics.base import available_metrics
    from harness.runs.suite import load_suite

    for name in ALL_SETS:
        suite = load_suite(ROOT / name / "suite.yaml")
        assert [c.name for c in suite.candidates] == ["base-zero-shot", "base-few-shot"]
        assert set(suite.metrics) <= set(available_metrics()), suite.metrics
    extract = yaml.safe_load((ROOT / "extract" / "suite.yaml").read_text(encoding="utf-8"))
    assert extract["metrics"] == ["json_valid", "json_schema", "exact_match"]
    assert extract["generation"]["max_new_tokens"] == 96


def test_readme_size_table_matches_the_files(bundled: dict) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ALL_SETS:
        sizes = " | ".join(str(len(bundled[name][split])) for split in SPLITS)
        assert f"| `{name}` |" in readme and f"| {sizes} |" in readme, (name, sizes)


def test_resplitting_the_concatenation_reproduces_the_bundled_splits(bundled: dict) -> None:
    """The demo's data stage re-splits train+val+test with seed 0: it gets the same membership back."""
    from harness.data.split import split_examples

    for spec in generate.SETS:
        splits = bundled[spec.name]
        shuffled = splits["test"] + splits["train"][::-1] + splits["val"]
        result = split_examples(shuffled, seed=generate.SPLIT_SEED, ratios=generate.RATIOS, stratify=spec.stratify)
        assert result.leakage == 0
        for split in SPLITS:
            assert {r["id"] for r in getattr(result, split)} == {r["id"] for r in splits[split]}, (spec.name, split)
