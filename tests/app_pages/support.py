"""What the page tests share: open the app on a workspace at a page (AppTest), read the charts back."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


def open_page(monkeypatch: pytest.MonkeyPatch, workspace: Path, page: str | None = None, *,
              timeout: float = 60):
    """Run ``app.py --workspace WORKSPACE`` in Streamlit's AppTest, switched to ``page`` (a script under
    ``app_pages/``) when given; asserts no exception and returns the AppTest."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setattr(sys, "argv", ["app.py", "--workspace", str(workspace)])
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.run()
    if page is not None:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def chart_data(at) -> list[tuple[dict, dict]]:
    """Each Vega-Lite chart of the page as ``(spec, {dataset name: DataFrame})``."""
    import pyarrow as pa

    return [(json.loads(chart.proto.spec),
             {d.name: pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets})
            for chart in at.get("vega_lite_chart")]
