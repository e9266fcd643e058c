"""A throwaway PostgreSQL server for tests, started when the server binaries exist (skipped otherwise).

A test module declares its own fixture over :func:`running_postgres` (so the server lives as long
as the module's tests) and creates empty databases on it with :func:`new_database`::

    @pytest.fixture(scope="module")
    def postgres_url() -> Iterator[str]:
        with running_postgres() as url:
            yield url
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# where Debian's postgresql package puts the server binaries (not on PATH); the newest version wins
PG_BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), default=Path("/usr/lib/postgresql/15/bin"),
             key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_postgres() -> Iterator[str]:
    """Start a PostgreSQL server (trust auth, user ``postgres``) and yield its URL; calls ``pytest.skip``
    when the binaries or the driver are missing. The server and its files are gone on exit."""
    initdb = shutil.which("initdb") or str(PG_BIN / "initdb")
    pg_ctl = shutil.which("pg_ctl") or str(PG_BIN / "pg_ctl")
    if not (os.path.exists(initdb) and os.path.exists(pg_ctl)):
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    pytest.importorskip("psycopg", reason="install the 'postgres' extra for the PostgreSQL driver")
    run_as: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        if not shutil.which("runuser"):
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        run_as = ["runuser", "-u", "postgres", "--"]
    # not under pytest's tmp folder: that one is private to root, and the server runs as postgres
    data = Path(tempfile.mkdtemp(prefix="harness-pg-"))
    if run_as:
        shutil.chown(data, "postgres")
    port = _free_port()
    subprocess.run([*run_as, initdb, "-D", str(data / "db"), "-A", "trust", "-U", "postgres"],
                   check=True, capture_output=True)
    subprocess.run([*run_as, pg_ctl, "-D", str(data / "db"), "-w", "-l", str(data / "log"),
                    "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*run_as, pg_ctl, "-D", str(data / "db"), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


def new_database(server_url: str, name: str) -> str:
    """Create an empty database ``name`` on the test server (dropping an old one); returns its URL."""
    from sqlalchemy import create_engine, text

    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"
