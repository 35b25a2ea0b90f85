import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';

/** File under the data dir that holds the generated master key when KIS_MASTER_KEY is not set. */
export const MASTER_KEY_FILE = 'master.key';

function decode(text: string): Buffer {
  const trimmed = text.trim();
  return /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
}

/**
 * The 32-byte master key that encrypts secrets at rest: KIS_MASTER_KEY, else `<data>/master.key`,
 * generated on first start with mode 0600. Back it up together with the database: without it,
 * encrypted fields cannot be read.
 */
export async function loadMasterKey(config: Pick<Config, 'KIS_MASTER_KEY' | 'dataDir'>): Promise<Buffer> {
  if (config.KIS_MASTER_KEY) return decode(config.KIS_MASTER_KEY);
  const file = path.join(config.dataDir, MASTER_KEY_FILE);
  try {
    const key = decode(await readFile(file, 'utf8'));
    if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte key`);
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  // 'wx' fails if a concurrent start wrote it first; then read theirs.
  try {
    await writeFile(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return decode(await readFile(file, 'utf8'));
  }
}
