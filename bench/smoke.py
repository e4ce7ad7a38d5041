"""What the benches' --smoke runs share: a throwaway directory for their data and a PostgreSQL
database created on demand.

A smoke run (as .ci/run makes it) uses tiny sizes and short durations, checks no budget and still
goes through the real code path and prints its figures, so that a bench cannot rot unnoticed.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path


def throwaway_dir(name: str) -> Path:
    """A new empty directory, removed when the process exits: a fresh database every run."""
    path = Path(tempfile.mkdtemp(prefix=f"minerwatch-bench-{name}-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def create_postgres_database(database_url: str) -> None:
    """Create the database `database_url` names unless it exists (the server must be up)."""
    import dj_database_url
    import psycopg

    params = dj_database_url.parse(database_url)
    with psycopg.connect(
        host=params["HOST"] or "127.0.0.1",
        port=params["PORT"] or 5432,
        user=params["USER"] or "postgres",
        password=params["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [params["NAME"]]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{params["NAME"]}"')
