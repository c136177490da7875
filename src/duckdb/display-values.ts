// How `mwlake query` shows DuckDB values: as DuckDB itself prints them where JavaScript would lose
// something (a TIMESTAMP's microseconds, a DATE becoming a midnight instant, a TIME as a count of
// microseconds, a BLOB as a Buffer object, NaN and infinities as JSON null, a DECIMAL of more
// digits than a double holds rounded), and as JS values elsewhere (integers as numbers or
// bigints, lists, structs), so JSON output keeps numbers numbers.

import { createRequire } from 'node:module';
import type { DuckDBValueConverter, JS, Json } from '@duckdb/node-api';

const { DuckDBDecimalValue, DuckDBTypeId, JSDuckDBValueConverter, JsonDuckDBValueConverter } = createRequire(import.meta.url)('@duckdb/node-api') as typeof import('@duckdb/node-api');

/** Types whose JS form loses precision or reads wrong: shown as DuckDB's text. */
const AS_TEXT = new Set<number>([
  DuckDBTypeId.DATE,
  DuckDBTypeId.TIME,
  DuckDBTypeId.TIME_NS,
  DuckDBTypeId.TIME_TZ,
  DuckDBTypeId.TIMESTAMP,
  DuckDBTypeId.TIMESTAMP_S,
  DuckDBTypeId.TIMESTAMP_MS,
  DuckDBTypeId.TIMESTAMP_NS,
  DuckDBTypeId.TIMESTAMP_TZ,
  DuckDBTypeId.INTERVAL,
  DuckDBTypeId.BLOB,
  DuckDBTypeId.BIT,
]);

export const displayValue: DuckDBValueConverter<unknown> = (value, type, converter) => {
  // The JSON converter makes an INTERVAL an object of months, days and micros; its text is DuckDB's cast to VARCHAR.
  if (type.typeId === DuckDBTypeId.INTERVAL && value !== null) return String(value);
  if (AS_TEXT.has(type.typeId)) return JsonDuckDBValueConverter(value, type, converter as unknown as DuckDBValueConverter<Json>);
  // A DECIMAL as a number only while a double holds it exactly (15 digits); beyond, an integer or DuckDB's text.
  if (type.typeId === DuckDBTypeId.DECIMAL && value instanceof DuckDBDecimalValue) {
    if (value.value > -(10n ** 15n) && value.value < 10n ** 15n) return Number(value.toString());
    return value.scale === 0 ? value.value : value.toString();
  }
  // JSON has no NaN or infinities: 'NaN', 'Infinity', '-Infinity', as DuckDB's JSON writer does.
  if ((type.typeId === DuckDBTypeId.DOUBLE || type.typeId === DuckDBTypeId.FLOAT) && typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return JSDuckDBValueConverter(value, type, converter as unknown as DuckDBValueConverter<JS>);
};
