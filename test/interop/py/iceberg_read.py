#!/usr/bin/env python3
"""Reads Iceberg tables with PyIceberg, DuckDB (iceberg extension) or Spark and prints one
canonical JSON line per read, so tests can compare every engine with what mwlake wrote.

Usage (see README.md beside this file for the full request and output format):
  iceberg_read.py --engine duckdb --table /wh/ns/t [--metadata-file F]
                  [--snapshot-id N | --as-of-ms N | --ref NAME] [--each snapshot|timestamp]
  iceberg_read.py --request req.json        # or the JSON request on stdin
A request holds {"engine"?, "writes"?: [...], "reads": [...]}; one process serves them all, so
Spark starts at most once. The exit status is 0 when every write and read succeeded, 1 when any
failed (the failure is still printed as a line), 64 for a malformed request.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from typing import Any, TextIO

from mwinterop.env import claim_stdout


def parse_args(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", help="pyiceberg | duckdb | spark (comma-separated for several)")
    parser.add_argument("--table", help="table root: a path or file:// URI")
    parser.add_argument("--metadata-file", help="open this metadata file instead of following version-hint.text")
    parser.add_argument("--snapshot-id")
    parser.add_argument("--as-of-ms", help="read the snapshot current at this time (epoch ms)")
    parser.add_argument("--ref", help="branch or tag name")
    parser.add_argument("--each", choices=["snapshot", "timestamp"], help="read every snapshot the engine lists, by id or by its timestamp")
    parser.add_argument("--request", help="JSON request file ('-' for stdin)")
    args = parser.parse_args(argv)
    if args.request or (args.table is None and args.metadata_file is None):
        text = sys.stdin.read() if args.request in (None, "-") else open(args.request, encoding="utf-8").read()
        return json.loads(text)
    read: dict[str, Any] = {"table": args.table}
    for key, value in (("metadataFile", args.metadata_file), ("snapshotId", args.snapshot_id), ("asOfTimestampMs", args.as_of_ms), ("ref", args.ref), ("each", args.each)):
        if value is not None:
            read[key] = value
    if args.engine:
        read["engines"] = args.engine.split(",")
    return {"reads": [read]}


class Runner:
    def __init__(self, out: TextIO) -> None:
        from mwinterop.engines import EnginePool

        self.out = out
        self.pool = EnginePool()
        self.reported = 0
        self.failures = 0

    def emit(self, line: dict[str, Any]) -> None:
        from mwinterop.canonical import dumps

        # Engine start-up lines come first, once per engine.
        while self.reported < len(self.pool.started):
            self.out.write(dumps({"kind": "engine", **self.pool.started[self.reported]}) + "\n")
            self.reported += 1
        self.out.write(dumps(line) + "\n")
        self.out.flush()

    def fail(self, line: dict[str, Any], error: BaseException) -> None:
        from mwinterop.engines import UnsupportedByEngine

        self.failures += 1
        traceback.print_exception(error, file=sys.stderr)
        message = str(error).strip().splitlines()
        line["error"] = {
            "type": type(error).__name__,
            "message": "\n".join(message[:20])[:4000],
            "unsupported": isinstance(error, UnsupportedByEngine),
        }
        self.emit(line)

    def write(self, spec: dict[str, Any]) -> None:
        from mwinterop import sample

        engine = spec.get("engine")
        line: dict[str, Any] = {"kind": "write", "engine": engine, "table": spec.get("table"), "warehouse": spec.get("warehouse")}
        try:
            started = time.monotonic()
            if engine == "pyiceberg":
                result = sample.write_pyiceberg(spec["warehouse"], spec["table"])
            elif engine == "spark":
                result = sample.write_spark(self.pool.get("spark"), spec["warehouse"], spec["table"])
            else:
                raise ValueError(f"writes support engine pyiceberg or spark, not {engine!r}")
            result["elapsedMs"] = round((time.monotonic() - started) * 1000)
            self.emit(result)
        except Exception as error:  # reported as a line; the run goes on
            self.fail(line, error)

    def read(self, index: int, spec: dict[str, Any], default_engine: str | None) -> None:
        from mwinterop.engines import Selector, TableRef

        engines = spec.get("engines") or [spec.get("engine") or default_engine]
        for engine_name in engines:
            base: dict[str, Any] = {
                "kind": "read",
                "id": spec.get("id", str(index)),
                "engine": engine_name,
                "table": spec.get("table"),
            }
            if spec.get("metadataFile"):
                base["metadataFile"] = spec["metadataFile"]
            try:
                if engine_name is None:
                    raise ValueError("no engine: give 'engine' in the read or the request")
                engine = self.pool.get(engine_name)
                ref = TableRef(root=spec.get("table"), metadata_file=spec.get("metadataFile"))
                description = engine.describe(ref)
            except Exception as error:
                self.fail({**base, "selector": {}}, error)
                continue
            each = spec.get("each")
            if each is None:
                selectors = [(_selector(spec), None)]
            elif each in ("snapshot", "timestamp"):
                selectors = [
                    (Selector(snapshot_id=int(s["snapshotId"])) if each == "snapshot" else Selector(as_of_timestamp_ms=int(s["timestampMs"])), s["snapshotId"])
                    for s in description["snapshots"]
                ]
            else:
                self.fail({**base, "selector": {}}, ValueError(f"'each' must be 'snapshot' or 'timestamp', not {each!r}"))
                continue
            for selector, for_snapshot in selectors:
                line = {**base, "selector": selector.as_json(), **description}
                if for_snapshot is not None:
                    line["forSnapshotId"] = for_snapshot
                try:
                    self.read_one(engine, ref, selector, line)
                except Exception as error:
                    self.fail(line, error)

    def read_one(self, engine: Any, ref: Any, selector: Any, line: dict[str, Any]) -> None:
        from mwinterop.canonical import canonical_rows, columns_of

        started = time.monotonic()
        schema, table = engine.read(ref, selector)
        rows = canonical_rows(table)
        line.update(
            {
                "schema": schema,
                "columns": columns_of(table.schema),
                "rowCount": len(rows),
                "rows": rows,
                "elapsedMs": round((time.monotonic() - started) * 1000),
            }
        )
        self.emit(line)


def _selector(spec: dict[str, Any]) -> Any:
    from mwinterop.engines import Selector

    chosen = [k for k in ("snapshotId", "asOfTimestampMs", "ref") if spec.get(k) is not None]
    if len(chosen) > 1:
        raise ValueError(f"a read selects by at most one of snapshotId, asOfTimestampMs, ref; got {chosen}")
    return Selector(
        snapshot_id=None if spec.get("snapshotId") is None else int(spec["snapshotId"]),
        as_of_timestamp_ms=None if spec.get("asOfTimestampMs") is None else int(spec["asOfTimestampMs"]),
        ref=spec.get("ref"),
    )


def main(argv: list[str]) -> int:
    out = claim_stdout()
    started = time.monotonic()
    try:
        request = parse_args(argv)
        if not isinstance(request, dict) or not isinstance(request.get("reads", []), list) or not isinstance(request.get("writes", []), list):
            raise ValueError("the request must be an object with lists 'writes' and/or 'reads'")
        for spec in request.get("reads", []):
            _selector(spec)  # reject contradictory selectors before starting any engine
    except (ValueError, OSError) as error:
        print(f"iceberg_read: bad request: {error}", file=sys.stderr)
        return 64
    runner = Runner(out)
    try:
        for spec in request.get("writes", []):
            runner.write(spec)
        for index, spec in enumerate(request.get("reads", [])):
            runner.read(index, spec, request.get("engine"))
        runner.emit({"kind": "done", "failures": runner.failures, "elapsedMs": round((time.monotonic() - started) * 1000)})
    finally:
        runner.pool.close()
    return 1 if runner.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
