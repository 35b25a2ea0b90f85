import path from 'node:path';
import { z } from 'zod';

/** Accepts the usual spellings of a yes/no switch in an environment variable. */
const flag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'], {
    error: 'must be true or false',
  })
  .transform((v) => v === 'true' || v === '1' || v === 'yes' || v === 'on');

const port = z.coerce
  .number({ error: 'must be a port number' })
  .int('must be a whole port number')
  .min(0, 'must be between 0 and 65535')
  .max(65535, 'must be between 0 and 65535');

const seconds = z.coerce
  .number({ error: 'must be a number of seconds' })
  .int('must be a whole number of seconds')
  .min(1, 'must be at least 1 second');

/**
 * Every setting KIS reads from the environment, with its embedded default.
 *
 * Each field says why its default is what it is. A value that does not parse stops start-up
 * with one line naming the variable (see {@link loadConfig}).
 */
export const configSchema = z.object({
  /** HTTP port for the portal, the API and Socket.IO. 3000 is the common choice for a Node app behind a proxy; 0 picks a free port (tests). */
  KIS_HTTP_PORT: port.default(3000),
  /** UDP port the depots send their telegrams to. 7010 is what the depots' provisioning files name by default; 0 picks a free port (tests). */
  KIS_UDP_PORT: port.default(7010),
  /**
   * host:port that depots' provisioning files name as their server. Default: the public URL's host
   * (else KIS_HOST) and the bound UDP port. Set it when depots reach the server through NAT or a
   * balancer under another name.
   */
  KIS_DEPOT_SERVER: z
    .string()
    .regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port')
    .optional(),
  /**
   * How long a command to a depot is retried before it is given up as expired. 15 minutes: long
   * enough to ride out a few missed heartbeats, short enough that nobody waits for a door that will
   * open an hour later.
   */
  KIS_COMMAND_TIMEOUT_SECONDS: seconds.default(900),
  /** Address to listen on. Loopback by default, so a developer's laptop exposes nothing; the container sets 0.0.0.0. */
  KIS_HOST: z
    .string()
    .min(1)
    .refine((v) => /^[0-9a-fA-F:.]+$/.test(v) || v === 'localhost', 'must be an IP address')
    .default('127.0.0.1'),
  /** Where KIS keeps its data: the embedded database, the master key file, backups. Relative to the working directory. */
  KIS_DATA_DIR: z.string().min(1).default('./data'),
  /** A MongoDB server to use instead of the embedded one, e.g. mongodb://db:27017/kis?replicaSet=rs0. */
  MONGODB_URI: z
    .string()
    .regex(/^mongodb(\+srv)?:\/\/.+/, 'must be a mongodb:// or mongodb+srv:// URI')
    .optional(),
  /**
   * Which embedded database to start when MONGODB_URI is unset: auto tries mongod first and falls
   * back to FerretDB (the order of ARCHITECTURE.md); mongod or ferretdb insist on one. FerretDB
   * keeps its data in PostgreSQL where PostgreSQL's binaries are found, else in SQLite;
   * ferretdb-postgresql and ferretdb-sqlite insist on one of those.
   */
  KIS_DB_ENGINE: z.enum(['auto', 'mongod', 'ferretdb', 'ferretdb-postgresql', 'ferretdb-sqlite']).default('auto'),
  /**
   * Master key for secrets at rest (AES-256-GCM): 32 bytes in base64 or hex. Without it KIS generates
   * one into <data>/master.key (mode 0600), which is fine for one machine and must be backed up with the data.
   */
  KIS_MASTER_KEY: z
    .string()
    .refine(
      (v) => /^[0-9a-fA-F]{64}$/.test(v) || Buffer.from(v, 'base64').length === 32,
      'must be 32 bytes as 64 hex digits or base64',
    )
    .optional(),
  /** The address people use to reach the portal; links in mails point here. Defaults to the local HTTP address. */
  KIS_PUBLIC_URL: z.url({ error: 'must be an absolute http(s) URL' }).optional(),
  /**
   * SMTP server for outgoing mail, e.g. smtp://user:pass@mail.example.com:587. Without it mails wait in
   * the outbox and admins read them in the portal, so registration can be tried locally.
   */
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\/.+/, 'must be an smtp:// or smtps:// URL')
    .optional(),
  /**
   * Certificate (PEM, with its chain) and private key files for serving HTTPS directly, for
   * installations without a reverse proxy; own or CA-signed. Both or neither.
   */
  KIS_TLS_CERT: z.string().min(1).optional(),
  KIS_TLS_KEY: z.string().min(1).optional(),
  /** Redirect HTTP to HTTPS, send HSTS and mark cookies Secure. Off by default because the embedded default has no TLS. */
  KIS_HTTPS_ONLY: flag.default(false),
  /**
   * Trust X-Forwarded-* from a reverse proxy: false, true, a hop count, or a comma-separated list of
   * proxy addresses/CIDRs. Off by default: trusting headers from anyone would let clients fake their IP.
   */
  KIS_TRUST_PROXY: z
    .string()
    .transform((v): boolean | number | string[] => {
      const s = v.trim().toLowerCase();
      if (s === '' || s === 'false' || s === '0' || s === 'no' || s === 'off') return false;
      if (s === 'true' || s === 'yes' || s === 'on') return true;
      if (/^\d+$/.test(s)) return Number(s);
      return s.split(',').map((p) => p.trim());
    })
    .refine(
      (v) =>
        typeof v !== 'object' ||
        v.every(
          (p) => /^[0-9a-f:.]+(\/\d{1,3})?$/.test(p) || p === 'loopback' || p === 'uniquelocal' || p === 'linklocal',
        ),
      'must be true, false, a hop count or a list of addresses/CIDRs',
    )
    .default(false),
  /** bcrypt cost factor. 12 takes about a quarter second per hash on a current core: slow for guessing, fine for a login. */
  KIS_BCRYPT_COST: z.coerce
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(4, 'must be between 4 and 15')
    .max(15, 'must be between 4 and 15')
    .default(12),
  /** Seconds without activity before a session ends. 30 minutes, as OWASP ASVS suggests for a portal holding business data. */
  KIS_SESSION_IDLE_SECONDS: seconds.default(1800),
  /** Seconds after login when a session ends however active it is. 12 hours: one working day. */
  KIS_SESSION_ABSOLUTE_SECONDS: seconds.default(43_200),
  /** Seconds before the idle end when the browser is warned and offered to stay. Two minutes to notice and click. */
  KIS_SESSION_WARNING_SECONDS: seconds.default(120),
  /**
   * How a session is bound to the address it logged in from: exact (same IP), subnet (same /24 or
   * /64, for clients whose address changes within their network) or off. Exact by default: a cookie
   * copied to another machine is worthless.
   */
  KIS_SESSION_IP_POLICY: z.enum(['exact', 'subnet', 'off']).default('exact'),
  /** Failed logins per account or per client address before a lockout. Keycloak's default of 30. */
  KIS_LOGIN_MAX_FAILURES: z.coerce.number({ error: 'must be a number' }).int().min(1, 'must be at least 1').default(30),
  /** Lockout length added per lockout, in seconds (Keycloak: 60). */
  KIS_LOGIN_LOCKOUT_STEP_SECONDS: seconds.default(60),
  /** Longest lockout, in seconds (Keycloak: 15 minutes). */
  KIS_LOGIN_LOCKOUT_MAX_SECONDS: seconds.default(900),
  /** Seconds after the last failure when the failure count starts again (Keycloak: 12 hours). */
  KIS_LOGIN_FAILURE_RESET_SECONDS: seconds.default(43_200),
  /**
   * Largest single file in the file exchange (area 4), in MiB. 2 GiB: a scanned building plan or a
   * video of a site visit fits; anything larger belongs on a transfer service, not in a portal.
   */
  KIS_FILE_MAX_MB: z.coerce
    .number({ error: 'must be a number of MiB' })
    .int()
    .min(1, 'must be at least 1')
    .default(2048),
  /** Space per user in the file exchange, in MiB. 10 GiB by default; operators' uploads into a user's area count too. */
  KIS_FILE_QUOTA_MB: z.coerce
    .number({ error: 'must be a number of MiB' })
    .int()
    .min(1, 'must be at least 1')
    .default(10_240),
  /**
   * Files older than this many days are flagged, asking their owner to delete what is no longer
   * needed. 90 days: a quarter, long enough for any exchange to have been read.
   */
  KIS_FILE_STALE_DAYS: z.coerce.number({ error: 'must be a number of days' }).int().min(1).default(90),
  /**
   * Where the bytes of files live. `auto`: what the database noted at its first start, else on the
   * disk under KIS_DATA_DIR/files (encrypted, each content once) when KIS runs its own database and
   * in the database (GridFS) when MONGODB_URI names one, which several KIS processes may share.
   * `disk` over files in the database moves them to the disk at start; `database` over files on
   * the disk is refused.
   */
  KIS_FILE_STORE: z.enum(['auto', 'disk', 'database']).default('auto'),
  /**
   * Largest area-3 document, in KiB of its Yjs encoding. 4 MiB holds a few hundred pages of text;
   * beyond that edits are refused before they are stored, so nobody can fill the database by pasting.
   */
  KIS_DOCUMENT_MAX_KB: z.coerce.number({ error: 'must be a number of KiB' }).int().min(16).default(4096),
  /** Seconds a document stays loaded after its last editor left: a reload or a short drop reuses it. */
  KIS_DOCUMENT_IDLE_SECONDS: seconds.default(30),
  /** The operator's name as exported PDFs head their pages with it (and invoices, later). */
  KIS_OPERATOR_NAME: z.string().trim().min(1).max(120).default('KIS Kundenportal'),
  /**
   * PayPal's API address for both modes, instead of api-m.sandbox.paypal.com / api-m.paypal.com:
   * the stand-in (`npm run paypal`) for tests and demos. Unset in production.
   */
  KIS_PAYPAL_BASE_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  /** Seconds one PayPal call may take before the payer is told to try again (nothing is booked twice). */
  KIS_PAYPAL_TIMEOUT_SECONDS: seconds.default(15),
  /** The operator's time zone: invoice dates are days there, and mails write times in it. */
  KIS_TIME_ZONE: z
    .string()
    .refine((tz) => {
      try {
        new Intl.DateTimeFormat('en', { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    }, 'must be an IANA time zone such as Europe/Berlin')
    .default('Europe/Berlin'),
  /** Seconds between two looks for erasure requests whose transfers have ended (hourly: a day's precision is plenty). */
  KIS_ERASURE_CHECK_SECONDS: seconds.default(3600),
  /** Where the daily backups go; `<KIS_DATA_DIR>/backups` by default. Put it on another disk. */
  KIS_BACKUP_DIR: z.string().min(1).optional(),
  /** When the daily backup runs, HH:MM in KIS_TIME_ZONE, or `off`. A quiet hour: it reads every collection. */
  KIS_BACKUP_TIME: z
    .string()
    .regex(/^(off|([01][0-9]|2[0-3]):[0-5][0-9])$/, 'must be HH:MM (24 hours) or off')
    .default('03:30'),
  /** How many daily backups are kept; older ones are deleted after a new one is written. */
  KIS_BACKUP_KEEP: z.coerce.number({ error: 'must be a number' }).int().min(1).max(3650).default(14),
  /** pino log level. info keeps one line per notable event; debug adds per-request detail. */
  KIS_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** development, production or test. Only changes defaults that must differ (pretty logs, cache headers). */
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  /**
   * Bearer token for /metrics. Without it /metrics answers only to loopback clients, so the
   * embedded default exposes nothing to the network.
   */
  KIS_METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
});

type RawConfig = z.infer<typeof configSchema>;

/** The validated configuration with derived values filled in. */
export interface Config extends RawConfig {
  /** KIS_DATA_DIR resolved to an absolute path. */
  dataDir: string;
  /** KIS_BACKUP_DIR resolved to an absolute path. */
  backupDir: string;
  /** KIS_PUBLIC_URL, or the local HTTP address when unset; never ends with a slash. */
  publicUrl: string;
}

/** A configuration problem, already phrased as the one line to show the operator. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Reads and validates the configuration from an environment.
 *
 * Empty strings count as unset, so `KIS_HTTP_PORT= npm start` falls back to the default.
 * Throws {@link ConfigError} whose message names the first bad variable.
 *
 * @example
 * const config = loadConfig(process.env);
 */
export function loadConfig(env: NodeJS.ProcessEnv, cwd: string = process.cwd()): Config {
  const input: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const result = configSchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    const name = String(issue?.path[0] ?? 'configuration');
    const given = input[name];
    // Never echo secrets back: the master key, SMTP credentials and tokens stay out of the message.
    const secret =
      name === 'KIS_MASTER_KEY' || name === 'SMTP_URL' || name === 'KIS_METRICS_TOKEN' || name === 'MONGODB_URI';
    const shown = given === undefined || secret ? '' : ` (got ${JSON.stringify(given.slice(0, 80))})`;
    throw new ConfigError(`${name} ${issue?.message ?? 'is invalid'}${shown}`);
  }
  const raw = result.data;
  const dataDir = path.resolve(cwd, raw.KIS_DATA_DIR);
  const host = raw.KIS_HOST === '0.0.0.0' || raw.KIS_HOST === '::' ? '127.0.0.1' : raw.KIS_HOST;
  const publicUrl = (
    raw.KIS_PUBLIC_URL ??
    `${raw.KIS_TLS_CERT ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${raw.KIS_HTTP_PORT}`
  ).replace(/\/+$/, '');
  if ((raw.KIS_TLS_CERT === undefined) !== (raw.KIS_TLS_KEY === undefined)) {
    throw new ConfigError(
      `${raw.KIS_TLS_CERT ? 'KIS_TLS_KEY' : 'KIS_TLS_CERT'} must be set too: HTTPS needs both certificate and key`,
    );
  }
  if (raw.KIS_SESSION_WARNING_SECONDS >= raw.KIS_SESSION_IDLE_SECONDS) {
    throw new ConfigError('KIS_SESSION_WARNING_SECONDS must be shorter than KIS_SESSION_IDLE_SECONDS');
  }
  if (raw.KIS_HTTPS_ONLY && !publicUrl.startsWith('https://')) {
    throw new ConfigError('KIS_PUBLIC_URL must be an https:// URL when KIS_HTTPS_ONLY is on');
  }
  const backupDir = raw.KIS_BACKUP_DIR ? path.resolve(cwd, raw.KIS_BACKUP_DIR) : path.join(dataDir, 'backups');
  return { ...raw, dataDir, backupDir, publicUrl };
}
