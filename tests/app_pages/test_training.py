"""The Training and data page, through Streamlit's AppTest, on the demo workspace and on planted ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.app_pages.support import open_page

REPO = Path(__file__).resolve().parents[2]
PAGE = "app_pages/training.py"


def charts(at) -> list[tuple[dict, dict]]:
    """Each Altair chart on the page as (spec, {dataset name: DataFrame})."""
    import pyarrow as pa

    out = []
    for chart in at.get("vega_lite_chart"):
        datasets = {d.name: pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets}
        out.append((json.loads(chart.proto.spec), datasets))
    return out


def layer_data(spec: dict, datasets: dict, mark: str):
    """The data of the first layer with ``mark`` (a mark type), or of the chart itself."""
    layers = spec.get("layer", [spec])
    layer = next(x for x in layers if (x["mark"]["type"] if isinstance(x["mark"], dict) else x["mark"]) == mark)
    return datasets[(layer.get("data") or spec["data"])["name"]]


@pytest.fixture(scope="module")
def demo_ws(demo_workspace) -> Path:
    assert demo_workspace.result.exit_code == 0, demo_workspace.result.stderr[-2000:]
    return demo_workspace.path


def test_demo_model_curves_lineage_and_data(monkeypatch: pytest.MonkeyPatch, demo_ws: Path) -> None:
    from harness.report.data import data_report
    from harness.report.training import model_curve, model_record
    from harness.workspace import Workspace

    record = model_record(Workspace.open_read_only(demo_ws).engine, "lora-extract")
    curve = model_curve(record)
    at = open_page(monkeypatch, demo_ws, PAGE)

    picker = at.selectbox(key="training_model")
    assert picker.label == "Model" and picker.options == ["lora-extract"] and picker.value == "lora-extract"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Best validation loss"] == f"{curve.best_val_loss:.4f}"
    assert metrics["Stopped at step"] == str(record.steps)
    assert metrics["Overfitting"] == ("yes" if curve.overfitting.flagged else "no")

    # the loss chart: train and validation points, a rule at the best validation step
    spec, data = charts(at)[0]
    points = layer_data(spec, data, "line")
    assert sorted(points["split"].unique()) == ["train", "validation"]
    assert len(points) == len(curve.train) + len(curve.val)
    assert layer_data(spec, data, "rule")["step"].tolist() == [curve.best_step]

    # the lineage
    lineage = next(df.value for df in at.dataframe if list(df.value.columns) == ["section", "field", "value"])
    values = dict(zip(lineage["field"], lineage["value"], strict=True))
    recorded = json.loads((demo_ws / "models" / "lora-extract" / "lineage.json").read_text())
    assert values["base model"] == "tiny" and values["git commit"] == (recorded["git_commit"] or "-")
    assert values["train_file sha256"] == recorded["dataset_hashes"]["train_file"]

    # the data report of the recorded training file
    assert at.selectbox(key="training_data_file").value == "train_file"
    report = data_report(record.config["train_file"])
    assert metrics["Examples"] == f"{report.examples:,}"
    assert metrics["Exact duplicates"] == str(report.exact_duplicates)
    assert any("sha256 matches" in c.value for c in at.caption)
    assert at.selectbox(key="training_category_field").value == "category"
    bars = [layer_data(s, d, "bar") for s, d in charts(at)[1:3]]
    category_counts = report.categories_frame("category").set_index("value")["count"].to_dict()
    assert bars[0].set_index("value")["count"].to_dict() == category_counts
    assert bars[1]["count"].sum() == report.examples  # the user-token histogram holds every example

    # coverage vs a production sample (the bundled extract test set)
    at.text_input(key="training_production_path").input(str(REPO / "evalsets/extract/test.jsonl")).run()
    assert not at.exception, at.exception
    assert any("training covers the" in s.value for s in at.success)
    shares = layer_data(*charts(at)[-1], "bar")
    assert set(shares["sample"]) == {"training", "production"}

    at.text_input(key="training_production_path").input("no/such/file.jsonl").run()
    assert not at.exception and "not found" in at.error[0].value


def test_planted_model_warns_of_overfitting_and_a_missing_data_file(monkeypatch: pytest.MonkeyPatch,
                                                                    demo_ws: Path, tmp_path: Path) -> None:
    from harness.store.models import ModelRecord, register_model
    from harness.workspace import Workspace
    from tests.conftest import copy_workspace

    ws_path = copy_workspace(demo_ws, tmp_path / "ws")
    folder = ws_path / "models" / "planted"
    folder.mkdir(parents=True)
    rows = [{"step": s, "train_loss": round(1.1 - 0.1 * s, 2)} for s in range(1, 11)]
    rows += [{"step": s, "val_loss": v} for s, v in ((2, 0.9), (4, 0.7), (6, 0.8), (8, 0.9), (10, 1.0))]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    gone = tmp_path / "deleted-train.jsonl"
    register_model(Workspace.open(ws_path, create=False).engine, ModelRecord(
        name="planted", path=str(folder), base_model="tiny", method="lora", adapter=True,
        config={"train_file": str(gone), "max_steps": 10}, dataset_hashes={"train_file": "f" * 64}, steps=10))

    at = open_page(monkeypatch, ws_path, PAGE)
    assert set(at.selectbox(key="training_model").options) == {"planted", "lora-extract"}
    at.selectbox(key="training_model").select("planted").run()
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["Overfitting"] == "yes"
    warnings = [w.value for w in at.warning]
    assert any(w.startswith("overfitting: validation loss rose 42.9% since step 4") for w in warnings)
    assert f"train_file was {gone} (sha256 ffffffffffff...); that file is not here any more" in warnings
    spec, data = charts(at)[0]
    assert layer_data(spec, data, "rule")["step"].tolist() == [4.0]


def test_empty_state_shows_the_train_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from harness.report.training import TRAIN_COMMAND
    from harness.workspace import Workspace

    assert Workspace.open(tmp_path / "ws").engine is not None  # a database with no models yet
    at = open_page(monkeypatch, tmp_path / "ws", PAGE)
    assert "No trained models are registered" in at.info[0].value
    assert [c.value for c in at.code] == [TRAIN_COMMAND] == ["harness train trainers/configs/lora-extract.yaml"]
    assert not at.selectbox and not at.get("vega_lite_chart")


def test_no_database_shows_the_train_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from harness.report.training import TRAIN_COMMAND

    at = open_page(monkeypatch, tmp_path / "nothing-here", PAGE)
    assert [c.value for c in at.code] == [TRAIN_COMMAND]
