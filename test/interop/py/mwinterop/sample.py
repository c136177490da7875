"""The sample table written by PyIceberg or Spark for the reverse interop direction: one column
of each type mwlake cares about, partitioned by identity(category) and day(ts), written as two
appends and then a row-level delete of ids 2 and 5, plus a tag and a branch. The model rows here
are the truth each snapshot is checked against; they pass through the same canonicalizer as the
rows an engine reads."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from .canonical import canonical_rows, columns_of
from .engines import SparkEngine, TableRef, as_uri

UTC = dt.timezone.utc

TAG = "first_append"  # tag on the snapshot of the first append
BRANCH = "audit"  # branch on the snapshot of the second append
DELETED_IDS = (2, 5)

ATTR_TYPE = pa.struct([pa.field("a", pa.int64()), pa.field("b", pa.string())])
ARROW_SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("category", pa.string()),
        pa.field("n", pa.int32()),
        pa.field("flag", pa.bool_()),
        pa.field("score", pa.float64()),
        pa.field("ts", pa.timestamp("us", tz="UTC")),
        pa.field("day", pa.date32()),
        pa.field("payload", pa.binary()),
        pa.field("info", pa.struct([pa.field("x", pa.int32()), pa.field("y", pa.string())])),
        pa.field("nums", pa.list_(pa.field("element", pa.int64()))),
        pa.field("attrs", pa.map_(pa.string(), ATTR_TYPE)),
    ]
)

SPARK_DDL_COLUMNS = (
    "id BIGINT NOT NULL, category STRING, n INT, flag BOOLEAN, score DOUBLE, ts TIMESTAMP, day DATE, "
    "payload BINARY, info STRUCT<x: INT, y: STRING>, nums ARRAY<BIGINT>, attrs MAP<STRING, STRUCT<a: BIGINT, b: STRING>>"
)


def _ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def _row(id: int, category: str | None, n: int | None, flag: bool | None, score: float | None, ts: str | None, day: str | None, payload: bytes | None, info: dict[str, Any] | None, nums: list[int] | None, attrs: list[tuple[str, dict[str, Any]]] | None) -> dict[str, Any]:
    return {
        "id": id,
        "category": category,
        "n": n,
        "flag": flag,
        "score": score,
        "ts": None if ts is None else _ts(ts),
        "day": None if day is None else dt.date.fromisoformat(day),
        "payload": payload,
        "info": info,
        "nums": nums,
        "attrs": attrs,
    }


# Rows 1 and 2 share the file of partition (a, 2024-01-01) in the first append, rows 5 and 7 the
# file of (b, 2024-01-02) in the second, so deleting 2 and 5 is a row-level change in both files.
APPEND_1 = [
    _row(1, "a", 1, True, 1.5, "2024-01-01T00:00:00.000001", "2024-01-01", b"\x00\x01", {"x": 1, "y": "one"}, [1, 9007199254740993], [("k1", {"a": 9223372036854775807, "b": "max"})]),
    _row(2, "a", -2147483648, False, float("nan"), "2024-01-01T12:34:56.789012", "1969-12-31", b"", {"x": None, "y": "ünïcødé 💰 \"q\" \\ \n"}, [], []),
    _row(3, "b", None, None, float("-inf"), "2024-01-02T00:00:00", None, None, None, None, None),
]
APPEND_2 = [
    _row(4, "a", 4, True, 0.1, "2024-01-01T23:59:59.999999", "2024-01-01", b"\xff", {"x": 4, "y": None}, [-9223372036854775808, None], [("z", {"a": None, "b": None}), ("a", {"a": -1, "b": "neg"})]),
    _row(5, "b", 5, False, 1e21, "2024-01-02T08:00:00", "2000-02-29", b"\x10\x20", {"x": 5, "y": "five"}, [5], [("k", None)]),
    _row(6, None, 6, True, -0.0, None, "2024-01-03", b"\x06", {"x": 6, "y": "six"}, [6, 6], []),
    _row(7, "b", 7, True, 7e-7, "2024-01-02T09:00:00", "2024-01-02", b"\x07", {"x": 7, "y": "seven"}, [7], [("k", {"a": 7, "b": "7"})]),
]


def model_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=ARROW_SCHEMA)


def expected_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return canonical_rows(model_table(rows))


def steps_of(append_1: list[dict[str, Any]], append_2: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]], list[dict[str, Any]]]]:
    """(step, rows written by the step, rows the table holds after it)."""
    return [
        ("append-1", append_1, append_1),
        ("append-2", append_2, append_1 + append_2),
        ("delete", [], [r for r in append_1 + append_2 if r["id"] not in DELETED_IDS]),
    ]


def _without_null_maps(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # PyIceberg 0.12 writes a null map as an empty map (its Arrow-to-Parquet projection drops the
    # map's validity; same family as apache/iceberg-python#2246), so its sample has no null map.
    return [{**r, "attrs": [] if r["attrs"] is None else r["attrs"]} for r in rows]


def _result(engine: str, warehouse: str, identifier: str, location: str, metadata_file: str, steps: list[dict[str, Any]], refs: dict[str, Any], properties: dict[str, str]) -> dict[str, Any]:
    return {
        "kind": "write",
        "engine": engine,
        "warehouse": warehouse,
        "table": identifier,
        "location": location,
        "metadataFile": metadata_file,
        "columns": columns_of(ARROW_SCHEMA),
        "steps": steps,
        "refs": refs,
        "properties": properties,
    }


def _new_snapshots(before: set[int], snapshots: list[tuple[int, int, str, int]], step: str, rows: list[dict[str, Any]], metadata_file: str) -> list[dict[str, Any]]:
    """Snapshots a step added, oldest first; all but the last are intermediate states of one
    commit (PyIceberg's delete can add a delete and an overwrite snapshot), so only the last one
    carries the step's rows."""
    added = sorted((s for s in snapshots if s[0] not in before), key=lambda s: s[1])
    if not added:
        raise RuntimeError(f"step {step} added no snapshot")
    out = []
    for i, (snapshot_id, sequence_number, operation, timestamp_ms) in enumerate(added):
        last = i == len(added) - 1
        out.append(
            {
                "step": step,
                "snapshotId": str(snapshot_id),
                "sequenceNumber": str(sequence_number),
                "timestampMs": str(timestamp_ms),
                "operation": operation,
                "rows": expected_rows(rows) if last else None,
                "metadataFile": metadata_file,
            }
        )
    return out


# ---------------------------------------------------------------- PyIceberg


def write_pyiceberg(warehouse: str, identifier: str) -> dict[str, Any]:
    from pathlib import Path

    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.transforms import DayTransform, IdentityTransform
    from pyiceberg.types import (
        BinaryType,
        BooleanType,
        DateType,
        DoubleType,
        IntegerType,
        ListType,
        LongType,
        MapType,
        NestedField,
        StringType,
        StructType,
        TimestamptzType,
    )

    namespace, name = identifier.split(".", 1)
    root = Path(warehouse).resolve()
    root.mkdir(parents=True, exist_ok=True)
    # The SQLite catalog file sits inside the warehouse; the table folder itself holds only
    # standard Iceberg files (metadata/*.metadata.json, manifests, data/).
    catalog = SqlCatalog("mwlake", uri=f"sqlite:///{root / 'pyiceberg-catalog.db'}", warehouse=as_uri(str(root)))
    catalog.create_namespace_if_not_exists(namespace)
    schema = Schema(
        NestedField(1, "id", LongType(), required=True),
        NestedField(2, "category", StringType()),
        NestedField(3, "n", IntegerType()),
        NestedField(4, "flag", BooleanType()),
        NestedField(5, "score", DoubleType()),
        NestedField(6, "ts", TimestamptzType()),
        NestedField(7, "day", DateType()),
        NestedField(8, "payload", BinaryType()),
        NestedField(9, "info", StructType(NestedField(12, "x", IntegerType()), NestedField(13, "y", StringType()))),
        NestedField(10, "nums", ListType(14, LongType(), element_required=False)),
        NestedField(11, "attrs", MapType(15, StringType(), 16, StructType(NestedField(17, "a", LongType()), NestedField(18, "b", StringType())), value_required=False)),
    )
    spec = PartitionSpec(
        PartitionField(source_id=2, field_id=1000, transform=IdentityTransform(), name="category"),
        PartitionField(source_id=6, field_id=1001, transform=DayTransform(), name="ts_day"),
    )
    location = as_uri(str(root / namespace / name))
    table = catalog.create_table(identifier, schema=schema, partition_spec=spec, location=location, properties={"format-version": "2"})

    steps: list[dict[str, Any]] = []

    def snapshots() -> list[tuple[int, int, str, int]]:
        return [(s.snapshot_id, s.sequence_number, s.summary.operation.value, s.timestamp_ms) for s in table.metadata.snapshots]

    for step, batch, rows in steps_of(_without_null_maps(APPEND_1), _without_null_maps(APPEND_2)):
        before = {s[0] for s in snapshots()}
        if step == "delete":
            table.delete(f"id IN ({', '.join(str(i) for i in DELETED_IDS)})")
        else:
            table.append(model_table(batch))
        table = catalog.load_table(identifier)
        steps.extend(_new_snapshots(before, snapshots(), step, rows, table.metadata_location))

    by_step = {s["step"]: int(s["snapshotId"]) for s in steps}
    table.manage_snapshots().create_tag(by_step["append-1"], TAG).create_branch(by_step["append-2"], BRANCH).commit()
    table = catalog.load_table(identifier)
    refs = {n: {"snapshotId": str(r.snapshot_id), "type": r.snapshot_ref_type.value} for n, r in table.metadata.refs.items()}
    return _result("pyiceberg", str(root), identifier, table.location(), table.metadata_location, steps, refs, dict(table.properties))


# ---------------------------------------------------------------- Spark


def _spark_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        r = dict(r)
        if r["attrs"] is not None:
            r["attrs"] = dict(r["attrs"])
        if r["payload"] is not None:
            r["payload"] = bytearray(r["payload"])
        out.append(r)
    return out


def write_spark(engine: SparkEngine, warehouse: str, identifier: str) -> dict[str, Any]:
    from pathlib import Path

    from pyspark.sql.types import StructType

    spark = engine.spark
    root = Path(warehouse).resolve()
    root.mkdir(parents=True, exist_ok=True)
    catalog = engine.hadoop_catalog(str(root))
    namespace, name = identifier.split(".", 1)
    full = f"{catalog}.{namespace}.{name}"
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {catalog}.{namespace}")
    # merge-on-read makes DELETE write position delete files instead of rewriting data files.
    spark.sql(
        f"CREATE TABLE {full} ({SPARK_DDL_COLUMNS}) USING iceberg PARTITIONED BY (category, days(ts)) "
        "TBLPROPERTIES ('format-version'='2', 'write.delete.mode'='merge-on-read', "
        "'write.update.mode'='merge-on-read', 'write.merge.mode'='merge-on-read')"
    )
    spark_schema = spark.table(full).schema
    assert isinstance(spark_schema, StructType)
    ref = TableRef(root=str(root / namespace / name), metadata_file=None)

    def snapshots() -> list[tuple[int, int, str, int]]:
        return [(s.snapshotId(), s.sequenceNumber(), s.operation(), s.timestampMillis()) for s in engine.java_table(ref).snapshots()]

    steps: list[dict[str, Any]] = []
    for step, batch, rows in steps_of(APPEND_1, APPEND_2):
        before = {s[0] for s in snapshots()}
        if step == "delete":
            spark.sql(f"DELETE FROM {full} WHERE id IN ({', '.join(str(i) for i in DELETED_IDS)})")
        else:
            spark.createDataFrame(_spark_rows(batch), schema=spark_schema).writeTo(full).append()
        metadata_file = engine.java_table(ref).operations().current().metadataFileLocation()
        steps.extend(_new_snapshots(before, snapshots(), step, rows, metadata_file))

    by_step = {s["step"]: s["snapshotId"] for s in steps}
    spark.sql(f"ALTER TABLE {full} CREATE TAG {TAG} AS OF VERSION {by_step['append-1']}")
    spark.sql(f"ALTER TABLE {full} CREATE BRANCH {BRANCH} AS OF VERSION {by_step['append-2']}")
    table = engine.java_table(ref)
    refs = {str(n): {"snapshotId": str(r.snapshotId()), "type": "branch" if r.isBranch() else "tag"} for n, r in dict(table.refs()).items()}
    properties = {str(k): str(v) for k, v in dict(table.properties()).items()}
    return _result("spark", str(root), identifier, table.location(), table.operations().current().metadataFileLocation(), steps, refs, properties)
