"""Canonical JSON of Arrow data, so rows read by PyIceberg, DuckDB and Spark (and rows mwlake
meant to write) compare exactly, as text. Every engine's result is first turned into a pyarrow
Table; this module only looks at Arrow types and values, never at an engine.

The canonical form (also documented in test/interop/py/README.md):
- a row is an object with sorted keys; rows are sorted by their canonical JSON text (code points);
- Iceberg long (Arrow int64) -> decimal string, exact; int (int8/16/32) -> JSON number;
- float/double -> JSON number spelled as JavaScript's JSON.stringify would ("1", "0.1", "1e+21"),
  and "NaN", "Infinity", "-Infinity" as strings; a float is the double value of the float32;
- timestamptz -> "YYYY-MM-DDTHH:MM:SS.ffffffZ"; timestamp (no zone) -> the same without "Z";
  nanosecond timestamps carry 9 fraction digits; date -> "YYYY-MM-DD"; time -> "HH:MM:SS.ffffff";
- binary and fixed -> lowercase hex; decimal -> plain decimal string with its scale ("12.30");
- struct -> object with sorted keys; list -> array in order;
- map with string keys -> object with sorted keys; other maps -> [key, value] pairs sorted by the
  canonical JSON of the key.
The text equals JSON.stringify of the same value with sorted keys, so TypeScript can rebuild it.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()
_UNIT_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


# ---------------------------------------------------------------- JSON text


def js_number(value: float) -> str:
    """Formats a finite double the way ECMAScript Number::toString does (shortest round trip)."""
    if value == 0:
        return "0"  # JSON.stringify(-0) is "0" too
    sign = "-" if value < 0 else ""
    # repr gives the shortest digits that round-trip (same requirement as ECMAScript).
    mantissa, _, exp_text = repr(abs(value)).partition("e")
    int_part, _, frac_part = mantissa.partition(".")
    digits = (int_part + frac_part).lstrip("0")
    # n is the position of the decimal point relative to the first significant digit.
    n = len(int_part) + (int(exp_text) if exp_text else 0)
    if int_part == "0":
        stripped = frac_part.lstrip("0")
        n = -(len(frac_part) - len(stripped)) + (int(exp_text) if exp_text else 0)
        digits = stripped
    digits = digits.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        exp = ("+" if e >= 0 else "-") + str(abs(e))
        text = (digits if k == 1 else digits[0] + "." + digits[1:]) + "e" + exp
    return sign + text


def dumps(value: Any) -> str:
    """Canonical JSON text: sorted keys, no spaces, JS number spelling, UTF-8 (no \\u escapes)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return '"NaN"'
        if math.isinf(value):
            return '"Infinity"' if value > 0 else '"-Infinity"'
        return js_number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(dumps(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(str(k), ensure_ascii=False) + ":" + dumps(value[k]) for k in sorted(value, key=str)) + "}"
    raise TypeError(f"canonical JSON: unsupported value {value!r} of type {type(value).__name__}")


# ---------------------------------------------------------------- scalars


def format_date(days: int) -> str:
    return _dt.date.fromordinal(_EPOCH_ORDINAL + days).isoformat()


def format_timestamp(count: int, unit: str, utc: bool) -> str:
    per_second = _UNIT_PER_SECOND[unit]
    seconds, fraction = divmod(count, per_second)
    days, second_of_day = divmod(seconds, 86_400)
    hour, rest = divmod(second_of_day, 3_600)
    minute, second = divmod(rest, 60)
    width = 9 if unit == "ns" else 6
    fraction_text = str(fraction * (10**width) // per_second).rjust(width, "0")
    text = f"{format_date(days)}T{hour:02d}:{minute:02d}:{second:02d}.{fraction_text}"
    return text + "Z" if utc else text


def format_time(count: int, unit: str) -> str:
    return format_timestamp(count, unit, utc=False).split("T", 1)[1]


def format_micros_utc(micros: int) -> str:
    return format_timestamp(micros, "us", utc=True)


# ---------------------------------------------------------------- Arrow types


def type_name(t: pa.DataType) -> str:
    """An engine-neutral, Iceberg-like name of an Arrow type; nullability is left out because
    engines disagree on it (DuckDB exports every column as nullable)."""
    if pa.types.is_dictionary(t):
        return type_name(t.value_type)
    if isinstance(t, pa.ExtensionType):
        if t.extension_name == "arrow.uuid":
            return "uuid"
        return type_name(t.storage_type)
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_int64(t) or pa.types.is_uint64(t):
        return "long"
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_float32(t):
        return "float"
    if pa.types.is_float64(t):
        return "double"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision}, {t.scale})"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or _is_view(t, "string"):
        return "string"
    if pa.types.is_fixed_size_binary(t):
        return f"fixed[{t.byte_width}]"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or _is_view(t, "binary"):
        return "binary"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_time(t):
        return "time" if t.unit == "us" else f"time_{t.unit}"
    if pa.types.is_timestamp(t):
        base = "timestamptz" if t.tz is not None else "timestamp"
        return base if t.unit == "us" else f"{base}_{t.unit}"
    if pa.types.is_struct(t):
        return "struct<" + ", ".join(f"{t.field(i).name}: {type_name(t.field(i).type)}" for i in range(t.num_fields)) + ">"
    if pa.types.is_map(t):
        return f"map<{type_name(t.key_type)}, {type_name(t.item_type)}>"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t) or _is_view(t, "list"):
        return f"list<{type_name(t.value_type)}>"
    if pa.types.is_null(t):
        return "null"
    return str(t)


def _is_view(t: pa.DataType, kind: str) -> bool:
    probe = getattr(pa.types, f"is_{kind}_view", None)
    return bool(probe and probe(t))


def columns_of(schema: pa.Schema) -> list[dict[str, str]]:
    return [{"name": f.name, "type": type_name(f.type)} for f in schema]


# ---------------------------------------------------------------- Arrow values


def canonical_array(array: pa.Array | pa.ChunkedArray) -> list[Any]:
    """Canonical Python values (JSON-ready) of every slot of an Arrow array."""
    if isinstance(array, pa.ChunkedArray):
        out: list[Any] = []
        for chunk in array.chunks:
            out.extend(canonical_array(chunk))
        return out
    t = array.type
    if pa.types.is_dictionary(t):
        return canonical_array(array.dictionary_decode())
    if isinstance(t, pa.ExtensionType):
        storage = array.storage
        if t.extension_name == "arrow.uuid":
            return [None if v is None else _uuid_text(v) for v in storage.to_pylist()]
        return canonical_array(storage)
    valid = array.is_valid().to_pylist() if array.null_count else None

    def masked(values: list[Any]) -> list[Any]:
        if valid is None:
            return values
        return [v if ok else None for v, ok in zip(values, valid)]

    if pa.types.is_int64(t) or pa.types.is_uint64(t):
        return [None if v is None else str(v) for v in array.to_pylist()]
    if pa.types.is_integer(t) or pa.types.is_boolean(t) or pa.types.is_null(t):
        return array.to_pylist()
    if pa.types.is_floating(t):
        return [None if v is None else float(v) for v in array.to_pylist()]
    if pa.types.is_string(t) or pa.types.is_large_string(t) or _is_view(t, "string"):
        return array.to_pylist()
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t) or _is_view(t, "binary"):
        return [None if v is None else bytes(v).hex() for v in array.to_pylist()]
    if pa.types.is_decimal(t):
        return [None if v is None else _decimal_text(v) for v in array.to_pylist()]
    if pa.types.is_date32(t):
        return masked([None if v is None else format_date(v) for v in array.view(pa.int32()).to_pylist()])
    if pa.types.is_date64(t):
        return masked([None if v is None else format_date(v // 86_400_000) for v in array.view(pa.int64()).to_pylist()])
    if pa.types.is_timestamp(t):
        ints = array.view(pa.int64()).to_pylist()
        return masked([None if v is None else format_timestamp(v, t.unit, t.tz is not None) for v in ints])
    if pa.types.is_time(t):
        ints = array.view(pa.int64() if t.bit_width == 64 else pa.int32()).to_pylist()
        return masked([None if v is None else format_time(v, t.unit) for v in ints])
    if pa.types.is_struct(t):
        names = [t.field(i).name for i in range(t.num_fields)]
        # StructArray.field() ignores the parent's validity and offset; flatten() applies both.
        children = [canonical_array(child) for child in array.flatten()]
        return masked([{name: children[j][i] for j, name in enumerate(names)} for i in range(len(array))])
    if pa.types.is_map(t):
        # offsets index the whole child arrays (keys/items ignore slicing, offsets do not).
        offsets = array.offsets.to_pylist()
        keys = canonical_array(array.keys)
        items = canonical_array(array.items)
        string_keys = type_name(t.key_type) == "string"
        out = []
        for i in range(len(array)):
            if valid is not None and not valid[i]:
                out.append(None)
                continue
            pairs = list(zip(keys[offsets[i] : offsets[i + 1]], items[offsets[i] : offsets[i + 1]]))
            if string_keys:
                out.append({k: v for k, v in pairs})
            else:
                out.append([[k, v] for k, v in sorted(pairs, key=lambda kv: dumps(kv[0]))])
        return out
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        offsets = array.offsets.to_pylist()
        values = canonical_array(array.values)
        return masked([values[offsets[i] : offsets[i + 1]] for i in range(len(array))])
    if pa.types.is_fixed_size_list(t) or _is_view(t, "list"):
        lengths = pc.list_value_length(array).to_pylist()
        flat = canonical_array(pc.list_flatten(array))
        out, pos = [], 0
        for length in lengths:
            if length is None:
                out.append(None)
                continue
            out.append(flat[pos : pos + length])
            pos += length
        return out
    raise TypeError(f"canonical: unsupported Arrow type {t}")


def _decimal_text(value: Decimal) -> str:
    return format(value, "f")


def _uuid_text(raw: bytes) -> str:
    h = bytes(raw).hex()
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def canonical_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Rows of a table as canonical objects, sorted by their canonical JSON text."""
    columns = {name: canonical_array(table.column(name)) for name in table.column_names}
    rows = [{name: columns[name][i] for name in table.column_names} for i in range(table.num_rows)]
    rows.sort(key=dumps)
    return rows
