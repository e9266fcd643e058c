"""An unknown metric named in a suite stops `harness eval` before any model, dataset or workspace is touched."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.parametrize(("metrics", "words"), [
    ("[exact_match, rouge_xl]", ["metrics[1]: unknown metric 'rouge_xl'", "available metrics:", "rougeL"]),
    ("[{exact_match: {ignore_cas: true}}]", ["metrics[0]", "ignore_cas"]),
])
def test_unknown_metric_stops_eval_before_generation(cli, monkeypatch, tmp_path: Path, workspace_dir: Path,
                                                     metrics, words) -> None:
    import harness.backends.base as backends

    def no_backend(*_a, **_k):
        raise AssertionError("a backend was created")

    monkeypatch.setattr(backends, "create_backend", no_backend)
    data = tmp_path / "test.jsonl"
    data.write_text('{"id": "1", "messages": [{"role": "user", "content": "hi"}, '
                    '{"role": "assistant", "content": "hello"}]}\n')
    suite = tmp_path / "suite.yaml"
    # the candidate's model does not exist either: the metric error must come first
    suite.write_text(f"name: s\ndatasets: {{test: {data}}}\ncandidates:\n  - {{name: a, model: ./no-such-model}}\n"
                     f"metrics: {metrics}\n")
    result = cli("eval", suite)
    assert result.exit_code == 2, result.stderr
    for word in words:
        assert word in result.stderr
    assert "no-such-model" not in result.stderr and "internal error" not in result.stderr
    assert not workspace_dir.exists()  # nothing was opened, created or generated
