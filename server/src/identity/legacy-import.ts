/*
 * The import of legacy accounts: parsing CSV or JSON, checking every line, and writing companies and
 * accounts in batches that an interrupted run can repeat. Long because checking and writing share the
 * per-line model; issue 21 separates parsing and checking from writing.
 */
import { isDuplicateKeyError } from '../db/query.js';
import { createHash } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import mongoose from 'mongoose';
import * as audit from '../audit/service.js';
import { Forbidden } from '../errors.js';
import { isRight } from './access.js';
import { LegacyCompany, LegacyLogin, type LegacyLoginDoc } from './legacy-model.js';
import { Organization } from './organization-model.js';
import { User } from './user-model.js';

/**
 * Import of accounts from older products (CSV or JSON), all or nothing: every line is checked
 * first, and one problem anywhere means nothing is written. Importing the same file again changes
 * nothing; a changed line updates its account while it still logs in by user name.
 *
 * CSV columns (`;` or `,`, a header line): username, displayName, company, main, rights,
 * passwordHash, products. JSON: an array of objects with the same keys (`main` a boolean, `rights`
 * and `products` arrays or separated strings). `passwordHash` is a bcrypt hash (`$2b$…`) or
 * `sha256$<salt>$<hex of SHA-256 over salt + password>`.
 */

/** One account as the file describes it, with the line it came from. */
export interface LegacyRecord {
  line: number;
  username: string;
  displayName: string;
  company: string;
  isMain: boolean;
  rights: string[];
  algo: 'bcrypt' | 'sha256';
  hash: string;
  salt: string;
  products: string[];
}

/** Something wrong with a line; `code` is stable (the web translates it), `message` says it in English. */
export interface ImportProblem {
  line: number;
  field: string;
  code: string;
  message: string;
}

/** What an import did, or would do (dry run, or any problem). */
export interface ImportReport {
  lines: number;
  companies: { create: number; existing: number };
  accounts: { create: number; update: number; unchanged: number };
  problems: ImportProblem[];
  written: boolean;
}

const BCRYPT = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;
const SHA256 = /^sha256\$([^$]{1,128})\$([0-9a-fA-F]{64})$/;
const USERNAME = /^[A-Za-z0-9._@-]{1,64}$/;
const BATCH = 1000;
/**
 * Most accounts one file may hold: 100,000 lines are what the API's 20 MiB fit (10,000 accounts
 * are about 2 MB). Checked before anything is parsed: a file of millions of junk lines otherwise
 * built a record and several problems per line (1 MiB of `;` lines: 1.5 million problems, 5 s of
 * blocked event loop, a 150 MB answer; 4 MiB: an answer too long to serialise, a 500).
 */
export const MAX_IMPORT_LINES = 100_000;
/** Most problems a report lists; one more line says how many were left out. Nobody reads more. */
export const MAX_REPORTED_PROBLEMS = 1000;
/** Files with more accounts than this read all legacy logins once instead of looking each up. */
const LOOKUP_ALL_ABOVE = 200;

function list(value: unknown): string[] {
  if (Array.isArray(value)) return value.map((v) => String(v).trim()).filter(Boolean);
  if (typeof value !== 'string') return [];
  return value
    .split(/[\s,|]+/)
    .map((v) => v.trim())
    .filter(Boolean);
}

function flag(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  const text = String(value ?? '')
    .trim()
    .toLowerCase();
  if (['1', 'true', 'ja', 'yes', 'x', 'main', 'haupt'].includes(text)) return true;
  if (['0', 'false', 'nein', 'no', ''].includes(text)) return false;
  return undefined;
}

/** Lines of a text that hold more than white space, counting stopped once past `upTo`. */
function countLines(text: string, upTo = Infinity): number {
  const line = /\S[^\n]*/g;
  let count = 0;
  while (count <= upTo && line.exec(text)) count += 1;
  return count;
}

/** Reads a file's rows (CSV with a header line, or a JSON array), each with its line number. */
function rowsOf(
  text: string,
  format: 'csv' | 'json',
): { rows: Array<{ line: number; row: Record<string, unknown> }>; problems: ImportProblem[] } {
  const tooMany: ImportProblem = {
    line: 0,
    field: 'file',
    code: 'too_many_lines',
    message: `at most ${MAX_IMPORT_LINES} accounts per file; split it`,
  };
  if (format === 'json') {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      return {
        rows: [],
        problems: [{ line: 0, field: 'file', code: 'json_invalid', message: (err as Error).message }],
      };
    }
    if (!Array.isArray(data))
      return {
        rows: [],
        problems: [{ line: 0, field: 'file', code: 'json_invalid', message: 'expected an array of accounts' }],
      };
    if (data.length > MAX_IMPORT_LINES) return { rows: [], problems: [tooMany] };
    return {
      rows: data.map((row, i) => ({ line: i + 1, row: (row ?? {}) as Record<string, unknown> })),
      problems: [],
    };
  }
  // Counted without splitting: the header line plus the accounts.
  if (countLines(text, MAX_IMPORT_LINES + 1) > MAX_IMPORT_LINES + 1) return { rows: [], problems: [tooMany] };
  const firstLine = text.split(/\r?\n/, 1)[0] ?? '';
  const delimiter = (firstLine.match(/;/g)?.length ?? 0) >= (firstLine.match(/,/g)?.length ?? 0) ? ';' : ',';
  try {
    const records = parse(text, {
      bom: true,
      columns: (header: string[]) => header.map((h) => h.trim()),
      delimiter,
      skip_empty_lines: true,
      trim: true,
      info: true,
    }) as Array<{ record: Record<string, unknown>; info: { lines: number } }>;
    return { rows: records.map((r) => ({ line: r.info.lines, row: r.record })), problems: [] };
  } catch (err) {
    return { rows: [], problems: [{ line: 0, field: 'file', code: 'csv_invalid', message: (err as Error).message }] };
  }
}

/** Reads and checks a file line by line; the records are only good when there are no problems. */
export function parseLegacyFile(
  text: string,
  format: 'csv' | 'json',
): { records: LegacyRecord[]; problems: ImportProblem[] } {
  const { rows, problems } = rowsOf(text, format);
  const records: LegacyRecord[] = [];
  const seen = new Map<string, number>();
  const problem = (line: number, field: string, code: string, message: string): void => {
    problems.push({ line, field, code, message });
  };
  for (const { line, row } of rows) {
    const username = String(row.username ?? '').trim();
    const displayName = String(row.displayName ?? '').trim();
    const company = String(row.company ?? '').trim();
    const isMain = flag(row.main);
    const rights = list(row.rights);
    const products = list(row.products);
    const passwordHash = String(row.passwordHash ?? '').trim();
    let bad = false;
    if (!USERNAME.test(username)) {
      problem(line, 'username', username ? 'username_invalid' : 'missing', 'user name: 1–64 letters, digits, . _ - @');
      bad = true;
    } else if (seen.has(username.toLowerCase())) {
      problem(line, 'username', 'username_duplicate', `user name already on line ${seen.get(username.toLowerCase())}`);
      bad = true;
    } else seen.set(username.toLowerCase(), line);
    if (!company || company.length > 120) {
      problem(line, 'company', company ? 'too_long' : 'missing', 'company name: 1–120 characters');
      bad = true;
    }
    if (displayName.length > 120) {
      problem(line, 'displayName', 'too_long', 'display name: at most 120 characters');
      bad = true;
    }
    if (isMain === undefined) {
      problem(line, 'main', 'flag_invalid', 'main: yes/no, true/false or 1/0');
      bad = true;
    }
    const unknown = rights.filter((r) => !isRight(r));
    if (unknown.length) {
      problem(line, 'rights', 'right_unknown', `unknown rights: ${unknown.join(', ')}`);
      bad = true;
    }
    let algo: LegacyRecord['algo'] = 'bcrypt';
    let hash = passwordHash;
    let salt = '';
    const sha = SHA256.exec(passwordHash);
    if (sha) {
      algo = 'sha256';
      salt = sha[1] ?? '';
      hash = (sha[2] ?? '').toLowerCase();
    } else if (!BCRYPT.test(passwordHash)) {
      problem(
        line,
        'passwordHash',
        passwordHash ? 'hash_invalid' : 'missing',
        'a bcrypt hash ($2b$…) or sha256$salt$hex',
      );
      bad = true;
    }
    if (!bad)
      records.push({
        line,
        username,
        displayName,
        company,
        isMain: isMain === true,
        rights,
        algo,
        hash,
        salt,
        products,
      });
  }
  // Each company needs exactly one main account.
  const byCompany = new Map<string, LegacyRecord[]>();
  for (const r of records) {
    const key = r.company.toLowerCase();
    byCompany.set(key, [...(byCompany.get(key) ?? []), r]);
  }
  for (const members of byCompany.values()) {
    const mains = members.filter((m) => m.isMain);
    if (mains.length === 0)
      for (const m of members) problem(m.line, 'main', 'main_missing', `company "${m.company}" has no main account`);
    if (mains.length > 1)
      for (const m of mains.slice(1))
        problem(m.line, 'main', 'main_twice', `company "${m.company}" has its main account on line ${mains[0]?.line}`);
  }
  problems.sort((a, b) => a.line - b.line);
  return { records, problems };
}

function sourceHash(r: LegacyRecord): string {
  return createHash('sha256')
    .update(
      JSON.stringify([
        r.username,
        r.displayName,
        r.company,
        r.isMain,
        [...r.rights].sort(),
        r.algo,
        r.hash,
        r.salt,
        [...r.products].sort(),
      ]),
    )
    .digest('hex');
}

/** The placeholder address of a legacy account until it gets its own: never deliverable (.invalid). */
export function placeholderEmail(usernameLower: string): string {
  return `legacy-${createHash('sha256').update(usernameLower).digest('hex').slice(0, 20)}@legacy.invalid`;
}

/**
 * Imports checked records (or only reports what it would do: `dryRun`, or any problem). Accounts
 * whose user name belongs to another company, or that are already migrated, are problems too.
 */
export async function importLegacy(
  parsed: { records: LegacyRecord[]; problems: ImportProblem[] },
  options: { dryRun: boolean; lines: number },
): Promise<ImportReport> {
  const problems = [...parsed.problems];
  const records = parsed.records;
  const usernames = records.map((r) => r.username.toLowerCase());
  const known = new Map<string, LegacyLoginDoc>();
  if (usernames.length > LOOKUP_ALL_ABOVE) {
    // A big file: one pass over all legacy logins beats many $in look-ups (FerretDB answers an $in
    // of 1,000 ids by scanning the collection: 7 s to re-import 10,000 accounts, 1 s this way).
    const wanted = new Set(usernames);
    for await (const doc of LegacyLogin.find({}).lean().cursor({ batchSize: BATCH }))
      if (wanted.has(doc._id)) known.set(doc._id, doc as LegacyLoginDoc);
  } else {
    for (const doc of await LegacyLogin.find({ _id: { $in: usernames } }).lean())
      known.set(doc._id, doc as LegacyLoginDoc);
  }
  const companyKeys = [...new Set(records.map((r) => r.company.toLowerCase()))];
  const companies = new Map<string, { organizationId: string }>(
    (await LegacyCompany.find({ _id: { $in: companyKeys } }).lean()).map((c) => [c._id, c] as const),
  );

  const create: LegacyRecord[] = [];
  const update: LegacyRecord[] = [];
  let unchanged = 0;
  for (const r of records) {
    const existing = known.get(r.username.toLowerCase());
    if (!existing) {
      if (r.isMain && companies.has(r.company.toLowerCase()))
        problems.push({
          line: r.line,
          field: 'main',
          code: 'main_exists',
          message: 'the company already has its main account',
        });
      else create.push(r);
      continue;
    }
    if (existing.companyKey !== r.company.toLowerCase()) {
      problems.push({
        line: r.line,
        field: 'username',
        code: 'username_taken',
        message: 'user name belongs to another company',
      });
    } else if (existing.sourceHash === sourceHash(r)) unchanged += 1;
    else if (existing.state !== 'legacy' || existing.isMain !== r.isMain) {
      problems.push({
        line: r.line,
        field: 'username',
        code: 'already_migrated',
        message: 'account is being migrated; its line cannot change now',
      });
    } else update.push(r);
  }
  // A company that exists must keep its main account; a new one gets its main from the file.
  problems.sort((a, b) => a.line - b.line);
  const report: ImportReport = {
    lines: options.lines,
    companies: {
      create: companyKeys.filter((k) => !companies.has(k)).length,
      existing: companyKeys.filter((k) => companies.has(k)).length,
    },
    accounts: { create: create.length, update: update.length, unchanged },
    problems,
    written: false,
  };
  if (options.dryRun || problems.length > 0) return report;

  const now = new Date();
  const createdMains = new Set<string>();
  // New companies: their main account, the organization, the company record, written in batches.
  const mains: { users: unknown[]; orgs: unknown[]; companies: unknown[]; logins: LegacyLoginDoc[] } = {
    users: [],
    orgs: [],
    companies: [],
    logins: [],
  };
  for (const key of companyKeys) {
    if (companies.has(key)) continue;
    const main = create.find((r) => r.company.toLowerCase() === key && r.isMain);
    if (!main) continue;
    const userId = stableId('user', main.username.toLowerCase());
    const organizationId = stableId('organization', key);
    const email = placeholderEmail(main.username.toLowerCase());
    mains.users.push({
      _id: userId,
      email,
      emailLower: email,
      name: main.displayName,
      status: 'active',
      role: 'customer',
      organizationId: String(organizationId),
      accountType: 'main',
      rights: [],
      createdAt: now,
    });
    mains.orgs.push({
      _id: organizationId,
      name: main.company,
      mainUserId: String(userId),
      domains: [],
      createdAt: now,
    });
    mains.companies.push({ _id: key, name: main.company, organizationId: String(organizationId), importedAt: now });
    mains.logins.push(loginDoc(main, String(userId), now));
    companies.set(key, { organizationId: String(organizationId) });
    createdMains.add(main.username.toLowerCase());
  }
  // Ids follow from the names and the legacy records come last, so an import cut off halfway is
  // finished by running it again: what is there already is skipped, nothing is doubled.
  for (let i = 0; i < mains.users.length; i += BATCH) {
    await insertSkippingExisting(User, mains.users.slice(i, i + BATCH));
    await insertSkippingExisting(Organization, mains.orgs.slice(i, i + BATCH));
    await insertSkippingExisting(LegacyLogin, mains.logins.slice(i, i + BATCH));
    await insertSkippingExisting(LegacyCompany, mains.companies.slice(i, i + BATCH));
  }
  // The other new accounts, in batches.
  const rest = create.filter((r) => !createdMains.has(r.username.toLowerCase()));
  for (let i = 0; i < rest.length; i += BATCH) {
    const part = rest.slice(i, i + BATCH);
    const users = part.map((r) => {
      const company = companies.get(r.company.toLowerCase());
      return {
        _id: stableId('user', r.username.toLowerCase()),
        email: placeholderEmail(r.username.toLowerCase()),
        emailLower: placeholderEmail(r.username.toLowerCase()),
        name: r.displayName,
        status: 'active',
        role: 'customer',
        organizationId: company?.organizationId,
        accountType: 'sub',
        rights: r.rights,
        createdAt: now,
      };
    });
    await insertSkippingExisting(User, users);
    await insertSkippingExisting(
      LegacyLogin,
      part.map((r, k) => loginDoc(r, String(users[k]?._id), now)),
    );
  }
  for (const r of update) {
    const existing = known.get(r.username.toLowerCase());
    if (!existing) continue;
    await User.updateOne(
      { _id: existing.userId },
      { $set: { name: r.displayName, ...(r.isMain ? {} : { rights: r.rights }) } },
    );
    await LegacyLogin.updateOne(
      { _id: existing._id, state: 'legacy' },
      {
        $set: {
          algo: r.algo,
          hash: r.hash,
          salt: r.salt,
          products: r.products,
          sourceHash: sourceHash(r),
          username: r.username,
        },
      },
    );
  }
  return { ...report, written: true };
}

/** An ObjectId that follows from a name: the same account gets the same id in every run. */
function stableId(kind: string, name: string): mongoose.Types.ObjectId {
  return new mongoose.Types.ObjectId(createHash('sha256').update(`legacy:${kind}:${name}`).digest('hex').slice(0, 24));
}

/** Inserts documents, skipping those whose unique keys are there already (a repeated run). */
async function insertSkippingExisting(model: unknown, docs: unknown[]): Promise<void> {
  if (!docs.length) return;
  // Through mongoose (its defaults and casting apply), whichever model it is.
  const target = model as { insertMany(docs: unknown[], options: { ordered: boolean }): Promise<unknown> };
  try {
    await target.insertMany(docs, { ordered: false });
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
  }
}

function loginDoc(r: LegacyRecord, userId: string, now: Date): LegacyLoginDoc {
  return {
    _id: r.username.toLowerCase(),
    username: r.username,
    userId,
    companyKey: r.company.toLowerCase(),
    isMain: r.isMain,
    algo: r.algo,
    hash: r.hash,
    salt: r.salt,
    products: r.products,
    sourceHash: sourceHash(r),
    state: 'legacy',
    importedAt: now,
  } as LegacyLoginDoc;
}

/**
 * Imports (or, with `dryRun`, checks) a whole file for an operator or the command line: checks
 * every line, writes only when there is no problem, and audits what it did.
 */
export async function importLegacyFile(
  actor: { role: string; userId: string; email?: string | undefined; ip?: string | undefined },
  file: { text: string; format: 'csv' | 'json' },
  options: { dryRun: boolean },
): Promise<ImportReport> {
  if (actor.role !== 'admin') throw new Forbidden('admin_only');
  const lines = countLines(file.text, MAX_IMPORT_LINES + 1);
  const full = await importLegacy(parseLegacyFile(file.text, file.format), { dryRun: options.dryRun, lines });
  const report =
    full.problems.length > MAX_REPORTED_PROBLEMS
      ? {
          ...full,
          problems: [
            ...full.problems.slice(0, MAX_REPORTED_PROBLEMS),
            {
              line: 0,
              field: 'file',
              code: 'more_problems',
              message: `${full.problems.length - MAX_REPORTED_PROBLEMS} more problems not listed`,
            },
          ],
        }
      : full;
  await audit.record({
    action: report.written ? 'migration.imported' : 'migration.import_checked',
    outcome: report.problems.length ? 'failure' : 'success',
    actorId: actor.userId,
    actorEmail: actor.email,
    ip: actor.ip,
    details: {
      created: report.accounts.create,
      updated: report.accounts.update,
      unchanged: report.accounts.unchanged,
      problems: full.problems.length,
    },
  });
  return report;
}
