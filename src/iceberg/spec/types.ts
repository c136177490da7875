// Iceberg data types and schemas as the spec defines them (format/spec.md §Schemas and Data Types,
// Appendix C for the JSON forms). Pure types and small helpers: no I/O, no engine code.
// Primitive types keep their spec spelling ('long', 'decimal(9, 2)', 'fixed[16]') so they read
// like the spec and serialize without a mapping table.

export type PrimitiveTypeName =
  | 'boolean'
  | 'int'
  | 'long'
  | 'float'
  | 'double'
  | 'date'
  | 'time'
  | 'timestamp'
  | 'timestamptz'
  | 'timestamp_ns'
  | 'timestamptz_ns'
  | 'string'
  | 'uuid'
  | 'binary';

export type FixedType = `fixed[${number}]`;
export type DecimalType = `decimal(${number}, ${number})`;
export type PrimitiveType = PrimitiveTypeName | FixedType | DecimalType;

export interface StructType {
  readonly type: 'struct';
  readonly fields: readonly NestedField[];
}

export interface ListType {
  readonly type: 'list';
  readonly elementId: number;
  readonly elementRequired: boolean;
  readonly element: IcebergType;
}

export interface MapType {
  readonly type: 'map';
  readonly keyId: number;
  readonly key: IcebergType;
  readonly valueId: number;
  readonly valueRequired: boolean;
  readonly value: IcebergType;
}

export type NestedType = StructType | ListType | MapType;
export type IcebergType = PrimitiveType | NestedType;

export interface NestedField {
  /** Unique in the table across all schemas' fields, list elements and map keys/values. */
  readonly id: number;
  readonly name: string;
  readonly required: boolean;
  readonly type: IcebergType;
  readonly doc?: string;
}

export interface Schema {
  readonly schemaId: number;
  readonly identifierFieldIds?: readonly number[];
  readonly fields: readonly NestedField[];
}

export function isPrimitive(type: IcebergType): type is PrimitiveType {
  return typeof type === 'string';
}

export function isStruct(type: IcebergType): type is StructType {
  return typeof type === 'object' && type.type === 'struct';
}

export function isList(type: IcebergType): type is ListType {
  return typeof type === 'object' && type.type === 'list';
}

export function isMap(type: IcebergType): type is MapType {
  return typeof type === 'object' && type.type === 'map';
}

const DECIMAL = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/;
const FIXED = /^fixed\[\s*(\d+)\s*\]$/;

/** Precision and scale of a decimal type, or undefined for any other type. */
export function decimalParts(type: IcebergType): { precision: number; scale: number } | undefined {
  if (typeof type !== 'string') return undefined;
  const match = DECIMAL.exec(type);
  return match === null ? undefined : { precision: Number(match[1]), scale: Number(match[2]) };
}

/** Length of a fixed type, or undefined for any other type. */
export function fixedLength(type: IcebergType): number | undefined {
  if (typeof type !== 'string') return undefined;
  const match = FIXED.exec(type);
  return match === null ? undefined : Number(match[1]);
}
