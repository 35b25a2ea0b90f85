/**
 * Benchmark: upload and download of one big file (1 GiB by default) through the file exchange
 * (HTTP → sha256 → the file store and back: sealed files on the disk for the embedded database,
 * GridFS with --store database or an external MongoDB), beside a raw file-stream copy and a bare node:http loopback
 * transfer of the same bytes measured in the same run (the ceilings); and the server's resident
 * memory while the bytes flow, which must stay flat whatever the file's size. Prints one JSON object.
 *
 *   npm run bench:files [-- --mib 1024 --runs 3 --store disk|database]
 *
 * Talks to 127.0.0.1 only. Needs twice the file's size in the temporary directory, and the
 * database's share besides.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { SMTPServer } from 'smtp-server';
import { provisionDatabase } from '../../server/src/db/provision.js';
import {
  BENCH_PASSWORD,
  adminSession,
  log,
  login,
  post,
  startServer,
  stats,
  stopServer,
  type RunningServer,
  type Session,
} from './common.js';
import { copyFile, download, mibPerSecond, upload, writeSource, type Transfer } from './file-transfer.js';
import { rssMib, watchPeak } from './process-watch.js';

const MiB = 1024 * 1024;

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '1024' },
    runs: { type: 'string', default: '3' },
    store: { type: 'string' },
  },
});
const SIZE_MIB = Number(values.mib);
const RUNS = Number(values.runs);
if (!Number.isInteger(SIZE_MIB) || SIZE_MIB < 1) throw new Error('--mib must be a whole number of MiB, at least 1');
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error('--runs must be a whole number, at least 1');
const CUSTOMER_EMAIL = 'kunde@bench.example';
/** Where the server keeps the bytes (set once the database is known). */
let STORE = values.store ?? 'disk';

/** Resident memory of one process over a transfer, in MiB. */
interface RssRun {
  before: number;
  maxUpload: number;
  maxDownload: number;
  after: number;
  /** Largest sample during the transfers minus `before`: what the transfer of the file itself cost. */
  growth: number;
}

/** The largest sample of a process's memory over all runs, in MiB. */
function peak(runs: RssRun[]): number {
  return Math.max(...runs.map((r) => Math.max(r.maxUpload, r.maxDownload)));
}

/** Median and every run of a throughput, in MiB/s. */
function summary(samples: number[]): { median: number; runs: number[] } {
  return { median: stats(samples).median, runs: samples };
}

/**
 * A bare node:http server in its own process, as KIS runs in its own: POST reads the body and
 * drops it, GET streams the source file. The ceiling of an HTTP transfer over loopback.
 */
async function startBareHttp(file: string): Promise<{ url: string; stop: () => void }> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const http=require('node:http'),fs=require('node:fs');const file=process.env.BENCH_FILE;
       const server=http.createServer((q,s)=>{
         if(q.method==='POST'){let n=0;q.on('data',(c)=>{n+=c.length});q.on('end',()=>s.end(JSON.stringify({size:n})));return}
         s.writeHead(200,{'content-type':'application/octet-stream','content-length':fs.statSync(file).size});
         fs.createReadStream(file).pipe(s);
       });
       server.listen(0,'127.0.0.1',()=>process.stdout.write(String(server.address().port)+'\\n'));`,
    ],
    { env: { BENCH_FILE: file }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve) =>
    child.stdout.once('data', (c: Buffer) => resolve(Number(c.toString()))),
  );
  return { url: `http://127.0.0.1:${port}/`, stop: () => child.kill() };
}

/**
 * A mail catcher on 127.0.0.1: the server mails the registration code here (the outbox shows
 * operators one-time codes masked, so the benchmark reads the mail as a customer would).
 */
async function startMailCatcher(): Promise<{ url: string; mails: string[]; close(): Promise<void> }> {
  const mails: string[] = [];
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        mails.push(Buffer.concat(chunks).toString('utf8'));
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const { port } = smtp.server.address() as { port: number };
  return { url: `smtp://127.0.0.1:${port}`, mails, close: () => new Promise((resolve) => smtp.close(resolve)) };
}

/** Registers a customer through the real flow (register, code by mail, password) and logs it in. */
async function customerSession(server: RunningServer, inbox: { mails: string[] }): Promise<Session> {
  const registered = await post(`${server.url}/api/auth/register`, { email: CUSTOMER_EMAIL });
  if (registered.status !== 202) throw new Error(`registration: ${registered.status} ${await registered.text()}`);
  let code: string | undefined;
  for (let i = 0; i < 200 && !code; i++) {
    // The code stands indented on a line of its own in the body.
    code = inbox.mails
      .filter((m) => m.includes(CUSTOMER_EMAIL))
      .map((m) => /^ {4}(\d{6})\r?$/m.exec(m)?.[1])
      .find(Boolean);
    if (!code) await sleep(50);
  }
  if (!code) throw new Error('no registration code arrived by mail');
  const verified = await post(`${server.url}/api/auth/verify`, { purpose: 'register', email: CUSTOMER_EMAIL, code });
  if (!verified.ok) throw new Error(`verification: ${verified.status} ${await verified.text()}`);
  const { setupToken } = (await verified.json()) as { setupToken: string };
  const set = await post(`${server.url}/api/auth/password/setup`, { setupToken, password: BENCH_PASSWORD });
  if (!set.ok) throw new Error(`password set-up: ${set.status} ${await set.text()}`);
  return login(server.url, CUSTOMER_EMAIL);
}

/** One upload and download of the source file through KIS, the server's memory watched throughout. */
async function kisRound(
  server: RunningServer,
  session: Session,
  source: { file: string; sha256: string },
  watched: { server: number; database: number | undefined },
): Promise<{ upload: Transfer; download: Transfer; rss: RssRun; databaseRss: RssRun | undefined }> {
  const headers = { cookie: session.cookie, 'x-csrf-token': session.csrfToken };
  const before = await rssMib(watched.server);
  const dbBefore = watched.database ? await rssMib(watched.database) : 0;

  let serverWatch = watchPeak(watched.server);
  let dbWatch = watched.database ? watchPeak(watched.database) : undefined;
  const name = encodeURIComponent(`Baupläne ${SIZE_MIB} MiB.bin`);
  const sent = await upload(`${server.url}/api/files?name=${name}`, source.file, headers);
  const maxUpload = await serverWatch.stop();
  const dbMaxUpload = (await dbWatch?.stop()) ?? 0;
  const stored = JSON.parse(sent.body) as { id: string; size: number; sha256: string };
  if (stored.size !== SIZE_MIB * MiB || stored.sha256 !== source.sha256)
    throw new Error(`the server stored ${stored.size} bytes with sha256 ${stored.sha256}, not the file sent`);

  serverWatch = watchPeak(watched.server);
  dbWatch = watched.database ? watchPeak(watched.database) : undefined;
  const got = await download(`${server.url}/api/files/${stored.id}`, { cookie: session.cookie });
  const maxDownload = await serverWatch.stop();
  const dbMaxDownload = (await dbWatch?.stop()) ?? 0;
  if (got.bytes !== SIZE_MIB * MiB || got.sha256 !== source.sha256)
    throw new Error(`downloaded ${got.bytes} bytes with sha256 ${got.sha256}, not the file uploaded`);

  // Each run starts from the same amount of stored data.
  const removed = await fetch(`${server.url}/api/files/${stored.id}`, { method: 'DELETE', headers });
  if (!removed.ok) throw new Error(`delete: ${removed.status} ${await removed.text()}`);
  await sleep(500);
  const round = (x: number): number => Math.round(x * 10) / 10;
  const rssRun = (b: number, up: number, down: number, after: number): RssRun => ({
    before: b,
    maxUpload: up,
    maxDownload: down,
    after,
    growth: round(Math.max(up, down) - b),
  });
  return {
    upload: { bytes: stored.size, ms: sent.ms, sha256: stored.sha256 },
    download: got,
    rss: rssRun(before, maxUpload, maxDownload, await rssMib(watched.server)),
    databaseRss: watched.database
      ? rssRun(dbBefore, dbMaxUpload, dbMaxDownload, await rssMib(watched.database))
      : undefined,
  };
}

async function main(): Promise<void> {
  const dbDir = await mkdtemp(path.join(os.tmpdir(), 'kis-bench-db-'));
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'kis-bench-files-'));
  const db = await provisionDatabase({ dataDir: dbDir, mongodbUri: process.env.MONGODB_URI, only: 'ferretdb' });
  const mongoBase = db.uri.replace(/\/[^/]*(\?.*)?$/, '/');
  STORE = values.store ?? (db.kind === 'external' ? 'database' : 'disk');
  let bare: Awaited<ReturnType<typeof startBareHttp>> | undefined;
  let server: RunningServer | undefined;
  let inbox: Awaited<ReturnType<typeof startMailCatcher>> | undefined;
  try {
    log(`writing a ${SIZE_MIB} MiB source file …`);
    const file = path.join(workDir, 'source.bin');
    const sha256 = await writeSource(file, SIZE_MIB);

    bare = await startBareHttp(file);
    inbox = await startMailCatcher();
    server = await startServer(mongoBase, {
      SMTP_URL: inbox.url,
      // Where the default install keeps file bytes: on the disk beside the embedded database,
      // in GridFS on a MongoDB named by MONGODB_URI (or as --store says).
      KIS_FILE_STORE: STORE,
      KIS_BCRYPT_COST: '4',
      KIS_FILE_MAX_MB: String(Math.max(4096, SIZE_MIB)),
      KIS_FILE_QUOTA_MB: String(Math.max(8192, 2 * SIZE_MIB)),
    });
    const serverPid = server.child.pid;
    if (serverPid === undefined) throw new Error('the server has no process id');
    // The first operator exists as in any installation (the customer's registration mails them).
    await adminSession(server);
    const customer = await customerSession(server, inbox);

    const results = {
      fileCopy: [] as number[],
      httpUpload: [] as number[],
      httpDownload: [] as number[],
      kisUpload: [] as number[],
      kisDownload: [] as number[],
      rss: [] as RssRun[],
      databaseRss: [] as RssRun[],
    };
    // Interleaved, so that a machine that slows down over the run slows every contender alike.
    for (let run = 1; run <= RUNS; run++) {
      log(`run ${run}/${RUNS}: raw file copy …`);
      results.fileCopy.push(mibPerSecond(await copyFile(file, path.join(workDir, 'copy.bin'))));
      log(`run ${run}/${RUNS}: bare HTTP upload and download …`);
      const bareUp = await upload(bare.url, file, {});
      if ((JSON.parse(bareUp.body) as { size: number }).size !== SIZE_MIB * MiB)
        throw new Error(`the bare HTTP server got ${bareUp.body}`);
      results.httpUpload.push(mibPerSecond({ bytes: SIZE_MIB * MiB, ms: bareUp.ms }));
      const bareDown = await download(bare.url, {});
      if (bareDown.sha256 !== sha256) throw new Error('the bare HTTP server sent other bytes');
      results.httpDownload.push(mibPerSecond(bareDown));
      log(`run ${run}/${RUNS}: KIS upload and download …`);
      const kis = await kisRound(server, customer, { file, sha256 }, { server: serverPid, database: db.pid });
      results.kisUpload.push(mibPerSecond(kis.upload));
      results.kisDownload.push(mibPerSecond(kis.download));
      results.rss.push(kis.rss);
      if (kis.databaseRss) results.databaseRss.push(kis.databaseRss);
      log(
        `  copy ${results.fileCopy.at(-1)} MiB/s; HTTP ↑${results.httpUpload.at(-1)} ↓${results.httpDownload.at(-1)} MiB/s; ` +
          `KIS ↑${results.kisUpload.at(-1)} ↓${results.kisDownload.at(-1)} MiB/s; server RSS ${JSON.stringify(kis.rss)}; ` +
          `database RSS ${JSON.stringify(kis.databaseRss ?? null)}`,
      );
    }

    const median = (xs: number[]): number => stats(xs).median;
    const ratio = (a: number[], b: number[]): number => Math.round((median(a) / median(b)) * 100) / 100;
    process.stdout.write(
      `${JSON.stringify(
        {
          benchmark: 'files',
          machine: { cpus: os.cpus().length, node: process.version, database: db.kind },
          fileMiB: SIZE_MIB,
          runs: RUNS,
          baseline: {
            fileCopy: {
              what: 'fs.createReadStream → fs.createWriteStream in the same temporary directory',
              mibPerSecond: summary(results.fileCopy),
            },
            httpUpload: {
              what: 'node:http POST over loopback to a bare server that drops the body',
              mibPerSecond: summary(results.httpUpload),
            },
            httpDownload: {
              what: 'node:http GET over loopback from a bare server streaming the file, hashed by the client',
              mibPerSecond: summary(results.httpDownload),
            },
          },
          kis: {
            upload: {
              what: `POST /api/files: session, quota, sha256, into the ${STORE} store`,
              mibPerSecond: summary(results.kisUpload),
            },
            download: {
              what: `GET /api/files/:id streamed from the ${STORE} store, hashed by the client`,
              mibPerSecond: summary(results.kisDownload),
            },
            sha256Verified: true,
          },
          ratio: {
            uploadToFileCopy: ratio(results.kisUpload, results.fileCopy),
            uploadToHttp: ratio(results.kisUpload, results.httpUpload),
            downloadToFileCopy: ratio(results.kisDownload, results.fileCopy),
            downloadToHttp: ratio(results.kisDownload, results.httpDownload),
          },
          serverRssMiB: {
            runs: results.rss,
            maxGrowth: Math.max(...results.rss.map((r) => r.growth)),
            // Memory one run took and kept hides the next run's growth: the peak over all runs tells.
            peakAboveFirstBefore: Math.round((peak(results.rss) - (results.rss[0]?.before ?? 0)) * 10) / 10,
          },
          ...(results.databaseRss.length
            ? {
                databaseRssMiB: {
                  runs: results.databaseRss,
                  maxGrowth: Math.max(...results.databaseRss.map((r) => r.growth)),
                  peakAboveFirstBefore:
                    Math.round((peak(results.databaseRss) - (results.databaseRss[0]?.before ?? 0)) * 10) / 10,
                },
              }
            : {}),
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    bare?.stop();
    if (server) await stopServer(server);
    await inbox?.close();
    await db.stop();
    await rm(dbDir, { recursive: true, force: true });
    await rm(workDir, { recursive: true, force: true });
  }
}

await main();
