import { createHash } from 'node:crypto';
import { TooLarge } from '../../errors.js';
import type { ByteSource, StoredFile } from './file-store.js';
import { SNIFF_BYTES, sniffType } from './sniff.js';

/** Where received bytes go: opened once the type is known, then written in order. */
export interface ByteSink {
  open(contentType: string): Promise<void>;
  write(chunk: Buffer): Promise<void>;
}

/**
 * Reads an upload to its end into `sink`: counts (more than `maxBytes` throws TooLarge), hashes,
 * and sniffs the type from the first bytes before the sink opens. On any error the source is
 * destroyed (a client still sending is cut off) and the error thrown; the sink's owner cleans up.
 */
export async function receiveBytes(source: ByteSource, maxBytes: number, sink: ByteSink): Promise<StoredFile> {
  const hash = createHash('sha256');
  let size = 0;
  const head: Buffer[] = [];
  let headBytes = 0;
  let opened = false;
  let contentType = 'application/octet-stream';
  const open = async (): Promise<void> => {
    const first = Buffer.concat(head);
    head.length = 0;
    contentType = await sniffType(first.subarray(0, SNIFF_BYTES));
    opened = true;
    await sink.open(contentType);
    if (first.length) await sink.write(first);
  };
  try {
    for await (const piece of source) {
      const chunk = Buffer.isBuffer(piece) ? piece : Buffer.from(piece);
      size += chunk.length;
      if (size > maxBytes) throw new TooLarge('file_too_large');
      hash.update(chunk);
      if (opened) {
        await sink.write(chunk);
        continue;
      }
      head.push(chunk);
      headBytes += chunk.length;
      if (headBytes >= SNIFF_BYTES) await open();
    }
    if (!opened) await open();
    return { size, sha256: hash.digest('hex'), contentType };
  } catch (err) {
    source.destroy?.();
    throw err;
  }
}
