// Types for kafkajs-snappy 1.1.0, which ships none: a codec factory in the shape kafkajs's
// CompressionCodecs table expects.
declare module 'kafkajs-snappy' {
  const createSnappyCodec: () => {
    compress(encoder: { buffer: Buffer }): Promise<Buffer>;
    decompress(buffer: Buffer): Promise<Buffer>;
  };
  export default createSnappyCodec;
}
