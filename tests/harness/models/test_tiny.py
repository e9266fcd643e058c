"""The tiny-model cache: a failed or killed build leaves no staging folder behind."""

from __future__ import annotations

import pytest

import harness.models.tiny as tiny


def _fake_build(folder, **_kwargs):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "tokenizer.json").write_text("{}")


def test_failed_build_is_removed_and_stale_staging_is_cleaned(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path))

    def broken(folder, **_kwargs):
        folder.mkdir(parents=True)
        (folder / "half-written").write_text("x")
        raise RuntimeError("out of memory")

    monkeypatch.setattr(tiny, "build_tiny_model", broken)
    with pytest.raises(RuntimeError):
        tiny.cached_tiny_model(texts=["hello world"])
    assert not list(tmp_path.glob("tiny-*.building-*"))

    monkeypatch.setattr(tiny, "build_tiny_model", _fake_build)
    # A builder killed by SIGKILL cannot clean up: its folder stays until the next build under the lock.
    built = tiny.cached_tiny_model(texts=["hello world"])
    stale = built.with_name(built.name + ".building-999999")
    stale.mkdir()
    import shutil

    shutil.rmtree(built)
    rebuilt = tiny.cached_tiny_model(texts=["hello world"])
    assert rebuilt == built and (rebuilt / "config.json").exists()
    assert not stale.exists()
