"""The A/B traffic gateway: an OpenAI-compatible server that splits requests between variants.

``config`` (the YAML contract), ``routing`` (backends, timeouts, fallback, circuit breaker),
``events`` (what is written to the store), ``app`` (the FastAPI app, :func:`app.create_app`).
Nothing here is imported by ``harness --help``: FastAPI and the backends load lazily.
"""
