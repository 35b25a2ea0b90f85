/**
 * A one-way pipe of values with backpressure: `push` resolves when the reader has taken the value,
 * so a large stored file passes through a restore one piece at a time.
 *
 * @example
 * const pieces = new Pipe<Buffer>();
 * const done = store(pieces); // reads `for await (const piece of pieces)`
 * await pieces.push(chunk);
 * pieces.end();
 * await done;
 */
export class Pipe<T> implements AsyncIterable<T> {
  private waiting: { value: T; taken: () => void } | undefined;
  private wake: (() => void) | undefined;
  private ended = false;
  private failed = false;

  push(value: T): Promise<void> {
    if (this.failed) return Promise.reject(new Error('the reader stopped'));
    return new Promise((taken) => {
      this.waiting = { value, taken };
      this.wake?.();
    });
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  /** The reader gave up: pushes fail instead of waiting. */
  fail(): void {
    this.failed = true;
    this.waiting?.taken();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      if (this.waiting) {
        const { value, taken } = this.waiting;
        this.waiting = undefined;
        taken();
        yield value;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}
