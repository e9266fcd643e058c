"""``harness ab serve CONFIG.yaml``: run the A/B gateway (an OpenAI-compatible splitting server)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.commands._common import WorkspaceOption, err_console, open_workspace


def serve(
    config_file: Annotated[Path, typer.Argument(help="Gateway YAML: experiment, control, variants "
                                                "{name: {model | base_url+model, weight, timeout_s}}.")],
    host: Annotated[str, typer.Option("--host", help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8700,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
    workspace: WorkspaceOption = None,
) -> None:
    """Serve POST /v1/chat/completions split between the experiment's variants, with fallback and feedback."""
    import uvicorn

    from harness.ab.gateway.app import create_app
    from harness.ab.gateway.config import load_config
    from harness.errors import ConfigError

    if not 0 < port < 65536:
        raise ConfigError(f"--port: expected 1-65535, got {port}")
    config = load_config(config_file)
    ws = open_workspace(workspace)
    app = create_app(config, ws, freeze_gc=True)
    if host not in ("127.0.0.1", "localhost", "::1") and not config.api_key_env:
        err_console().print(f"[yellow]warning:[/] serving on {host} without an API key (set api_key_env)")
    err_console().print(f"gateway for experiment {config.experiment!r} on http://{host}:{port}/v1 "
                        f"(variants: {', '.join(config.variants)}; control {config.control})")
    try:
        # no access log (a line per request costs the event loop more than the rest of the gateway);
        # http/loop "auto": httptools and uvloop when installed (uvicorn[standard]), else h11 and asyncio
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False, http="auto", loop="auto")
    finally:
        ws.close()
