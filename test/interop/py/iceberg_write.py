#!/usr/bin/env python3
"""Writes the sample format-version-2 table (see mwinterop/sample.py) with PyIceberg or Spark and
prints one canonical JSON line: the table location, the current metadata file, the refs, and per
snapshot its id, operation and the rows it must read back as (canonical form of README.md).

Usage:
  iceberg_write.py --engine pyiceberg|spark --warehouse DIR --table ns.name
PyIceberg uses a SQLite SqlCatalog stored in DIR and puts the table at DIR/ns/name (metadata
files named NNNNN-<uuid>.metadata.json, no version-hint.text: readers need the metadata file).
Spark uses a Hadoop catalog on DIR (vN.metadata.json plus version-hint.text) and deletes with
merge-on-read, so the delete snapshot adds position delete files. Exit status 0 or 1.
"""

from __future__ import annotations

import argparse
import sys
import time

from mwinterop.env import claim_stdout


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", required=True, choices=["pyiceberg", "spark"])
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--table", required=True, help="namespace.name")
    args = parser.parse_args(argv)
    if "." not in args.table:
        parser.error("--table must be namespace.name")
    out = claim_stdout()

    from mwinterop import sample
    from mwinterop.canonical import dumps
    from mwinterop.engines import EnginePool

    pool = EnginePool()
    try:
        started = time.monotonic()
        if args.engine == "pyiceberg":
            result = sample.write_pyiceberg(args.warehouse, args.table)
        else:
            result = sample.write_spark(pool.get("spark"), args.warehouse, args.table)
        result["elapsedMs"] = round((time.monotonic() - started) * 1000)
        for info in pool.started:
            out.write(dumps({"kind": "engine", **info}) + "\n")
        out.write(dumps(result) + "\n")
        return 0
    finally:
        pool.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
