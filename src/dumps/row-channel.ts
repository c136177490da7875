// A bounded hand-off from one producer to one consumer: the one pass over a wiki's history feeds
// every output of a dump set through one channel each, so a slow compressor holds the pass back
// (bounded memory) instead of the rows piling up. Imports core only.

import { JobError } from '../core/errors.js';

/** What `push` throws once the consumer has stopped: a consequence of the consumer's own error. */
export class ReaderGoneError extends JobError {
  constructor(message: string) {
    super('INTERNAL', message);
  }
}

/**
 * `push` waits while more than `maxWeight` (e.g. content bytes) is queued; the consumer iterates
 * with `for await`. `close` ends the iteration after the queued items, `fail` ends it with an
 * error. A consumer that stops iterating early makes later pushes reject, so the producer stops.
 */
export class RowChannel<T> implements AsyncIterable<T> {
  private readonly items: (T | undefined)[] = [];
  private readonly weights: number[] = [];
  private queuedWeight = 0;
  private closed = false;
  private failure: { readonly error: unknown } | undefined;
  private abandoned = false;
  private wakeConsumer: (() => void) | undefined;
  private wakeProducer: (() => void) | undefined;

  constructor(
    private readonly name: string,
    private readonly maxWeight: number,
    private readonly weigh: (item: T) => number,
  ) {}

  async push(item: T): Promise<void> {
    while (!this.abandoned && this.failure === undefined && this.queuedWeight > this.maxWeight) {
      await new Promise<void>((resolve) => (this.wakeProducer = resolve));
    }
    if (this.failure !== undefined) throw new ReaderGoneError(`the ${this.name} writer was stopped by an earlier failure`);
    if (this.abandoned) throw new ReaderGoneError(`the ${this.name} writer stopped reading before the rows ended`);
    const weight = this.weigh(item);
    this.items.push(item);
    this.weights.push(weight);
    this.queuedWeight += weight;
    this.wake('consumer');
  }

  close(): void {
    this.closed = true;
    this.wake('consumer');
  }

  /** Ends the iteration with `error` and makes pushes reject: a writer that never started reading must not hold the producer. */
  fail(error: unknown): void {
    this.failure ??= { error };
    this.wake('consumer');
    this.wake('producer');
  }

  private wake(side: 'consumer' | 'producer'): void {
    const wake = side === 'consumer' ? this.wakeConsumer : this.wakeProducer;
    if (side === 'consumer') this.wakeConsumer = undefined;
    else this.wakeProducer = undefined;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    let head = 0;
    try {
      for (;;) {
        if (this.failure !== undefined) throw this.failure.error;
        if (head < this.items.length) {
          const item = this.items[head] as T;
          this.items[head] = undefined; // the writer holds it now; the queue must not keep it alive
          this.queuedWeight -= this.weights[head]!;
          head++;
          // Drop consumed slots in batches: shifting one at a time is quadratic.
          if (head === this.items.length || head >= 1024) {
            this.items.splice(0, head);
            this.weights.splice(0, head);
            head = 0;
          }
          this.wake('producer');
          yield item;
          continue;
        }
        if (this.closed) return;
        await new Promise<void>((resolve) => (this.wakeConsumer = resolve));
      }
    } finally {
      this.abandoned = true;
      this.wake('producer');
    }
  }
}
