import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { which } from './which.js';

/** A user the child runs as (PostgreSQL refuses to run as root). */
export interface RunAs {
  uid: number;
  gid: number;
}

/** A server process that lives no longer than the KIS process that started it. */
export interface TiedProcess {
  pid: number;
  /** True once the process has exited. */
  readonly exited: boolean;
  /** Settles when the process exits. */
  whenExited: Promise<void>;
  /** Sends `signal`, waits up to 10 s, then kills. Settles when the process is gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts a server binary tied to this process. setpriv asks the kernel to send `deathSignal` to it
 * when this process dies, even by SIGKILL, so no orphan survives a crash. The server runs in its
 * own process group so that Ctrl-C reaches only us, and we stop it after the last write instead of
 * racing it. Its output goes to `logFile`.
 */
export async function spawnTied(options: {
  binary: string;
  args: readonly string[];
  logFile: string;
  runAs?: RunAs | undefined;
  deathSignal?: NodeJS.Signals;
}): Promise<TiedProcess> {
  const setpriv = await which('setpriv');
  const deathSignal = options.deathSignal ?? 'SIGTERM';
  // setpriv runs after the uid change (spawn's uid/gid), so the death signal survives it.
  const [command, args] = setpriv
    ? [setpriv, ['--pdeathsig', deathSignal, '--', options.binary, ...options.args]]
    : [options.binary, [...options.args]];
  const out = openSync(options.logFile, 'a', 0o600);
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      detached: true,
      stdio: ['ignore', out, out],
      ...(options.runAs ? { uid: options.runAs.uid, gid: options.runAs.gid } : {}),
    });
  } finally {
    closeSync(out);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`Could not start ${options.binary}`);
  let exited = false;
  const whenExited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  child.unref();
  let stopping: Promise<void> | undefined;
  return {
    pid,
    get exited() {
      return exited;
    },
    whenExited,
    stop: (signal = 'SIGTERM') =>
      (stopping ??= (async () => {
        if (exited) return;
        process.kill(pid, signal);
        // The deadline's timer keeps this process alive while it waits (the child itself is
        // unref'd) and is cancelled as soon as the child is gone, so no exit waits for it.
        const deadline = new AbortController();
        const gone = await Promise.race([
          whenExited.then(() => true),
          sleep(10_000, false, { signal: deadline.signal }).catch(() => false),
        ]);
        deadline.abort();
        if (!gone) {
          process.kill(pid, 'SIGKILL');
          await whenExited;
        }
      })()),
  };
}

/** Sends a signal and ignores a process that is already gone. */
export function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
