// JSON forms of schemas, partition specs and sort orders (format/spec.md Appendix C). Invalid
// input fails here with SpecViolationError naming the field; the model types stay clean.

import { SpecViolationError } from '../../../core/errors.js';
import type { PartitionField, PartitionSpec, Transform } from '../partition.js';
import type { SortField, SortOrder } from '../sort-order.js';
import type { IcebergType, NestedField, Schema, StructType } from '../types.js';

type Json = Record<string, unknown>;

function obj(value: unknown, what: string): Json {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new SpecViolationError(`${what} must be a JSON object`);
  return value as Json;
}

function num(value: unknown, what: string): number {
  const n = typeof value === 'bigint' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new SpecViolationError(`${what} must be an integer, found ${JSON.stringify(String(value))}`);
  return n;
}

function str(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new SpecViolationError(`${what} must be a string`);
  return value;
}

function arr(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new SpecViolationError(`${what} must be an array`);
  return value;
}

export function typeToJson(type: IcebergType): unknown {
  if (typeof type === 'string') return type;
  switch (type.type) {
    case 'struct':
      return { type: 'struct', fields: type.fields.map(fieldToJson) };
    case 'list':
      return { type: 'list', 'element-id': type.elementId, element: typeToJson(type.element), 'element-required': type.elementRequired };
    case 'map':
      return { type: 'map', 'key-id': type.keyId, key: typeToJson(type.key), 'value-id': type.valueId, value: typeToJson(type.value), 'value-required': type.valueRequired };
  }
}

function fieldToJson(field: NestedField): Json {
  return { id: field.id, name: field.name, required: field.required, type: typeToJson(field.type), ...(field.doc === undefined ? {} : { doc: field.doc }) };
}

export function typeFromJson(value: unknown, what = 'type'): IcebergType {
  if (typeof value === 'string') return value.replace(/\s+/g, ' ').replace(/decimal\((\d+),\s*(\d+)\)/, 'decimal($1, $2)') as IcebergType;
  const o = obj(value, what);
  switch (o['type']) {
    case 'struct':
      return structFromJson(o, what);
    case 'list':
      return {
        type: 'list',
        elementId: num(o['element-id'], `${what}.element-id`),
        elementRequired: o['element-required'] === true,
        element: typeFromJson(o['element'], `${what}.element`),
      };
    case 'map':
      return {
        type: 'map',
        keyId: num(o['key-id'], `${what}.key-id`),
        key: typeFromJson(o['key'], `${what}.key`),
        valueId: num(o['value-id'], `${what}.value-id`),
        valueRequired: o['value-required'] === true,
        value: typeFromJson(o['value'], `${what}.value`),
      };
    default:
      throw new SpecViolationError(`${what}: unknown type ${JSON.stringify(o['type'])}`);
  }
}

function structFromJson(o: Json, what: string): StructType {
  return {
    type: 'struct',
    fields: arr(o['fields'], `${what}.fields`).map((f, i) => {
      const field = obj(f, `${what}.fields[${i}]`);
      const name = str(field['name'], `${what}.fields[${i}].name`);
      return {
        id: num(field['id'], `${what}.${name}.id`),
        name,
        required: field['required'] === true,
        type: typeFromJson(field['type'], `${what}.${name}`),
        ...(typeof field['doc'] === 'string' ? { doc: field['doc'] } : {}),
      };
    }),
  };
}

export function schemaToJson(schema: Schema): Json {
  return {
    type: 'struct',
    'schema-id': schema.schemaId,
    ...(schema.identifierFieldIds === undefined || schema.identifierFieldIds.length === 0 ? {} : { 'identifier-field-ids': schema.identifierFieldIds }),
    fields: schema.fields.map(fieldToJson),
  };
}

export function schemaFromJson(value: unknown, what = 'schema'): Schema {
  const o = obj(value, what);
  const struct = structFromJson(o, what);
  const ids = o['identifier-field-ids'];
  return {
    schemaId: o['schema-id'] === undefined ? 0 : num(o['schema-id'], `${what}.schema-id`),
    fields: struct.fields,
    ...(Array.isArray(ids) && ids.length > 0 ? { identifierFieldIds: ids.map((id, i) => num(id, `${what}.identifier-field-ids[${i}]`)) } : {}),
  };
}

export function transformToString(t: Transform): string {
  switch (t.kind) {
    case 'bucket':
      return `bucket[${t.numBuckets}]`;
    case 'truncate':
      return `truncate[${t.width}]`;
    default:
      return t.kind;
  }
}

export function transformFromString(text: string): Transform {
  const param = /^(bucket|truncate)\[(\d+)\]$/.exec(text);
  if (param !== null) return param[1] === 'bucket' ? { kind: 'bucket', numBuckets: Number(param[2]) } : { kind: 'truncate', width: Number(param[2]) };
  if (['identity', 'year', 'month', 'day', 'hour', 'void'].includes(text)) return { kind: text } as Transform;
  throw new SpecViolationError(`unknown partition transform ${JSON.stringify(text)}`);
}

export function partitionSpecToJson(spec: PartitionSpec): Json {
  return {
    'spec-id': spec.specId,
    fields: spec.fields.map((f) => ({ name: f.name, transform: transformToString(f.transform), 'source-id': f.sourceId, 'field-id': f.fieldId })),
  };
}

export function partitionSpecFromJson(value: unknown, what = 'partition spec'): PartitionSpec {
  const o = obj(value, what);
  return { specId: num(o['spec-id'] ?? 0, `${what}.spec-id`), fields: partitionFieldsFromJson(o['fields'], what) };
}

/** The fields of a spec (also v1's bare `partition-spec` array, whose field ids start at 1000). */
export function partitionFieldsFromJson(value: unknown, what: string): PartitionField[] {
  return arr(value, `${what}.fields`).map((f, i) => {
    const field = obj(f, `${what}.fields[${i}]`);
    return {
      name: str(field['name'], `${what}.fields[${i}].name`),
      transform: transformFromString(str(field['transform'], `${what}.fields[${i}].transform`)),
      sourceId: num(field['source-id'], `${what}.fields[${i}].source-id`),
      fieldId: field['field-id'] === undefined ? 1000 + i : num(field['field-id'], `${what}.fields[${i}].field-id`),
    };
  });
}

export function sortOrderToJson(order: SortOrder): Json {
  return {
    'order-id': order.orderId,
    fields: order.fields.map((f) => ({ transform: transformToString(f.transform), 'source-id': f.sourceId, direction: f.direction, 'null-order': f.nullOrder })),
  };
}

export function sortOrderFromJson(value: unknown, what = 'sort order'): SortOrder {
  const o = obj(value, what);
  return {
    orderId: num(o['order-id'], `${what}.order-id`),
    fields: arr(o['fields'] ?? [], `${what}.fields`).map((f, i): SortField => {
      const field = obj(f, `${what}.fields[${i}]`);
      return {
        transform: transformFromString(str(field['transform'], `${what}.fields[${i}].transform`)),
        sourceId: num(field['source-id'], `${what}.fields[${i}].source-id`),
        direction: field['direction'] === 'desc' ? 'desc' : 'asc',
        nullOrder: field['null-order'] === 'nulls-last' ? 'nulls-last' : 'nulls-first',
      };
    }),
  };
}
