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

/** Each field inside a struct, list or map column: its id → its path of names (`meta.domain`), and the reverse. */
function nestedPaths(schema: Schema): { byId: Map<number, string>; byPath: Map<string, number> } {
  const byId = new Map<number, string>();
  const byPath = new Map<string, number>();
  const add = (id: number, path: string): void => {
    byId.set(id, path);
    byPath.set(path, id);
  };
  const walk = (type: IcebergType, path: string): void => {
    if (isPrimitive(type)) return;
    if (type.type === 'struct') {
      for (const f of type.fields) {
        add(f.id, `${path}.${f.name}`);
        walk(f.type, `${path}.${f.name}`);
      }
    } else if (type.type === 'list') {
      add(type.elementId, `${path}.element`);
      walk(type.element, `${path}.element`);
    } else {
      add(type.keyId, `${path}.key`);
      walk(type.key, `${path}.key`);
      add(type.valueId, `${path}.value`);
      walk(type.value, `${path}.value`);
    }
  };
  // Under the top-level column's id: a renamed top-level column is resolved by id, not by name.
  for (const f of schema.fields) walk(f.type, `#${f.id}`);
  return { byId, byPath };
}

/**
 * The first field inside a struct, list or map column that another of `schemas` names
 * differently (a rename) or whose name it gives to another id (dropped and added again): a reader
 * that resolves top-level columns by id but nested fields by name (DuckDB's struct cast) would
 * read it wrongly. Undefined when none.
 */
export function nestedNameChange(schemas: readonly Schema[], current: Schema): string | undefined {
  const now = nestedPaths(current);
  const shown = (path: string): string => {
    const [top, ...rest] = path.split('.');
    const name = current.fields.find((f) => `#${f.id}` === top)?.name ?? top;
    return [name, ...rest].join('.');
  };
  for (const older of schemas) {
    if (older.schemaId === current.schemaId) continue;
    const then = nestedPaths(older);
    for (const [id, path] of now.byId) {
      const was = then.byId.get(id);
      if (was !== undefined && was !== path) return `field ${shown(path)} (id ${id}) was ${shown(was)} in schema ${older.schemaId}`;
      const other = then.byPath.get(path);
      if (other !== undefined && other !== id) return `field ${shown(path)} is id ${id}, and was id ${other} in schema ${older.schemaId}`;
    }
  }
  return undefined;
}
