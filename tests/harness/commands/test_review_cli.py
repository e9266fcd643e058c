"""``harness review ...`` through the real entry point, on a run folder made without a model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.harness.runfolder import make_run

RUN_ID = "20261128-163000-support-v1-ab12"
CANDIDATES = ("base-zero-shot", "base-few-shot", "lora-r16")


@pytest.fixture
def run(workspace_dir: Path) -> Path:
    return make_run(workspace_dir, RUN_ID, n_test=30, n_general=10, write_scores=True)


def _json(result) -> dict:
    assert result.exit_code == 0, result.stderr + result.stdout
    return json.loads(result.stdout)


def _enqueue(cli, *args: str) -> dict:
    return _json(cli("review", "enqueue", RUN_ID, "--dataset", "test", "--json", *args))


# --- argument errors: exit 2 with a message and a hint, nothing stored ------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (("enqueue", RUN_ID, "--kind", "ranking"), "unknown --kind 'ranking'"),
    (("enqueue", RUN_ID, "--strategy", "worst"), "unknown --strategy 'worst'"),
    (("enqueue", RUN_ID, "--strategy", "stratified:"), "unknown --strategy 'stratified:'"),
    (("enqueue", RUN_ID, "--overlap", "0"), "--overlap 0 must be at least 1"),
    (("enqueue", RUN_ID, "--n", "0"), "--n 0 must be at least 1"),
    (("enqueue", RUN_ID, "--kind", "pairwise", "--rubric", "r.yaml"), "--rubric applies to rubric batches only"),
    (("submit", "rb-1-0", "--reviewer", "ana"), "give either --set FIELD=VALUE"),
    (("submit", "rb-1-0", "--reviewer", "ana", "--set", "helpfulness=3", "--choice", "left"), "give either"),
    (("submit", "rb-1-0", "--reviewer", "ana", "--set", "helpfulness"), "--set 'helpfulness' is not FIELD=VALUE"),
    (("submit", "rb-1-0", "--reviewer", "ana", "--set", "a=1", "--set", "a=2"), "--set a given twice"),
    (("submit", "rb-1-0", "--reviewer", "ana", "--choice", "A"), "--choice 'A' is not one of left, right, tie"),
    (("export", "rb-1", "--format", "xml", "--out", "x.xml"), "unknown --format 'xml'"),
    (("results", "rb-1", "--alpha", "2"), "--alpha 2.0 must be between 0 and 1"),
])
def test_bad_arguments_exit_2(cli, workspace_dir: Path, args: tuple[str, ...], message: str) -> None:
    result = cli("review", *args)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (workspace_dir / "harness.db").exists()  # rejected before the workspace store was touched


def test_reviewer_is_required(cli) -> None:
    result = cli("review", "next", "rb-1")
    assert result.exit_code == 2 and "--reviewer" in result.stderr


def test_export_refuses_to_overwrite(cli, tmp_path: Path) -> None:
    out = tmp_path / "labels.jsonl"
    out.write_text("keep me\n")
    result = cli("review", "export", "rb-1", "--format", "jsonl", "--out", str(out))
    assert result.exit_code == 2 and "already exists" in result.stderr and "--force" in result.stderr
    assert out.read_text() == "keep me\n"


def test_help_lists_the_commands(cli) -> None:
    result = cli("review", "--help")
    assert result.exit_code == 0
    for command in ("enqueue", "next", "submit", "skip", "status", "export", "import", "results", "list"):
        assert f"  {command} " in result.stdout
    assert "review" in cli("--help").stdout


# --- end to end ----------------------------------------------------------------------------------


def test_rubric_review_from_enqueue_to_results(cli, run: Path, tmp_path: Path) -> None:
    batch = _enqueue(cli, "--candidates", "lora-r16", "--n", "4", "--overlap", "2", "--seed", "1")
    assert batch["kind"] == "rubric" and batch["n_items"] == 4 and batch["overlap"] == 2
    assert batch["candidates"] == ["lora-r16"] and batch["rubric"]["name"] == "support-default"
    bid = batch["id"]

    shown = cli("review", "next", bid, "--reviewer", "ana")
    assert shown.exit_code == 0, shown.stderr
    for text in ("reference", "helpfulness: an integer from 1 to 5", "policy_compliance: yes or no",
                 "comment: any text (optional)", f"harness review submit {bid}-", "--set helpfulness=1..5"):
        assert text in shown.stdout, shown.stdout
    assert "lora-r16" not in shown.stdout  # which candidate wrote it stays hidden

    for reviewer, helpfulness in (("ana", "4"), ("ben", "2")):
        for _ in range(4):
            task = _json(cli("review", "next", bid, "--reviewer", reviewer, "--json"))["task"]
            assert task["kind"] == "rubric" and [o["label"] for o in task["outputs"]] == ["output"]
            assert {f["name"] for f in task["fields"]} >= {"helpfulness", "policy_compliance"}
            result = cli("review", "submit", task["item_id"], "--reviewer", reviewer, "--set",
                         f"helpfulness={helpfulness}", "--set", "policy_compliance=yes", "--set",
                         "factual_accuracy=no", "--set", "tone_appropriate=y", "--json")
            label = _json(result)
            assert label["values"]["helpfulness"] == int(helpfulness)
            assert label["values"]["policy_compliance"] is True and "candidate" not in label
        done = cli("review", "next", bid, "--reviewer", reviewer)
        assert done.exit_code == 0 and f"nothing left for {reviewer} in batch {bid}" in done.stdout
    assert _json(cli("review", "next", bid, "--reviewer", "chen", "--json"))["task"] is None  # overlap 2 reached

    status = _json(cli("review", "status", bid, "--json"))["batches"]
    assert [(s["batch_id"], s["done"], s["remaining"]) for s in status] == [(bid, 4, 0)]
    assert status[0]["reviewers"]["ana"]["submitted"] == 4
    table = cli("review", "status")
    assert table.exit_code == 0 and bid in table.stdout and "ana" in table.stdout

    out = tmp_path / "labels.csv"
    exported = cli("review", "export", bid, "--format", "csv", "--out", str(out))
    assert exported.exit_code == 0, exported.stderr
    assert "wrote 8 labels" in exported.stdout and out.read_text().count("\n") >= 9
    again = cli("review", "export", bid, "--format", "csv", "--out", str(out), "--force")
    assert again.exit_code == 0, again.stderr

    results = _json(cli("review", "results", bid, "--json"))
    assert json.loads(json.dumps(results)) == results
    text = cli("review", "results", bid)
    assert text.exit_code == 0 and "helpfulness" in text.stdout

    listed = _json(cli("review", "list", "--json"))["batches"]
    assert [b["id"] for b in listed] == [bid]
    assert bid in cli("review", "list").stdout


def test_pairwise_is_blind_and_takes_a_choice(cli, run: Path) -> None:
    batch = _enqueue(cli, "--kind", "pairwise", "--candidates", "lora-r16,base-zero-shot", "--n", "3")
    bid = batch["id"]
    assert batch["kind"] == "pairwise" and set(batch["candidates"]) == {"lora-r16", "base-zero-shot"}
    shown = cli("review", "next", bid, "--reviewer", "ana")
    assert shown.exit_code == 0, shown.stderr
    assert "output A (left)" in shown.stdout and "output B (right)" in shown.stdout
    assert "--choice left|right|tie" in shown.stdout
    task = _json(cli("review", "next", bid, "--reviewer", "ben", "--json"))["task"]
    assert [(o["label"], o["side"]) for o in task["outputs"]] == [("A", "left"), ("B", "right")]
    assert task["choices"] == ["left", "right", "tie"]
    for name in CANDIDATES:  # model names never reach the reviewer
        assert name not in shown.stdout and name not in json.dumps(task)
    label = _json(cli("review", "submit", task["item_id"], "--reviewer", "ben", "--choice", "tie", "--json"))
    assert label["values"] == {"choice": "tie"} and "winner" not in label
    retried = _json(cli("review", "submit", task["item_id"], "--reviewer", "ben", "--choice", "tie", "--json"))
    assert retried == label  # idempotent
    status = _json(cli("review", "status", bid, "--json"))["batches"][0]
    assert status["reviewers"]["ben"]["submitted"] == 1


def test_skip_and_bad_data(cli, run: Path, tmp_path: Path) -> None:
    bid = _enqueue(cli, "--candidates", "lora-r16", "--n", "2")["id"]
    task = _json(cli("review", "next", bid, "--reviewer", "ana", "--json"))["task"]
    skipped = cli("review", "skip", task["item_id"], "--reviewer", "ana")
    assert skipped.exit_code == 0 and f"skipped {task['item_id']} for ana" in skipped.stdout
    assert _json(cli("review", "status", bid, "--json"))["batches"][0]["reviewers"]["ana"]["skipped"] == 1
    following = _json(cli("review", "next", bid, "--reviewer", "ana", "--json"))["task"]
    assert following["item_id"] != task["item_id"]  # never offered the same item again
    bad = cli("review", "submit", following["item_id"], "--reviewer", "ana", "--set", "helpfulness=9",
              "--set", "policy_compliance=yes", "--set", "factual_accuracy=yes", "--set", "tone_appropriate=yes")
    assert bad.exit_code != 0 and "helpfulness" in bad.stderr and "1 to 5" in bad.stderr
    unclaimed = cli("review", "submit", task["item_id"], "--reviewer", "ben", "--set", "helpfulness=3")
    assert unclaimed.exit_code != 0 and "error:" in unclaimed.stderr
    unknown = cli("review", "status", "rb-00000000")
    assert unknown.exit_code != 0 and "rb-00000000" in unknown.stderr
    assert cli("review", "next", "rb-00000000", "--reviewer", "ana").exit_code != 0


def test_import_labels_done_elsewhere(cli, run: Path, tmp_path: Path) -> None:
    source = _enqueue(cli, "--candidates", "lora-r16", "--n", "2")["id"]
    for _ in range(2):
        task = _json(cli("review", "next", source, "--reviewer", "ana", "--json"))["task"]
        cli("review", "submit", task["item_id"], "--reviewer", "ana", "--set", "helpfulness=5", "--set",
            "policy_compliance=yes", "--set", "factual_accuracy=yes", "--set", "tone_appropriate=yes")
    out = tmp_path / "labels.jsonl"
    assert cli("review", "export", source, "--format", "jsonl", "--out", str(out)).exit_code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2
    target = _enqueue(cli, "--candidates", "lora-r16", "--n", "2")["id"]
    for row in rows:  # the same examples in a second batch: relabel the rows with its item ids
        row["item_id"] = row["item_id"].replace(source, target)
        row["batch_id"] = target
    relabelled = tmp_path / "elsewhere.jsonl"
    relabelled.write_text("".join(json.dumps(r) + "\n" for r in rows))
    imported = cli("review", "import", target, str(relabelled))
    assert imported.exit_code == 0, imported.stderr
    assert "imported 2 labels" in imported.stdout
    assert _json(cli("review", "status", target, "--json"))["batches"][0]["done"] == 2


def test_review_help_imports_no_heavy_library() -> None:
    import subprocess
    import sys

    heavy = ("torch", "transformers", "pandas", "scipy", "sqlalchemy", "sklearn", "statsmodels", "krippendorff")
    commands = ["enqueue", "next", "submit", "skip", "status", "export", "import", "results", "list"]
    code = ("import sys\nfrom harness.cli import run\nrun(['review', '--help'])\n"
            f"for c in {commands!r}:\n    run(['review', c, '--help'])\n"
            f"print('HEAVY=' + ','.join(m for m in {heavy!r} if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.rstrip().endswith("HEAVY="), f"heavy modules imported: {out.stdout[-300:]}"


# --- harness compare shows the human results of a reviewed run --------------------------------------


def test_compare_adds_human_results(cli, run: Path, workspace_dir: Path) -> None:
    before = _json(cli("compare", RUN_ID, "--json"))
    assert before["human"] == []
    assert not (workspace_dir / "harness.db").exists()  # comparing alone creates no database
    plain = cli("compare", RUN_ID)
    assert plain.exit_code == 0 and "human review" not in plain.stdout

    from harness.review.simulate import simulate_reviews
    from harness.workspace import Workspace

    bid = _enqueue(cli, "--kind", "pairwise", "--candidates", "lora-r16,base-zero-shot", "--n", "12",
                   "--overlap", "3")["id"]
    ws = Workspace.open(workspace_dir)
    assert simulate_reviews(ws.engine, bid, noise=0.1) == 36
    ws.close()
    after = _json(cli("compare", RUN_ID, "--json"))
    assert {k: v for k, v in after.items() if k != "human"} == {k: v for k, v in before.items() if k != "human"}
    [human] = after["human"]
    assert human["batch_id"] == bid and human["kind"] == "pairwise" and human["n_labels"] == 36
    assert human["best_candidate"] == "lora-r16"
    text = cli("compare", RUN_ID)
    assert text.exit_code == 0 and "human review" in text.stdout and bid in text.stdout
    assert text.stdout.startswith(plain.stdout.rstrip("\n").split("\n")[0])  # the comparison itself comes first
    other = _json(cli("compare", f"{RUN_ID}:base-few-shot", f"{RUN_ID}:base-zero-shot", "--json"))
    assert [h["batch_id"] for h in other["human"]] == [bid]  # RUN:candidate sources name the run too
