/**
 * Moving one big file the way the file benchmarks do: a source of incompressible bytes written
 * once, the raw file-stream copy that is the ceiling, and an HTTP upload and download streamed
 * from and to disk with backpressure, the download hashed as it arrives.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import http, { type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { readText } from './common.js';

const MiB = 1024 * 1024;

/** One timed transfer: how many bytes, how long, and the sha256 of what the receiving side got. */
export interface Transfer {
  bytes: number;
  ms: number;
  sha256: string;
}

/** A transfer's throughput in MiB/s, to one decimal. */
export function mibPerSecond(transfer: Pick<Transfer, 'bytes' | 'ms'>): number {
  return Math.round((transfer.bytes / MiB / (transfer.ms / 1000)) * 10) / 10;
}

/**
 * `mib` MiB of bytes no compressor or deduplicator can shrink, cheaply: one random MiB, rotated by
 * a different offset for every MiB and stamped with its index, so that no two chunks are alike.
 */
function* pseudoRandom(mib: number): Generator<Buffer> {
  const base = randomBytes(MiB);
  for (let i = 0; i < mib; i++) {
    const at = (i * 40_503) % MiB;
    const chunk = Buffer.concat([base.subarray(at), base.subarray(0, at)]);
    chunk.writeUInt32BE(i, 0);
    yield chunk;
  }
}

/**
 * Writes a source file of `mib` MiB once and makes it durable; returns its sha256. Durable, so that
 * the disk's write-back of the source does not run under the timed copy and transfers (measured in
 * the volume run: the upload, which flushes its own bytes before it answers, then waited behind a
 * gigabyte of the source's).
 */
export async function writeSource(file: string, mib: number): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(
    Readable.from(pseudoRandom(mib)),
    new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    }),
    createWriteStream(file),
  );
  const handle = await open(file, 'r+');
  await handle.datasync().finally(() => handle.close());
  return hash.digest('hex');
}

/** Raw file-stream copy on the same disk, the copy removed after: the ceiling of moving the bytes at all. */
export async function copyFile(source: string, target: string): Promise<Transfer> {
  const { size } = await stat(source);
  const t0 = performance.now();
  await pipeline(createReadStream(source), createWriteStream(target));
  const ms = performance.now() - t0;
  await rm(target, { force: true });
  return { bytes: size, ms, sha256: '' };
}

/**
 * POSTs a file as its body through node:http, streamed from disk with backpressure; the time runs
 * until the whole answer has arrived (the server answers once the file is stored). The caller checks
 * the answer: a server may answer and close before the request's own `finish`, so the send side's
 * premature close alone is no failure.
 */
export async function upload(
  url: string,
  file: string,
  headers: OutgoingHttpHeaders,
): Promise<{ ms: number; body: string }> {
  const { size } = await stat(file);
  const t0 = performance.now();
  const req = http.request(url, {
    method: 'POST',
    agent: false,
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(size), ...headers },
  });
  const answered = once(req, 'response') as Promise<[IncomingMessage]>;
  // A server that refuses early closes the connection while we still send: its answer says why.
  const sent = pipeline(createReadStream(file), req).catch(() => undefined);
  const [res] = await answered;
  const body = await readText(res);
  const ms = performance.now() - t0;
  await sent;
  if (res.statusCode !== 200) throw new Error(`upload to ${url}: ${res.statusCode} ${body}`);
  return { ms, body };
}

/** GETs a body through node:http and hashes it as it streams in; nothing is kept. */
export async function download(url: string, headers: OutgoingHttpHeaders): Promise<Transfer> {
  const t0 = performance.now();
  const req = http.get(url, { agent: false, headers });
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  if (res.statusCode !== 200) throw new Error(`download from ${url}: ${res.statusCode} ${await readText(res)}`);
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of res) {
    bytes += (chunk as Buffer).length;
    hash.update(chunk as Buffer);
  }
  return { bytes, ms: performance.now() - t0, sha256: hash.digest('hex') };
}
