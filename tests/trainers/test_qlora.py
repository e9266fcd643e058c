"""QLoRA needs a CUDA GPU and bitsandbytes: a clear error on CPU, a real run on a GPU."""

from __future__ import annotations

import pytest

from harness.errors import DependencyError
from tests.trainers.conftest import has_cuda
from trainers.api import train


@pytest.mark.skipif(has_cuda(), reason="checks the CPU error path")
def test_qlora_on_cpu_is_a_clear_dependency_error(make_config, tmp_path):
    with pytest.raises(DependencyError, match="needs a CUDA GPU") as info:
        train(make_config(name="q", method="qlora"), tmp_path, say=lambda _m: None)
    assert "method=lora" in str(info.value)


@pytest.mark.gpu
@pytest.mark.skipif(not has_cuda(), reason="QLoRA needs a CUDA GPU (bitsandbytes 4-bit)")
def test_qlora_trains_on_a_gpu(make_config, tmp_path):
    pytest.importorskip("bitsandbytes", reason="pip install bitsandbytes")
    record = train(make_config(name="q", method="qlora", max_steps=8, eval_steps=4), tmp_path, say=lambda _m: None)
    assert record.adapter and record.extra["device"] == "cuda"
    assert record.trainable_params < record.total_params
