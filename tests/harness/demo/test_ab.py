"""The demo's A/B stage: simulate, store, analyse and report the decision."""

from __future__ import annotations

import io
import re
from pathlib import Path

from rich.console import Console

from harness.demo import DemoContext
from harness.demo.ab import EXPERIMENT, stage
from harness.workspace import Workspace


def test_demo_stage_ships_the_winning_candidate(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws")
    out = io.StringIO()
    ctx = DemoContext(workspace=ws, out_dir=ws.folder("demo"), console=Console(file=out, width=140), fast=True,
                      models={"lora-extract": tmp_path / "lora"})
    stage(ctx)
    text = out.getvalue()
    assert "base vs lora-extract" in text  # the trained candidate is the treatment arm
    assert "decision: ship" in text and "task_completed" in text
    label, value = ctx.summary[-1]
    assert label == "A/B decision" and value.startswith("ship")
    assert ctx.ab_report is not None and ctx.ab_report["srm"]["flag"] is False
    stage(ctx)  # rerunning replaces the experiment instead of failing
    from harness.store.ab import list_experiments

    assert [e.name for e in list_experiments(ws.engine)] == [EXPERIMENT]


def test_without_a_trained_model_the_treatment_is_called_candidate(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws")
    out = io.StringIO()
    ctx = DemoContext(workspace=ws, out_dir=ws.folder("demo"), console=Console(file=out, width=140), fast=True)
    stage(ctx)
    assert "base vs candidate" in out.getvalue()


def test_after_training_the_ab_test_runs_through_the_gateway(tmp_path: Path, tiny_model_dir: Path,
                                                           tiny_lora_dir: Path, extract_files) -> None:
    """A real gateway on the tiny model: every replayed request is an event with its judged outcome."""
    import yaml

    from harness.demo.ab import FAST_USERS, GATEWAY_EXPERIMENT, REQUESTS_PER_USER
    from harness.store.gateway import outcomes, requests

    ws = Workspace.open(tmp_path / "ws")
    out = io.StringIO()
    ctx = DemoContext(workspace=ws, out_dir=ws.folder("demo"), console=Console(file=out, width=160), fast=True,
                      models={"lora-extract": tiny_lora_dir}, base_model=str(tiny_model_dir),
                      splits={"extract": extract_files})
    stage(ctx)
    text = out.getvalue()
    config = yaml.safe_load((ctx.out_dir / "gateway.yaml").read_text())
    assert config["variants"]["base"]["model"] == str(tiny_model_dir)
    assert len(config["variants"]["base"]["prompt"]["few_shot"]) == 6  # 3 shots: user + assistant turns
    assert config["variants"]["lora-extract"]["model"] == str(tiny_lora_dir)  # not registered: the folder
    n = FAST_USERS * REQUESTS_PER_USER
    rows = requests(ws.engine, GATEWAY_EXPERIMENT)
    assert len(rows) == n and {r.variant for r in rows} == {"base", "lora-extract"}
    assert all(r.status == "ok" for r in rows), [r for r in rows if r.status != "ok"][:3]
    judged = outcomes(ws.engine, GATEWAY_EXPERIMENT)
    assert len(judged) == n and {o["name"] for o in judged} == {"resolved"}
    assert f"replayed {n} requests (0 errors, {n} judged)" in text
    label, value = ctx.summary[-1]
    assert label == "A/B decision"
    effect = r"[+-]\d\S*%, 95% CI \S+ to \S+|[+-]\d\S* absolute, 95% CI \S+ to \S+|not computable yet: \S+"
    assert re.fullmatch(rf"[a-z_]+ \(resolved ({effect}); SRM p = \d\.\d\d\)", value), value
    assert "nan" not in value
    assert value.split()[0] == ctx.ab_report["decision"]["action"]
    stage(ctx)  # a rerun starts the experiment afresh
    assert len(requests(ws.engine, GATEWAY_EXPERIMENT)) == n
