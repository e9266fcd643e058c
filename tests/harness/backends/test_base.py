"""Backend capabilities: suite validation and model resolution read them, not backend names."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.backends.base import BackendCapabilities, backend_capabilities, register_backend
from harness.errors import ConfigError
from harness.runs.resolve import resolve_candidate
from harness.runs.suite import Suite


class _Remote:
    name = "remote-test"
    capabilities = BackendCapabilities(local_models=False, adapters=False, needs_base_url=True)


class _Local:
    name = "local-test"  # declares nothing: the defaults (local models, adapters, no server)


register_backend("remote-test", _Remote)
register_backend("local-test", _Local)


def _suite(**candidate) -> Suite:
    return Suite(name="s", datasets={"test": "t.jsonl"}, candidates=[{"name": "c", **candidate}])


def test_builtin_capabilities() -> None:
    assert backend_capabilities("openai") == BackendCapabilities(local_models=False, adapters=False,
                                                                 needs_base_url=True)
    assert backend_capabilities("transformers") == BackendCapabilities()
    assert backend_capabilities("vllm") == BackendCapabilities()
    assert backend_capabilities("local-test") == BackendCapabilities()


def test_suite_validation_follows_the_declared_capabilities() -> None:
    with pytest.raises(ConfigError, match="backend 'remote-test' needs base_url"):
        _suite(model="m", backend="remote-test")
    with pytest.raises(ConfigError, match="backend 'remote-test' cannot load an adapter"):
        _suite(model="m", backend="remote-test", base_url="http://127.0.0.1:1/v1", adapter="a")
    _suite(model="m", backend="local-test", adapter="a")  # a local backend may take an adapter


def test_model_names_resolve_only_for_backends_with_local_models(tiny_model_dir: Path) -> None:
    remote = _suite(model="tiny", backend="remote-test", base_url="http://127.0.0.1:1/v1")
    assert resolve_candidate(remote, remote.candidates[0], None, 0).spec.model == "tiny"
    local = _suite(model="tiny", backend="local-test")
    assert resolve_candidate(local, local.candidates[0], None, 0).spec.model == str(tiny_model_dir)
