// A pino logger whose lines a test reads back.

import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

/** A logger at `level`, the parsed lines it wrote (msg and bindings) in order, and their messages. */
export function capturingLogger(level: 'trace' | 'debug' | 'info' | 'warn' = 'warn'): { logger: Logger; lines: Record<string, unknown>[]; messages: () => string[] } {
  const lines: Record<string, unknown>[] = [];
  const out = new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level }, out), lines, messages: () => lines.map((line) => String(line.msg)) };
}
