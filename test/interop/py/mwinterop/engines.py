"""The three Iceberg readers behind one small interface: list a table's snapshots and refs, and
read it (current, by snapshot id, as of a timestamp, or at a ref) into a pyarrow Table plus the
schema as the engine reports it. Engines start lazily; Spark at most once per process."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa

from .env import duckdb_extension_dir, scratch_dir, spark_jars


@dataclass(frozen=True)
class TableRef:
    """A file-system table: its root folder (path or file:// URI) and, optionally, the exact
    metadata file to open instead of following metadata/version-hint.text."""

    root: str | None
    metadata_file: str | None

    @property
    def location(self) -> str:
        loc = self.metadata_file or self.root
        if loc is None:
            raise ValueError("a read needs 'table' (the table root) or 'metadataFile'")
        return loc


@dataclass(frozen=True)
class Selector:
    snapshot_id: int | None = None
    as_of_timestamp_ms: int | None = None
    ref: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.snapshot_id is not None:
            out["snapshotId"] = str(self.snapshot_id)
        if self.as_of_timestamp_ms is not None:
            out["asOfTimestampMs"] = str(self.as_of_timestamp_ms)
        if self.ref is not None:
            out["ref"] = self.ref
        return out


class UnsupportedByEngine(Exception):
    """The engine has no way to do what the read asks (reported, not worked around)."""


def as_uri(location: str) -> str:
    """file:// URI of a local path; URIs are returned unchanged."""
    if urlparse(location).scheme:
        return location
    return Path(location).resolve().as_uri()


def as_path(location: str) -> str:
    """Local path of a file:/ or file:/// URI; plain paths are made absolute."""
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return parsed.path
    if parsed.scheme:
        return location
    return str(Path(location).resolve())


def _snapshot_json(snapshot_id: int, parent_id: Any, sequence_number: Any, timestamp_ms: int, operation: Any, summary: Any, manifest_list: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"snapshotId": str(snapshot_id), "timestampMs": str(timestamp_ms)}
    if parent_id is not _ABSENT:
        out["parentSnapshotId"] = None if parent_id is None else str(parent_id)
    if sequence_number is not _ABSENT:
        out["sequenceNumber"] = None if sequence_number is None else str(sequence_number)
    if operation is not _ABSENT:
        out["operation"] = operation
    if summary is not _ABSENT:
        out["summary"] = {str(k): str(v) for k, v in summary.items() if k != "operation"}
    if manifest_list is not _ABSENT:
        out["manifestList"] = manifest_list
    return out


_ABSENT = object()


# ---------------------------------------------------------------- PyIceberg


class PyIcebergEngine:
    name = "pyiceberg"

    def __init__(self) -> None:
        started = time.monotonic()
        import pyiceberg
        from pyiceberg.table import StaticTable

        self._static = StaticTable
        self.info = {"engine": self.name, "version": pyiceberg.__version__, "startupMs": round((time.monotonic() - started) * 1000)}

    def _load(self, ref: TableRef) -> Any:
        # StaticTable reads metadata/version-hint.text for a root, or the given metadata file.
        return self._static.from_metadata(ref.location)

    def describe(self, ref: TableRef) -> dict[str, Any]:
        table = self._load(ref)
        snapshots = [
            _snapshot_json(
                s.snapshot_id,
                s.parent_snapshot_id,
                s.sequence_number,
                s.timestamp_ms,
                s.summary.operation.value if s.summary else None,
                dict(s.summary.additional_properties) if s.summary else {},
                s.manifest_list,
            )
            for s in table.metadata.snapshots
        ]
        refs = {name: {"snapshotId": str(r.snapshot_id), "type": r.snapshot_ref_type.value} for name, r in table.metadata.refs.items()}
        current = table.metadata.current_snapshot_id
        return {"snapshots": snapshots, "refs": refs, "currentSnapshotId": None if current is None else str(current), "resolvedMetadataFile": table.metadata_location}

    def read(self, ref: TableRef, selector: Selector) -> tuple[Any, pa.Table]:
        table = self._load(ref)
        scan = table.scan()
        if selector.snapshot_id is not None:
            scan = table.scan(snapshot_id=selector.snapshot_id)
        elif selector.as_of_timestamp_ms is not None:
            snapshot = table.snapshot_as_of_timestamp(selector.as_of_timestamp_ms)
            if snapshot is None:
                raise LookupError(f"no snapshot at or before {selector.as_of_timestamp_ms} ms")
            scan = table.scan(snapshot_id=snapshot.snapshot_id)
        elif selector.ref is not None:
            scan = table.scan().use_ref(selector.ref)
        import json

        schema = json.loads(scan.projection().model_dump_json(by_alias=True))
        return schema, scan.to_arrow()


# ---------------------------------------------------------------- DuckDB


class DuckDBEngine:
    name = "duckdb"

    def __init__(self) -> None:
        started = time.monotonic()
        import duckdb

        ext_dir = duckdb_extension_dir()
        # Extensions come only from the duckdb-ext-* wheels: autoinstall is off and the repository
        # points at a closed local port, so any attempt to download fails instead of reaching out.
        self.con = duckdb.connect(
            config={
                "extension_directory": str(ext_dir),
                "autoinstall_known_extensions": "false",
                "autoload_known_extensions": "true",
                "custom_extension_repository": "http://127.0.0.1:9/",
                "threads": "2",
            }
        )
        self.con.execute("LOAD iceberg")
        # TIMESTAMPTZ values reach Arrow as UTC instants either way; UTC keeps DuckDB's own
        # rendering (schema, errors) free of the machine's zone.
        self.con.execute("SET TimeZone = 'UTC'")
        loaded = self.con.execute(
            "SELECT extension_name, extension_version, install_path FROM duckdb_extensions() WHERE loaded AND extension_name IN ('iceberg', 'avro') ORDER BY 1"
        ).fetchall()
        self.info = {
            "engine": self.name,
            "version": duckdb.__version__,
            "extensions": [{"name": n, "version": v, "path": p} for n, v, p in loaded],
            "startupMs": round((time.monotonic() - started) * 1000),
        }

    @staticmethod
    def _quote(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    def describe(self, ref: TableRef) -> dict[str, Any]:
        rows = self.con.execute(f"SELECT snapshot_id, sequence_number, timestamp_ms, manifest_list FROM iceberg_snapshots({self._quote(ref.location)}) ORDER BY sequence_number, timestamp_ms").fetchall()
        snapshots = []
        for snapshot_id, sequence_number, timestamp, manifest_list in rows:
            # timestamp_ms is a TIMESTAMP column; convert back to epoch milliseconds.
            if hasattr(timestamp, "timestamp"):
                import datetime as dt

                millis = (timestamp.replace(tzinfo=dt.timezone.utc) - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) // dt.timedelta(milliseconds=1)
            else:
                millis = int(timestamp)
            snapshots.append(_snapshot_json(snapshot_id, _ABSENT, sequence_number, millis, _ABSENT, _ABSENT, manifest_list))
        return {"snapshots": snapshots}

    def read(self, ref: TableRef, selector: Selector) -> tuple[Any, pa.Table]:
        args = [self._quote(ref.location)]
        if selector.snapshot_id is not None:
            args.append(f"snapshot_from_id => {int(selector.snapshot_id)}")
        elif selector.as_of_timestamp_ms is not None:
            args.append(f"snapshot_from_timestamp => epoch_ms({int(selector.as_of_timestamp_ms)})")
        elif selector.ref is not None:
            raise UnsupportedByEngine("DuckDB iceberg_scan has no parameter for a branch or tag; select by snapshot id instead")
        relation = self.con.sql(f"SELECT * FROM iceberg_scan({', '.join(args)})")
        schema = [{"name": n, "type": str(t)} for n, t in zip(relation.columns, relation.types)]
        result = relation.fetch_arrow_table() if hasattr(relation, "fetch_arrow_table") else relation.arrow()
        if isinstance(result, pa.RecordBatchReader):
            result = result.read_all()
        return schema, result


# ---------------------------------------------------------------- Spark


class SparkEngine:
    name = "spark"

    def __init__(self) -> None:
        started = time.monotonic()
        scratch = scratch_dir()
        self._scratch = scratch
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("SPARK_LOCAL_HOSTNAME", "localhost")
        import sys

        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        from pyspark.sql import SparkSession

        jars = spark_jars()
        java_opts = f"-Djava.io.tmpdir={scratch} -Dderby.system.home={scratch}"
        builder = (
            SparkSession.builder.master("local[2]")
            .appName("mwlake-interop")
            # Local jars only: no --packages, no Ivy resolution at run time.
            .config("spark.jars", ",".join(str(j) for j in jars))
            .config("spark.jars.ivy", str(scratch / "ivy"))
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.memory", os.environ.get("MWLAKE_SPARK_DRIVER_MEMORY", "1g"))
            .config("spark.driver.extraJavaOptions", java_opts)
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.default.parallelism", "2")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.local.dir", str(scratch))
            .config("spark.sql.warehouse.dir", str(scratch / "spark-warehouse"))
            .config("spark.sql.catalogImplementation", "in-memory")
            .config("spark.sql.extensions", "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions")
        )
        self.spark = builder.getOrCreate()
        self.spark.sparkContext.setLogLevel("ERROR")
        jvm = self.spark.sparkContext._jvm
        self._jvm = jvm
        self._catalogs: dict[str, str] = {}
        conf = self.spark.sparkContext.getConf()
        self.info = {
            "engine": self.name,
            "version": self.spark.version,
            "icebergVersion": jvm.org.apache.iceberg.IcebergBuild.version(),
            "jars": [j.name for j in jars],
            "driverHost": conf.get("spark.driver.host"),
            "bindAddress": conf.get("spark.driver.bindAddress"),
            "master": self.spark.sparkContext.master,
            "uiEnabled": conf.get("spark.ui.enabled"),
            "startupMs": round((time.monotonic() - started) * 1000),
        }

    def hadoop_catalog(self, warehouse: str) -> str:
        """Name of a Spark catalog (Iceberg HadoopCatalog) over a warehouse folder; catalogs can
        be added to a running session because Spark resolves them by name on first use."""
        uri = as_uri(warehouse)
        if uri not in self._catalogs:
            name = f"wh{len(self._catalogs)}"
            self.spark.conf.set(f"spark.sql.catalog.{name}", "org.apache.iceberg.spark.SparkCatalog")
            self.spark.conf.set(f"spark.sql.catalog.{name}.type", "hadoop")
            self.spark.conf.set(f"spark.sql.catalog.{name}.warehouse", uri)
            self._catalogs[uri] = name
        return self._catalogs[uri]

    def java_table(self, ref: TableRef) -> Any:
        # HadoopTables: a root reads version-hint.text (or lists metadata/), a *.metadata.json
        # location is opened as a static table.
        tables = self._jvm.org.apache.iceberg.hadoop.HadoopTables(self.spark.sparkContext._jsc.hadoopConfiguration())
        return tables.load(as_uri(ref.location))

    def describe(self, ref: TableRef) -> dict[str, Any]:
        table = self.java_table(ref)
        snapshots = []
        for s in table.snapshots():
            parent = s.parentId()
            summary = {str(k): str(v) for k, v in dict(s.summary()).items()}
            snapshots.append(_snapshot_json(s.snapshotId(), parent, s.sequenceNumber(), s.timestampMillis(), s.operation(), summary, s.manifestListLocation()))
        refs = {}
        for name, r in dict(table.refs()).items():
            refs[str(name)] = {"snapshotId": str(r.snapshotId()), "type": "branch" if r.isBranch() else "tag"}
        current = table.currentSnapshot()
        metadata_file = table.operations().current().metadataFileLocation()
        return {"snapshots": snapshots, "refs": refs, "currentSnapshotId": None if current is None else str(current.snapshotId()), "resolvedMetadataFile": metadata_file}

    def read(self, ref: TableRef, selector: Selector) -> tuple[Any, pa.Table]:
        reader = self.spark.read.format("iceberg")
        if selector.snapshot_id is not None:
            reader = reader.option("snapshot-id", str(selector.snapshot_id))
        elif selector.as_of_timestamp_ms is not None:
            reader = reader.option("as-of-timestamp", str(selector.as_of_timestamp_ms))
        elif selector.ref is not None:
            kind = self._ref_kind(ref, selector.ref)
            reader = reader.option(kind, selector.ref)
        frame = reader.load(as_uri(ref.location))
        return frame.schema.jsonValue(), frame.toArrow()

    def _ref_kind(self, ref: TableRef, name: str) -> str:
        found = self.java_table(ref).refs().get(name)
        if found is None:
            raise LookupError(f"table has no ref named {name!r}")
        return "branch" if found.isBranch() else "tag"

    def stop(self) -> None:
        import shutil

        self.spark.stop()
        shutil.rmtree(self._scratch, ignore_errors=True)


ENGINES = {"pyiceberg": PyIcebergEngine, "duckdb": DuckDBEngine, "spark": SparkEngine}


class EnginePool:
    """Starts each engine at most once, on first use; reports each start once."""

    def __init__(self) -> None:
        self._engines: dict[str, Any] = {}
        self.started: list[dict[str, Any]] = []

    def get(self, name: str) -> Any:
        if name not in ENGINES:
            raise ValueError(f"unknown engine {name!r}; expected one of {sorted(ENGINES)}")
        if name not in self._engines:
            engine = ENGINES[name]()
            self._engines[name] = engine
            self.started.append(engine.info)
        return self._engines[name]

    def close(self) -> None:
        spark = self._engines.get("spark")
        if spark is not None:
            spark.stop()
