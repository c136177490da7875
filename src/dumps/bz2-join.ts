// Joins complete bz2 streams into one stream without recompressing them: each stream's blocks are
// copied bit for bit and the combined CRC is worked out again. pages-articles holds the same XML as
// pages-articles-multistream, so its single-stream file is built from the multistream's compressed
// streams instead of bzip2 running over that XML a second time (the largest cost of a dump set).
//
// A bz2 stream is "BZh" + level digit, then blocks, each starting with the 48-bit magic
// 0x314159265359 and the block's CRC, at any bit offset, then the end-of-stream magic
// 0x177245385090, the combined CRC (crc = rotl(crc, 1) ^ blockCrc over the blocks) and zero bits
// up to a byte. Blocks are found by their magic; a magic-like run inside compressed data is ruled
// out by checking the block CRCs against the stream's combined CRC. Imports core only.

import { JobError } from '../core/errors.js';

const BLOCK_MAGIC = 0x314159265359;
const END_MAGIC = 0x177245385090;
/** The header of the joined stream: level 9 allows blocks of any size up to 900k. */
const HEADER = Buffer.from('BZh9', 'latin1');
/** Bits before the first block: "BZh" and the level digit. */
const FIRST_BLOCK_BIT = 32;
/** Subsets of magic-like candidates tried before giving up (a false one is ~2^-48 per bit). */
const MAX_CANDIDATE_SUBSETS = 1 << 12;

/** `count` (≤ 48) bits at bit offset `bit`, most significant first, as bz2 writes them. */
function bitsAt(bytes: Uint8Array, bit: number, count: number): number {
  let value = 0;
  for (let i = 0; i < count; i++) {
    const at = bit + i;
    value = value * 2 + ((bytes[Math.floor(at / 8)]! >>> (7 - (at % 8))) & 1);
  }
  return value;
}

const rotateLeft = (crc: number, by: number): number => (by % 32 === 0 ? crc : ((crc << by % 32) | (crc >>> (32 - (by % 32)))) >>> 0);

function foldCrcs(crcs: readonly number[]): number {
  let crc = 0;
  for (const block of crcs) crc = (rotateLeft(crc, 1) ^ block) >>> 0;
  return crc;
}

/** For each bit shift 0-7: 5 bytes fully inside the block magic at that shift, and their byte offset in it. */
const MAGIC_PATTERNS: readonly { readonly shift: number; readonly bytes: Buffer; readonly skip: number }[] = (() => {
  const magic = Buffer.alloc(8);
  magic.writeUIntBE(BLOCK_MAGIC, 0, 6);
  const patterns = [];
  for (let shift = 0; shift < 8; shift++) {
    // At shift s the magic's bits start at bit s of byte b; bytes b+1..b+5 hold its bits 8-s..47-s.
    const first = shift === 0 ? 0 : 8 - shift;
    const bytes = Buffer.alloc(5);
    for (let j = 0; j < 5; j++) bytes[j] = bitsAt(magic, first + 8 * j, 8);
    patterns.push({ shift, bytes, skip: shift === 0 ? 0 : 1 });
  }
  return patterns;
})();

/** A parsed stream: its blocks are bits [32, endBit) of `bytes`. */
export interface Bz2StreamBlocks {
  readonly bytes: Uint8Array;
  readonly endBit: number;
  readonly blockCount: number;
  /** The stream's combined CRC. */
  readonly crc: number;
}

function invalid(detail: string): JobError {
  return new JobError('INTERNAL', `cannot join bz2 streams: ${detail}`);
}

/** Bit offsets of every block-magic match in bits [from, to). */
function magicCandidates(bytes: Buffer, from: number, to: number): number[] {
  const found = new Set<number>();
  for (const { shift, bytes: pattern, skip } of MAGIC_PATTERNS) {
    for (let at = bytes.indexOf(pattern); at !== -1; at = bytes.indexOf(pattern, at + 1)) {
      const bit = (at - skip) * 8 + shift;
      if (bit >= from && bit + 80 <= to && bitsAt(bytes, bit, 48) === BLOCK_MAGIC) found.add(bit);
    }
  }
  return [...found].sort((a, b) => a - b);
}

/**
 * How many of the magic matches at `starts` begin real blocks: all of them when their block CRCs
 * fold to the stream's CRC, else the first subset (always with the first) that does; undefined
 * when none does.
 */
function realBlocks(bytes: Buffer, starts: readonly number[], streamCrc: number): number | undefined {
  const crcs = starts.map((bit) => bitsAt(bytes, bit + 48, 32));
  const optional = starts.length - 1;
  const subsets = Math.min(2 ** optional, MAX_CANDIDATE_SUBSETS);
  // Mask 0 keeps every candidate (the usual case); each set bit of a mask drops one.
  for (let drop = 0; drop < subsets; drop++) {
    const kept = crcs.filter((_crc, i) => i === 0 || (drop & (1 << (i - 1))) === 0);
    if (foldCrcs(kept) === streamCrc) return kept.length;
  }
  return undefined;
}

/** Finds the blocks of one complete bz2 stream (as lbzip2 or bzip2 writes it, one per call). */
export function parseBz2Stream(stream: Uint8Array): Bz2StreamBlocks {
  const bytes = Buffer.isBuffer(stream) ? stream : Buffer.from(stream.buffer, stream.byteOffset, stream.length);
  if (bytes.length < 14 || bytes.toString('latin1', 0, 3) !== 'BZh' || bytes[3]! < 0x31 || bytes[3]! > 0x39) {
    throw invalid(`expected a stream starting with "BZh1".."BZh9", found ${JSON.stringify(bytes.toString('latin1', 0, 4))} (${bytes.length} bytes)`);
  }
  const totalBits = bytes.length * 8;
  for (let padding = 0; padding < 8; padding++) {
    const endBit = totalBits - padding - 80;
    if (endBit < FIRST_BLOCK_BIT || bitsAt(bytes, endBit, 48) !== END_MAGIC || bitsAt(bytes, totalBits - padding, padding) !== 0) continue;
    const crc = bitsAt(bytes, endBit + 48, 32);
    if (endBit === FIRST_BLOCK_BIT) {
      if (crc === 0) return { bytes, endBit, blockCount: 0, crc };
      continue;
    }
    const starts = magicCandidates(bytes, FIRST_BLOCK_BIT, endBit);
    if (starts[0] !== FIRST_BLOCK_BIT) continue;
    const blockCount = realBlocks(bytes, starts, crc);
    if (blockCount !== undefined) return { bytes, endBit, blockCount, crc };
  }
  throw invalid(`the ${bytes.length}-byte stream has no end-of-stream marker whose CRC matches its blocks`);
}

/**
 * Writes one bz2 stream made of the blocks of the streams appended to it, in order. `append` and
 * `finish` return the bytes of the joined stream completed so far; write them out in order.
 */
export class Bz2StreamJoiner {
  private started = false;
  /** Bits not yet a whole byte, in the high bits of `partial`. */
  private partial = 0;
  private partialBits = 0;
  private crc = 0;

  append(stream: Uint8Array): Buffer {
    const blocks = parseBz2Stream(stream);
    const header = this.started ? 0 : HEADER.length;
    const out = Buffer.allocUnsafe(header + Math.ceil((this.partialBits + blocks.endBit - FIRST_BLOCK_BIT) / 8));
    if (!this.started) HEADER.copy(out, 0);
    this.started = true;
    let at = header;
    const wholeEnd = Math.floor(blocks.endBit / 8);
    const source = blocks.bytes;
    if (this.partialBits === 0) {
      out.set(source.subarray(FIRST_BLOCK_BIT / 8, wholeEnd), at);
      at += wholeEnd - FIRST_BLOCK_BIT / 8;
    } else {
      const keep = this.partialBits;
      let partial = this.partial;
      for (let i = FIRST_BLOCK_BIT / 8; i < wholeEnd; i++) {
        const byte = source[i]!;
        out[at++] = partial | (byte >>> keep);
        partial = (byte << (8 - keep)) & 0xff;
      }
      this.partial = partial;
    }
    const tailBits = blocks.endBit % 8;
    if (tailBits > 0) at = this.pushBits(out, at, source[wholeEnd]! >>> (8 - tailBits), tailBits);
    this.crc = (rotateLeft(this.crc, blocks.blockCount) ^ blocks.crc) >>> 0;
    return out.subarray(0, at);
  }

  /** The end-of-stream marker, the combined CRC and the last byte; the joiner is done after this. */
  finish(): Buffer {
    const out = Buffer.allocUnsafe((this.started ? 0 : HEADER.length) + 11);
    let at = 0;
    if (!this.started) at += HEADER.copy(out, 0);
    this.started = true;
    at = this.pushBits(out, at, Math.floor(END_MAGIC / 2 ** 24), 24);
    at = this.pushBits(out, at, END_MAGIC % 2 ** 24, 24);
    at = this.pushBits(out, at, this.crc >>> 16, 16);
    at = this.pushBits(out, at, this.crc & 0xffff, 16);
    if (this.partialBits > 0) out[at++] = this.partial;
    this.partial = 0;
    this.partialBits = 0;
    return out.subarray(0, at);
  }

  /** Appends the low `count` (≤ 24) bits of `value` to `out` at `at`; returns the new `at`. */
  private pushBits(out: Buffer, at: number, value: number, count: number): number {
    for (let i = count - 1; i >= 0; i--) {
      this.partial |= ((value >>> i) & 1) << (7 - this.partialBits);
      if (++this.partialBits === 8) {
        out[at++] = this.partial;
        this.partial = 0;
        this.partialBits = 0;
      }
    }
    return at;
  }
}
