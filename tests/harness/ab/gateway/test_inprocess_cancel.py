"""The in-process (transformers) backend stops generating when the gateway gives up on a request."""

from __future__ import annotations

from pathlib import Path

from harness.backends.base import BackendSpec, GenerationRequest, GenerationSettings


def test_should_stop_ends_a_real_generation_at_the_next_token(tiny_model_dir: Path) -> None:
    from harness.backends.transformers_backend import TransformersBackend

    settings = GenerationSettings(max_new_tokens=40, temperature=1.0, seed=3)  # sampled: no early EOS
    backend = TransformersBackend(BackendSpec(model=str(tiny_model_dir), settings=settings,
                                              options={"device": "cpu"}))
    request = [GenerationRequest(id="r", messages=({"role": "user", "content": "Tell me a long story"},))]
    calls = []

    def stop_after_three() -> bool:
        calls.append(1)
        return len(calls) >= 3

    full = backend.generate(request)[0]
    backend.should_stop = stop_after_three
    cut = backend.generate(request)[0]
    backend.should_stop = None
    assert full.completion_tokens > 10  # the same request runs long without the hook ...
    assert cut.completion_tokens <= 4 and cut.finish_reason == "length"  # ... and stops at once with it
    assert len(calls) == 3
    again = backend.generate(request)[0]  # the hook is per request: unset, the model runs to the end again
    assert again.completion_tokens == full.completion_tokens
