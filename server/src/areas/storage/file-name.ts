import { hasUnsafeFileNameChars } from '@kis/protocol/api';
import { Invalid } from '../../errors.js';

/**
 * A file name fit to store and to offer for download: NFC, no path separators or control
 * characters, not `.` or `..`, at most 255 UTF-8 bytes. Anything else is refused, not repaired,
 * so the user sees what was wrong.
 */
export function cleanFileName(raw: string): string {
  const name = raw.normalize('NFC').trim();
  if (!name || name === '.' || name === '..') throw new Invalid('file_name_invalid', 'empty file name');
  if (hasUnsafeFileNameChars(name))
    throw new Invalid('file_name_invalid', 'path separators or control characters in a file name');
  if (Buffer.byteLength(name) > 255) throw new Invalid('file_name_invalid', 'file name longer than 255 bytes');
  return name;
}
