"""An API key never travels over plain http except to a loopback address (issue 15, credentials)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.backends.base import BackendError, BackendSpec
from harness.backends.openai_backend import OpenAIBackend, api_key_env, check_key_transport, is_loopback


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("LOCALHOST", True), ("api.localhost", True), ("::ffff:127.0.0.1", True),
    ("128.0.0.1", False), ("10.0.0.5", False), ("0.0.0.0", False), ("example.com", False),
    ("localhost.example.com", False), ("127.0.0.1.nip.io", False), ("", False), (None, False),
])
def test_loopback_addresses(host, loopback) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(("url", "refused"), [
    ("http://example.com/v1", True),
    ("http://10.1.2.3:8000/v1", True),
    ("HTTP://Example.com/v1", True),
    ("http://127.0.0.1.nip.io/v1", True),
    ("https://example.com/v1", False),
    ("http://127.0.0.1:8000/v1", False),
    ("http://localhost:8000/v1", False),
    ("http://[::1]:8000/v1", False),
])
def test_a_key_over_plain_http_is_refused_unless_loopback(monkeypatch, url, refused) -> None:
    monkeypatch.setenv("TEST_KEY", "sk-secret")
    if refused:
        with pytest.raises(BackendError) as info:
            check_key_transport(url, "TEST_KEY")
        assert "$TEST_KEY" in info.value.message and "not a loopback address" in info.value.message
        assert "sk-secret" not in str(info.value)
        assert "https://" in (info.value.hint or "") and "unset TEST_KEY" in (info.value.hint or "")
    else:
        check_key_transport(url, "TEST_KEY")


def test_no_key_no_objection(monkeypatch) -> None:
    monkeypatch.delenv("TEST_KEY", raising=False)
    check_key_transport("http://example.com/v1", "TEST_KEY")
    monkeypatch.setenv("TEST_KEY", "")
    check_key_transport("http://example.com/v1", "TEST_KEY")
    monkeypatch.setenv("TEST_KEY", "sk")
    check_key_transport("http://example.com/v1", None)


def test_which_variable_is_read() -> None:
    assert api_key_env({}) == "OPENAI_API_KEY"
    assert api_key_env({"api_key_env": "MY_KEY"}) == "MY_KEY"
    assert api_key_env({"api_key_env": None}) is None and api_key_env({"api_key_env": ""}) is None


def test_the_backend_refuses_before_any_request(monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-default")
    with pytest.raises(BackendError, match=r"\$OPENAI_API_KEY"):
        OpenAIBackend(BackendSpec(model="m", base_url="http://example.com/v1"))
    with pytest.raises(BackendError, match="options.fallback_base_url"):
        OpenAIBackend(BackendSpec(model="m", base_url="https://example.com/v1",
                                  options={"fallback_base_url": "http://backup.example.com/v1"}))
    local = OpenAIBackend(BackendSpec(model="m", base_url="http://127.0.0.1:8000/v1"))
    assert local._client.headers["authorization"] == "Bearer sk-default"
    local.close()
    keyless = OpenAIBackend(BackendSpec(model="m", base_url="http://example.com/v1", options={"api_key_env": None}))
    assert "authorization" not in keyless._client.headers
    keyless.close()


def test_harness_eval_refuses_before_generation(cli, monkeypatch, tmp_path: Path, workspace_dir: Path) -> None:
    import httpx

    def no_request(*_a, **_k):
        raise AssertionError("a request was sent")

    monkeypatch.setattr(httpx.Client, "post", no_request)
    monkeypatch.setenv("HOSTED_KEY", "sk-secret")
    data = tmp_path / "test.jsonl"
    data.write_text('{"id": "1", "messages": [{"role": "user", "content": "hi"}, '
                    '{"role": "assistant", "content": "hello"}]}\n')
    suite = tmp_path / "suite.yaml"
    suite.write_text(f"name: s\ndatasets: {{test: {data}}}\ncandidates:\n"
                     "  - {name: local, backend: openai, model: m, base_url: 'http://127.0.0.1:9/v1'}\n"
                     "  - {name: hosted, backend: openai, model: m, base_url: 'http://api.example.com/v1',\n"
                     "     options: {api_key_env: HOSTED_KEY}}\n"
                     "metrics: [exact_match]\n")
    result = cli("eval", suite)
    assert result.exit_code == 2, result.stderr
    assert "candidates[1]" in result.stderr and "$HOSTED_KEY" in result.stderr and "api.example.com" in result.stderr
    assert "sk-secret" not in result.stderr + result.stdout
    assert not (workspace_dir / "runs").exists() or not any((workspace_dir / "runs").iterdir())
