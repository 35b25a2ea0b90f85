/**
 * Composition root: config → database → transports; graceful shutdown in reverse order.
 * Start with `npm start` (builds first) or `node server/dist/main.js`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, type Config } from './config.js';
import { loadMasterKey } from './crypto/master-key.js';
import { connectDatabase, disconnectDatabase, isDatabaseReachable, redactUri } from './db/connection.js';
import { engineChoice } from './db/engines.js';
import { DatabaseUnavailableError, provisionDatabase, type ProvisionedDatabase } from './db/provision.js';
import { bindUdpListener, type UdpListener } from './depots/udp-listener.js';
import { auditRoutes } from './audit/routes.js';
import type { Db } from 'mongodb';
import * as areaFiles from './areas/files.js';
import { createFileStore, settleFileStoreKind } from './areas/storage/index.js';
import * as areaInfo from './areas/info.js';
import { areaRoutes } from './areas/routes.js';
import { documentRoutes } from './areas/document-routes.js';
import { documentSocket, documentTransport } from './areas/document-socket.js';
import * as areaDocuments from './areas/documents.js';
import { areasNotifier } from './areas/socket.js';
import { createSecretBox } from './crypto/secret-box.js';
import { deriveKey } from './crypto/tokens.js';
import * as depots from './depots/service.js';
import * as reports from './reports/service.js';
import { depotRoutes } from './depots/routes.js';
import { startBackupJob } from './jobs/backups.js';
import * as erasures from './privacy/erasures.js';
import { privacyRoutes, publicPrivacyRoutes } from './privacy/routes.js';
import * as payments from './payments/service.js';
import { PayPalClient } from './payments/paypal.js';
import { paymentRoutes, publicPaymentRoutes } from './payments/routes.js';
import { depotNotifier, depotSocket } from './depots/socket.js';
import { buildHttpApp, rawClientIp } from './http/app.js';
import { MAX_IDENTITIES, cookiePolicy } from './http/auth.js';
import { accountRoutes, adminUserRoutes, authRoutes } from './identity/routes.js';
import * as identity from './identity/service.js';
import { organizationRoutes } from './identity/organization-routes.js';
import { legacyRoutes } from './identity/legacy-routes.js';
import { init as legacyInit } from './identity/legacy.js';
import * as organizations from './identity/organizations.js';
import * as sessions from './identity/sessions.js';
import * as mail from './mail/service.js';
import { outboxRoutes } from './mail/routes.js';
import * as overview from './overview/service.js';
import { overviewRoutes } from './overview/routes.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics } from './metrics.js';
import { createSocketServer, type KisSocketServer } from './realtime/socket-server.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const VERSION = (JSON.parse(readFileSync(path.join(here, '../package.json'), 'utf8')) as { version: string }).version;
const WEB_ROOT = path.resolve(here, '../../web/build');
/** How long shutdown may take before the process exits anyway. */
const SHUTDOWN_TIMEOUT_MS = 15_000;

/** A running KIS server, as main() leaves it; tests use the printed ports instead. */
interface Running {
  stop(reason: string): Promise<void>;
}

/** The sender of KIS's mails: noreply at the portal's host. */
function mailFrom(config: Config): string {
  return `KIS <noreply@${new URL(config.publicUrl).hostname}>`;
}

/** The host depots reach this server at: the public URL's host, else the listen address (loopback for 0.0.0.0). */
export function depotHost(config: Config): string {
  if (config.KIS_PUBLIC_URL) return new URL(config.KIS_PUBLIC_URL).hostname;
  return config.KIS_HOST === '0.0.0.0' || config.KIS_HOST === '::' ? '127.0.0.1' : config.KIS_HOST;
}

async function start(config: Config, logger: Logger): Promise<Running> {
  const metrics = createMetrics();
  const cookie = cookiePolicy(
    config.KIS_HTTPS_ONLY || config.KIS_TLS_CERT !== undefined || config.publicUrl.startsWith('https://'),
  );
  const cleanups: Array<() => Promise<unknown>> = [];
  const stop = async (reason: string): Promise<void> => {
    logger.info({ reason }, 'shutting down');
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((err: unknown) => logger.error({ err }, 'shutdown step failed'));
    }
    logger.info('stopped');
  };

  try {
    const masterKey = await loadMasterKey(config);

    const db: ProvisionedDatabase = await provisionDatabase({
      dataDir: config.dataDir,
      mongodbUri: config.MONGODB_URI,
      ...engineChoice(config.KIS_DB_ENGINE),
      log: (msg) => logger.info({ component: 'db' }, msg),
    });
    cleanups.push(() => db.stop());
    logger.info(
      { kind: db.kind, backend: db.backend, uri: redactUri(db.uri), owned: db.owned },
      'database provisioned',
    );

    const connection = await connectDatabase(db.uri);
    cleanups.push(() => disconnectDatabase());
    const database = (): Db => {
      if (!connection.db) throw new Error('database not connected');
      return connection.db;
    };

    const secretBox = createSecretBox(masterKey);
    await mail.start({ smtpUrl: config.SMTP_URL, from: mailFrom(config), logger, box: secretBox });
    cleanups.push(() => mail.stop());
    await sessions.init({
      idleMs: config.KIS_SESSION_IDLE_SECONDS * 1000,
      warnMs: config.KIS_SESSION_WARNING_SECONDS * 1000,
      absoluteMs: config.KIS_SESSION_ABSOLUTE_SECONDS * 1000,
      ipPolicy: config.KIS_SESSION_IP_POLICY,
      csrfKey: deriveKey(masterKey, 'csrf'),
      logger,
    });
    cleanups.push(async () => sessions.shutdown());
    await identity.init({
      publicUrl: config.publicUrl,
      bcryptCost: config.KIS_BCRYPT_COST,
      masterKey,
      logger,
      throttle: {
        maxFailures: config.KIS_LOGIN_MAX_FAILURES,
        lockoutStepMs: config.KIS_LOGIN_LOCKOUT_STEP_SECONDS * 1000,
        lockoutMaxMs: config.KIS_LOGIN_LOCKOUT_MAX_SECONDS * 1000,
        failureResetMs: config.KIS_LOGIN_FAILURE_RESET_SECONDS * 1000,
      },
    });

    await organizations.init();
    await legacyInit();
    reports.init({ operatorName: config.KIS_OPERATOR_NAME });
    const fileStore = createFileStore(
      await settleFileStoreKind(config.KIS_FILE_STORE, db.kind === 'external', database()),
      {
        dataDir: config.dataDir,
        masterKey,
        database,
      },
    );
    await areaFiles.init({
      maxFileBytes: config.KIS_FILE_MAX_MB * 1024 * 1024,
      quotaBytes: config.KIS_FILE_QUOTA_MB * 1024 * 1024,
      staleAfterDays: config.KIS_FILE_STALE_DAYS,
      store: fileStore,
      logger,
    });
    await areaInfo.init();
    await areaDocuments.init({
      maxBytes: config.KIS_DOCUMENT_MAX_KB * 1024,
      idleMs: config.KIS_DOCUMENT_IDLE_SECONDS * 1000,
      logger,
    });
    cleanups.push(() => areaDocuments.stop());
    areaDocuments.startDailyVersions();
    await depots.init(secretBox);
    const depotRuntime = await depots.start({
      logger,
      metrics,
      commandTimeoutMs: config.KIS_COMMAND_TIMEOUT_SECONDS * 1000,
      server: config.KIS_DEPOT_SERVER ?? `${depotHost(config)}:${config.KIS_UDP_PORT}`,
    });
    cleanups.push(async () => depots.stop());
    await payments.init({
      box: secretBox,
      paypal: new PayPalClient({
        baseUrl: config.KIS_PAYPAL_BASE_URL,
        timeoutMs: config.KIS_PAYPAL_TIMEOUT_SECONDS * 1000,
      }),
      publicUrl: config.publicUrl,
      timeZone: config.KIS_TIME_ZONE,
      logger,
    });
    payments.start();
    cleanups.push(async () => payments.stop());
    await erasures.init({
      box: secretBox,
      masterKey,
      logger,
      publicUrl: config.publicUrl,
      timeZone: config.KIS_TIME_ZONE,
      checkMs: config.KIS_ERASURE_CHECK_SECONDS * 1000,
    });
    cleanups.push(async () => erasures.stop());
    const backupJob = startBackupJob({
      db: database,
      files: areaFiles.backupFiles(fileStore),
      masterKey,
      dir: config.backupDir,
      time: config.KIS_BACKUP_TIME,
      timeZone: config.KIS_TIME_ZONE,
      keep: config.KIS_BACKUP_KEEP,
      logger,
    });
    cleanups.push(async () => backupJob.stop());
    overview.init({ backupDir: config.backupDir, backupTime: config.KIS_BACKUP_TIME });

    const udp: UdpListener = await bindUdpListener({
      host: config.KIS_HOST,
      port: config.KIS_UDP_PORT,
      logger,
      metrics,
      runtime: depotRuntime,
    });
    cleanups.push(() => udp.close());
    if (!config.KIS_DEPOT_SERVER && config.KIS_UDP_PORT === 0) {
      // A free port was picked: provisioning files must name the one actually bound.
      await depots.setProvisioningServer(`${depotHost(config)}:${udp.port}`);
    }

    const app = await buildHttpApp({
      config,
      logger,
      metrics,
      version: VERSION,
      webRoot: WEB_ROOT,
      readiness: async () => ({ database: await isDatabaseReachable(connection), udp: udp.isBound() }),
      modules: async (http) => {
        const routeOptions = { cookie, warningSeconds: config.KIS_SESSION_WARNING_SECONDS };
        await http.register(authRoutes, routeOptions);
        await http.register(accountRoutes, routeOptions);
        await http.register(adminUserRoutes, routeOptions);
        await http.register(organizationRoutes, { cookie });
        await http.register(legacyRoutes, { cookie });
        await http.register(auditRoutes, { cookie });
        await http.register(overviewRoutes, { cookie });
        await http.register(outboxRoutes, { cookie });
        await http.register(depotRoutes, { cookie });
        await http.register(areaRoutes, { cookie });
        await http.register(documentRoutes, { cookie });
        await http.register(paymentRoutes, { cookie });
        await http.register(publicPaymentRoutes);
        await http.register(privacyRoutes, { cookie });
        await http.register(publicPrivacyRoutes);
      },
    });
    const io: KisSocketServer = createSocketServer({
      httpServer: app.server,
      http: app,
      config,
      logger,
      metrics,
      version: VERSION,
      cookieNameFor: cookie.nameFor,
      maxIdentities: MAX_IDENTITIES,
      clientIp: (req) => rawClientIp(req, config.KIS_TRUST_PROXY),
      modules: [depotSocket, documentSocket],
    });
    depots.setNotifier(depotNotifier(io));
    areaFiles.setNotifier(areasNotifier(io));
    areaDocuments.setTransport(documentTransport(io));
    cleanups.push(() => app.close());
    // Sockets first, so browsers get a clean disconnect before the HTTP server stops.
    cleanups.push(() => new Promise<void>((resolve) => void io.close(() => resolve())));

    await app.listen({ host: config.KIS_HOST, port: config.KIS_HTTP_PORT });
    const address = app.server.address();
    const httpPort = typeof address === 'object' && address ? address.port : config.KIS_HTTP_PORT;
    if (await identity.needsFirstAdmin()) {
      // Printed, not logged: the link is a one-time secret and belongs on the operator's console only.
      const link = await identity.createAdminSetupLink();
      process.stderr.write(
        `\nNo administrator yet. Create the first one within 24 hours with this one-time link:\n  ${link}\n\n`,
      );
    }
    logger.info(
      {
        httpPort,
        udpPort: udp.port,
        url: config.KIS_PUBLIC_URL ?? `${config.KIS_TLS_CERT ? 'https' : 'http'}://${config.KIS_HOST}:${httpPort}`,
      },
      'listening',
    );
  } catch (err) {
    await stop('start-up failed');
    throw err;
  }
  return { stop };
}

function startupMessage(err: unknown, config: Config): string {
  if (err instanceof DatabaseUnavailableError) return err.message;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    return `Port in use: KIS_HTTP_PORT ${config.KIS_HTTP_PORT} or KIS_UDP_PORT ${config.KIS_UDP_PORT} is taken by another program`;
  }
  if (code === 'ENOENT' || code === 'EACCES') {
    return `Cannot read a file: ${(err as Error).message} (check KIS_TLS_CERT, KIS_TLS_KEY and KIS_DATA_DIR)`;
  }
  if (code === 'EADDRNOTAVAIL') return `KIS_HOST ${config.KIS_HOST} is not an address of this machine`;
  return `Start-up failed: ${(err as Error).message}`;
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`KIS configuration error: ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const logger = createLogger(config);

  // Signals are taken from the start: a SIGTERM that comes while start-up finishes (a supervisor,
  // a test that saw "listening") would otherwise kill the process before anything is shut down.
  let running: Running | undefined;
  let requested: string | undefined;
  let shuttingDown = false;
  const shutdown = (signal: string): void => {
    if (shuttingDown) {
      // A second Ctrl-C means "now": the exit hook still stops the embedded database.
      process.exit(130);
    }
    if (!running) {
      // Still starting: shut down as soon as there is something to shut down; a second signal
      // means "now" here too.
      if (requested) process.exit(130);
      requested = signal;
      return;
    }
    shuttingDown = true;
    setTimeout(() => {
      logger.error('shutdown timed out');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS).unref();
    running.stop(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception');
    shutdown('uncaughtException');
  });

  try {
    running = await start(config, logger);
  } catch (err) {
    logger.fatal({ err }, 'start-up failed');
    process.stderr.write(`KIS: ${startupMessage(err, config)}\n`);
    process.exit(1);
  }
  if (requested) shutdown(requested);
}

void main();
