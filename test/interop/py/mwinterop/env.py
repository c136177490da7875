"""Where the interop environment lives (venv, jars, scratch space) and how a script keeps its
stdout for JSON lines only. Imports no engine, so every script can use it first."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import TextIO

# test/interop/py/mwinterop/env.py -> repository root is four levels up.
REPO_ROOT = Path(__file__).resolve().parents[4]
CACHE_DIR = REPO_ROOT / ".cache"


def spark_jars_dir() -> Path:
    return Path(os.environ.get("MWLAKE_SPARK_JARS", CACHE_DIR / "spark-jars"))


def spark_jars() -> list[Path]:
    jars = sorted(spark_jars_dir().glob("*.jar"))
    if not jars:
        raise RuntimeError(f"no Spark jars in {spark_jars_dir()}; run bash scripts/setup-python.sh")
    return jars


def duckdb_extension_dir() -> Path:
    """The folder the duckdb-ext-* wheels install into: <site-packages>/duckdb_ext/extensions,
    laid out as DuckDB's extension_directory (v<version>/<platform>/<name>.duckdb_extension)."""
    import duckdb_ext  # namespace package created by the duckdb-ext-* wheels

    for base in duckdb_ext.__path__:
        candidate = Path(base) / "extensions"
        if candidate.is_dir():
            return candidate
    raise RuntimeError("duckdb_ext/extensions not found; run bash scripts/setup-python.sh")


def scratch_dir() -> Path:
    """A per-process scratch folder (Spark local dir, warehouse dir, derby home)."""
    path = Path(tempfile.mkdtemp(prefix="mwlake-interop-"))
    return path


def claim_stdout() -> TextIO:
    """Returns a writer on the real stdout and points fd 1 at stderr, so anything a library or a
    child JVM prints cannot corrupt the JSON lines."""
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out
