// Iceberg primitive types as Avro schemas (spec Appendix A), for partition tuples in manifests.
// Values convert at this boundary: Uint8Array ↔ Buffer, since avsc's bytes type wants Buffers.

import { SpecViolationError } from '../../core/errors.js';
import { decimalParts, fixedLength, type PrimitiveType } from '../spec/types.js';

/**
 * `fieldId` names the Avro fixed types: a schema may define each name once, and a spec can have
 * two fields of one fixed type (readers go by size and logical type, not the name).
 */
export function primitiveAvroSchema(type: PrimitiveType, fieldId: number): unknown {
  switch (type) {
    case 'boolean':
    case 'int':
    case 'long':
    case 'float':
    case 'double':
    case 'string':
      return type;
    case 'binary':
      return 'bytes';
    case 'date':
      return { type: 'int', logicalType: 'date' };
    case 'time':
      return { type: 'long', logicalType: 'time-micros' };
    case 'timestamp':
      return { type: 'long', logicalType: 'timestamp-micros', 'adjust-to-utc': false };
    case 'timestamptz':
      return { type: 'long', logicalType: 'timestamp-micros', 'adjust-to-utc': true };
    case 'uuid':
      return { type: 'fixed', name: `uuid_fixed_${fieldId}`, size: 16, logicalType: 'uuid' };
    default: {
      const size = fixedLength(type);
      if (size !== undefined) return { type: 'fixed', name: `fixed_${size}_${fieldId}`, size };
      const decimal = decimalParts(type);
      if (decimal !== undefined) {
        const bytes = Math.ceil((decimal.precision * Math.log2(10) + 1) / 8);
        return { type: 'fixed', name: `decimal_${decimal.precision}_${decimal.scale}_${fieldId}`, size: bytes, logicalType: 'decimal', precision: decimal.precision, scale: decimal.scale };
      }
      throw new SpecViolationError(`no Avro form for Iceberg type ${type}`);
    }
  }
}

/** A model value as avsc wants it. */
export function toAvroValue(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return value;
}

/** An avsc value back to the model (Buffer → Uint8Array copy, int-typed longs stay bigint). */
export function fromAvroValue(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value)) return new Uint8Array(value);
  return value;
}
