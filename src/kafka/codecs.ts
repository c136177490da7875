// Record batch codecs kafkajs lacks (it ships gzip only). Wikimedia producers write snappy; a
// topic's compression.type or a newer job may give zstd or lz4 (reference/wikimedia-notes.md §2),
// which the drain must read. mwlake itself produces snappy only, so zstd need not compress.

import { decompress as zstdDecompress } from 'fzstd';
import { compressFrame as lz4Compress, decompressFrame as lz4Decompress } from 'lz4-napi';
import SnappyCodec from 'kafkajs-snappy';

/** A kafkajs codec: what its CompressionCodecs table holds, behind a factory. */
export interface Codec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

/** zstd frames, decoded in JS (fzstd); Kafka's Java client writes one frame per batch. */
export function zstdCodec(): Codec {
  return {
    async compress() {
      throw new Error('mwlake does not write zstd record batches (it produces snappy)');
    },
    async decompress(buffer) {
      const out = zstdDecompress(buffer);
      return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    },
  };
}

/** LZ4 frames (the format of Kafka's message format v1 and later), through lz4-napi. */
export function lz4Codec(): Codec {
  return {
    compress: (encoder) => lz4Compress(encoder.buffer),
    decompress: (buffer) => lz4Decompress(buffer),
  };
}

export const snappyCodec: () => Codec = SnappyCodec;
