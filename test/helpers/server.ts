import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';

/** The repository root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The built server's entry point: tests run what `npm start` runs. */
export const SERVER_ENTRY = path.join(ROOT, 'server/dist/main.js');

/** A KIS server started for a test. */
export interface TestServer {
  /** http://127.0.0.1:<port> */
  url: string;
  httpPort: number;
  udpPort: number;
  dataDir: string;
  /** The database URI the server uses (with its own database name). */
  mongoUri: string;
  /** What the server printed to stderr so far (the first-admin link, start-up errors). */
  stderr(): string;
  /** Every log line so far, parsed. */
  logs: Array<Record<string, unknown>>;
  process: ChildProcess;
  /** SIGTERM and wait for exit; returns the exit code. Removes the temporary data dir. */
  stop(): Promise<number | null>;
}

/** A fresh database name on the run's database server, so tests never see each other's data. */
export function testDatabaseUri(): string {
  return `${inject('mongoUri')}kis_test_${randomBytes(6).toString('hex')}`;
}

/** Environment of the test process without the settings a test must choose itself. */
function baseEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !key.startsWith('KIS_') && key !== 'MONGODB_URI' && key !== 'SMTP_URL',
    ),
  );
}

/** Waits for a child process to exit and returns its code (null when killed by a signal). */
export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/**
 * Starts the built server on free ports with a temporary data dir and its own database.
 * `env` overrides anything; pass `MONGODB_URI: undefined`-free env with `embedded: true` to let the
 * server provision its own embedded database.
 */
export async function startServer(
  options: { env?: Record<string, string>; embedded?: boolean; dataDir?: string } = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'kis-server-')));
  const mongoUri = options.embedded ? '' : testDatabaseUri();
  const env: NodeJS.ProcessEnv = {
    ...baseEnv(),
    NODE_ENV: 'test',
    KIS_DATA_DIR: dataDir,
    KIS_HTTP_PORT: '0',
    KIS_UDP_PORT: '0',
    KIS_LOG_LEVEL: 'info',
    // Tests log in often; cost 4 keeps bcrypt real but fast. The benchmark measures cost 12.
    KIS_BCRYPT_COST: '4',
    // Tests claim client addresses through X-Forwarded-For from loopback.
    KIS_TRUST_PROXY: 'loopback',
    // The default install keeps file bytes on the disk; a database server named by MONGODB_URI would
    // otherwise get them in GridFS (test/server/areas/file-stores.int.test.ts covers both).
    KIS_FILE_STORE: 'disk',
    ...(options.embedded ? {} : { MONGODB_URI: mongoUri }),
    ...options.env,
  };
  const child = spawn(process.execPath, [SERVER_ENTRY], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));

  const ports = await new Promise<{ httpPort: number; udpPort: number }>((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`server did not start in 60 s: ${stderr}`)), 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          if (entry.msg === 'listening') {
            clearTimeout(timer);
            resolve({ httpPort: Number(entry.httpPort), udpPort: Number(entry.udpPort) });
          }
        } catch {
          // not a log line
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening: ${stderr}`));
    });
  });

  let stopped: Promise<number | null> | undefined;
  return {
    url: `http://127.0.0.1:${ports.httpPort}`,
    ...ports,
    dataDir,
    mongoUri,
    logs,
    stderr: () => stderr,
    process: child,
    stop: () =>
      (stopped ??= (async () => {
        const done = exited(child);
        child.kill('SIGTERM');
        const code = await done;
        if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
        return code;
      })()),
  };
}

/** Polls until `check` returns true, or fails after the timeout. */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
