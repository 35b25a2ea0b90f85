import { fileTypeFromBuffer } from 'file-type';

/** How many leading bytes the type sniffer looks at (what file-type needs for every format it knows). */
export const SNIFF_BYTES = 4100;

/**
 * The type of a file from its first bytes: a known binary format by its signature, UTF-8 text
 * without NUL bytes as text, anything else as opaque bytes. The uploader's claim is not asked.
 */
export async function sniffType(head: Buffer): Promise<string> {
  const found = await fileTypeFromBuffer(head);
  if (found) return found.mime;
  if (head.length === 0) return 'application/octet-stream';
  if (head.includes(0)) return 'application/octet-stream';
  // A multi-byte character may be cut at the end of the head: decode all but its last 3 bytes strictly.
  const whole = head.length < SNIFF_BYTES ? head : head.subarray(0, head.length - 3);
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(whole);
    return 'text/plain; charset=utf-8';
  } catch {
    return 'application/octet-stream';
  }
}
