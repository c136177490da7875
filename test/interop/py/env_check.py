#!/usr/bin/env python3
"""Checks the interop venv without starting Spark: every pinned package imports, and DuckDB loads
its iceberg and avro extensions from the duckdb-ext-* wheels with downloads made impossible.
Prints one JSON line {"kind": "env", ...}; exit status 0 when all checks pass, 1 otherwise.

Usage: env_check.py [--spark]     (--spark also starts a Spark session with the Iceberg runtime)
"""

from __future__ import annotations

import importlib.metadata as md
import sys
import traceback

from mwinterop.env import claim_stdout

PACKAGES = ["pyiceberg", "pyiceberg-core", "pyarrow", "duckdb", "duckdb-ext-iceberg", "duckdb-ext-avro", "pyspark", "py4j", "mwxml", "mwtypes", "sqlalchemy"]


def main(argv: list[str]) -> int:
    out = claim_stdout()
    from mwinterop.canonical import dumps

    result: dict[str, object] = {"kind": "env", "python": sys.version.split()[0], "executable": sys.executable, "errors": []}
    errors: list[str] = result["errors"]  # type: ignore[assignment]
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            versions[name] = None
            errors.append(f"package {name} is not installed")
    result["versions"] = versions
    # Everything installed, so a test can compare the venv with the lock file exactly.
    result["installed"] = {dist.metadata["Name"]: dist.version for dist in md.distributions()}

    for module in ("pyiceberg.table", "pyiceberg.catalog.sql", "pyiceberg_core", "pyarrow.parquet", "duckdb", "pyspark.sql", "mwxml"):
        try:
            __import__(module)
        except Exception as error:
            errors.append(f"import {module}: {type(error).__name__}: {error}")

    from mwinterop.engines import EnginePool

    pool = EnginePool()
    try:
        engines = ["pyiceberg", "duckdb"] + (["spark"] if "--spark" in argv else [])
        for name in engines:
            try:
                pool.get(name)
            except Exception as error:
                traceback.print_exc(file=sys.stderr)
                errors.append(f"{name}: {type(error).__name__}: {error}")
        result["engines"] = pool.started
    finally:
        pool.close()
    out.write(dumps(result) + "\n")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
