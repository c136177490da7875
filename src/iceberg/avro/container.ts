// Avro object container files in memory, through avsc (maintained, spec-complete; hand-writing
// Avro is where readers' rejections come from). Longs decode to bigint so snapshot ids and
// sequence numbers stay exact; custom schema attributes (field-id, element-id) are kept.

import avro from 'avsc';
import { PassThrough } from 'node:stream';
import { SpecViolationError } from '../../core/errors.js';

/** avro `long` as bigint both ways (numbers are accepted on write). */
export const BIGINT_LONG = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(),
  toBuffer: (n: bigint | number) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(BigInt(n));
    return buf;
  },
  fromJSON: (v: unknown) => BigInt(v as string),
  toJSON: (n: bigint) => Number(n),
  isValid: (n: unknown) => typeof n === 'bigint' || (typeof n === 'number' && Number.isInteger(n)),
  compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
});

export function avroType(schema: object): avro.Type {
  return avro.Type.forSchema(schema as avro.Schema, { registry: { long: BIGINT_LONG } as never, wrapUnions: false });
}

/** Encodes records into a deflate container with the given key-value metadata (avro.codec is always set). */
export async function encodeContainer(schema: object, records: readonly unknown[], metadata: Readonly<Record<string, string>>): Promise<Uint8Array> {
  const type = avroType(schema);
  const meta: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(metadata)) meta[k] = Buffer.from(v, 'utf8');
  const encoder = new avro.streams.BlockEncoder(type, { codec: 'deflate', metadata: meta } as never);
  // avsc writes `type.getSchema()` into the header, which drops field-id/element-id in 5.7; handing it
  // the schema object instead would lose the bigint long type. So the header gets the schema as given.
  (encoder as unknown as { _schema: object })._schema = schema;
  const chunks: Buffer[] = [];
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    sink.on('end', resolve);
    encoder.on('error', reject);
    sink.on('error', reject);
  });
  encoder.pipe(sink);
  for (const record of records) encoder.write(record);
  encoder.end();
  await done;
  return new Uint8Array(Buffer.concat(chunks));
}

export interface DecodedContainer {
  readonly metadata: Readonly<Record<string, string>>;
  readonly records: unknown[];
}

export async function decodeContainer(bytes: Uint8Array, what: string): Promise<DecodedContainer> {
  const decoder = new avro.streams.BlockDecoder({ parseHook: (schema: avro.Schema) => avroType(schema as object) } as never);
  const records: unknown[] = [];
  let metadata: Record<string, string> = {};
  decoder.on('metadata', (_type: unknown, _codec: unknown, header: { meta: Record<string, Buffer> }) => {
    metadata = Object.fromEntries(Object.entries(header.meta).map(([k, v]) => [k, v.toString('utf8')]));
  });
  decoder.on('data', (r: unknown) => records.push(r));
  await new Promise<void>((resolve, reject) => {
    decoder.on('end', resolve);
    decoder.on('error', (cause: Error) => reject(new SpecViolationError(`${what} is not a readable Avro file: ${cause.message}`, { cause })));
    decoder.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });
  return { metadata, records };
}
