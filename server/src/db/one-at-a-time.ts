/**
 * Runs changes that share a key one after another within this process (a key names what they
 * change: `throttle:<key>`, `quota:<user>`, `invoice:<id>`). A conditional update
 * ("take one attempt if any is left") is atomic on MongoDB, but FerretDB's SQLite backend reads,
 * changes and writes the document: measured, 100 parallel `updateOne({ left: { $gt: 0 } },
 * { $inc: { left: -1 } })` on `left: 5` reported 79 documents changed. Queuing the changes of one
 * key makes them exact on both; across several server processes the conditional update itself
 * still holds on MongoDB.
 *
 * @example
 * const reserved = await oneAtATime(`throttle:${key}`, () => takeAttempt(key));
 */
export function oneAtATime<T>(key: string, change: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve();
  const next = previous.then(change, change);
  const settled = next.catch(() => undefined);
  queues.set(key, settled);
  void settled.then(() => {
    if (queues.get(key) === settled) queues.delete(key);
  });
  return next;
}

const queues = new Map<string, Promise<unknown>>();
