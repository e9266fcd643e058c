"""Fuzz the gateway config reader (harness.ab.gateway.config.load_config) and what `harness ab serve` derives
from a config before serving (weights, salt, API key, assignment, the router).

Properties: arbitrary bytes, and YAML/JSON configs of the right shape with wrong values never raise
anything but HarnessError; no file in the config's folder changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.ab.assignment import assign
from harness.ab.gateway.config import load_config
from harness.ab.gateway.routing import Router
from tests.fuzz.strategies import (
    YAML_SNIPPETS,
    dump_json,
    dump_yaml,
    files_unchanged,
    fuzz_settings,
    hostile_bytes,
    only_harness_errors,
    scratch,
    wrong_documents,
)

VALID: dict[str, Any] = {
    "experiment": "extract-lora", "control": "base", "salt": "s1", "api_key_env": "FUZZ_GATEWAY_KEY",
    "description": "fuzz", "allow_client_time": True,
    "prompt": {"system": "Be brief.", "few_shot": [{"user": "2+2?", "assistant": "4"}]},
    "generation": {"max_new_tokens": 32, "temperature": 0.0},
    "circuit_breaker": {"failures": 3, "cooldown_s": 10},
    "variants": {
        "base": {"model": "org/tiny-model", "weight": 0.5, "device": "cpu"},
        "candidate": {"model": "served", "base_url": "http://127.0.0.1:9/v1", "weight": 0.5, "timeout_s": 5,
                      "api_key_env": "FUZZ_UPSTREAM_KEY", "pricing": {"prompt": 0.1, "completion": 0.2},
                      "generation": {"max_new_tokens": 8}}},
}
documents = wrong_documents(VALID, max_mutations=4)
config_files = st.one_of(documents.map(dump_yaml), documents.map(dump_json),
                         hostile_bytes(st.one_of(documents.map(dump_yaml), st.sampled_from(YAML_SNIPPETS))))


def use_config(path: Path) -> None:
    """Load the config and derive what the gateway needs before it serves."""
    config = load_config(path)
    config.model_dump_json()
    weights = config.weights
    for unit in ("u1", "\u00e9", "x" * 300):
        assign(unit, config.assignment_salt, weights, order=list(config.variants))
    Router(config, None).close()
    config.api_key()  # FUZZ_GATEWAY_KEY is not set: a ConfigError naming it, unless a mutation removed it


@fuzz_settings(150)
@given(content=config_files)
def test_gateway_config_files(content: str | bytes) -> None:
    with scratch() as folder:
        path = folder / "gateway.yaml"
        path.write_bytes(content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content)
        with files_unchanged(folder):
            only_harness_errors(lambda: use_config(path))


@pytest.mark.parametrize(("text", "message"), [
    pytest.param("experiment: " + "9" * 4400 + "\n", "invalid YAML: Exceeds the limit", id="int-over-4300-digits"),
    pytest.param("variants: " + "{a: " * 1100 + "1" + "}" * 1100 + "\n", "invalid YAML: nested too deeply",
                 id="nested-1100-deep"),
    pytest.param('experiment: "x\\udfff"\n', "experiment holds a lone surrogate", id="lone-surrogate"),
    pytest.param("a: &a [*a]\n", "unknown field", id="recursive-alias"),
])
def test_inputs_found_by_fuzzing(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(text, encoding="utf-8")
    error = only_harness_errors(lambda: use_config(path))
    assert error is not None and message in error.message, error
