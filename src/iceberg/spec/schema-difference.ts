// How a table's stored schema differs from the one a writer expects, matched by field id at every
// nesting level (spec §Column Projection: readers and writers resolve columns by id). A writer that
// builds its files from its own schema must not commit them to a table another engine evolved.

import { isPrimitive, type IcebergType, type NestedField, type Schema } from './types.js';

/**
 * The first way `stored` differs from `expected`, naming the column; undefined when the same.
 * A column stored optional where `expected` has it required is no difference (any value fits);
 * docs are ignored.
 */
export function schemaDifference(stored: Schema, expected: Schema): string | undefined {
  return fieldsDifference(stored.fields, expected.fields, '');
}

function fieldsDifference(stored: readonly NestedField[], expected: readonly NestedField[], prefix: string): string | undefined {
  const byId = new Map(stored.map((f) => [f.id, f]));
  for (const want of expected) {
    const path = `${prefix}${want.name}`;
    const has = byId.get(want.id);
    if (has === undefined) return `column ${path} (field id ${want.id}) is missing`;
    if (has.name !== want.name) return `column ${path} (field id ${want.id}) is named ${has.name}`;
    if (has.required && !want.required) return `column ${path} is required`;
    const differs = typeDifference(has.type, want.type, path);
    if (differs !== undefined) return differs;
  }
  const known = new Set(expected.map((f) => f.id));
  const extra = stored.find((f) => !known.has(f.id));
  return extra === undefined ? undefined : `column ${prefix}${extra.name} (field id ${extra.id}) is not one the writer knows`;
}

function typeDifference(stored: IcebergType, expected: IcebergType, path: string): string | undefined {
  const retyped = `column ${path} is ${describe(stored)}, not ${describe(expected)}`;
  if (isPrimitive(stored) || isPrimitive(expected)) return stored === expected ? undefined : retyped;
  if (stored.type === 'struct' && expected.type === 'struct') return fieldsDifference(stored.fields, expected.fields, `${path}.`);
  if (stored.type === 'list' && expected.type === 'list') {
    if (stored.elementId !== expected.elementId) return `column ${path}'s element has field id ${stored.elementId}, not ${expected.elementId}`;
    if (stored.elementRequired && !expected.elementRequired) return `column ${path}'s element is required`;
    return typeDifference(stored.element, expected.element, `${path}.element`);
  }
  if (stored.type === 'map' && expected.type === 'map') {
    if (stored.keyId !== expected.keyId || stored.valueId !== expected.valueId) return `column ${path}'s key and value have field ids ${stored.keyId} and ${stored.valueId}, not ${expected.keyId} and ${expected.valueId}`;
    if (stored.valueRequired && !expected.valueRequired) return `column ${path}'s value is required`;
    return typeDifference(stored.key, expected.key, `${path}.key`) ?? typeDifference(stored.value, expected.value, `${path}.value`);
  }
  return retyped;
}

function describe(type: IcebergType): string {
  return isPrimitive(type) ? type : `a ${type.type}`;
}
