import yazl from 'yazl';
import * as areaDocuments from '../areas/documents.js';
import * as areaFiles from '../areas/files.js';
import * as areaInfo from '../areas/info.js';
import * as audit from '../audit/service.js';
import * as depots from '../depots/service.js';
import { Forbidden, NotFound } from '../errors.js';
import * as identityData from '../identity/personal-data.js';
import type { Caller } from '../identity/service.js';
import * as addressStanding from '../identity/address-standing.js';
import * as organizations from '../identity/organizations.js';
import * as mail from '../mail/service.js';
import * as paymentsData from '../payments/erasure.js';

/**
 * Everything KIS holds about a person, as a ZIP: one JSON file per kind of data, their files and
 * texts as they are. Streamed: files come from GridFS as the ZIP is read, so a person with
 * gigabytes of files needs no memory for them.
 */

const README = `KIS – Ihre Daten / your data

konto.json          Konto, Unternehmen, Sitzungen / account, company, sessions
informationen.json  Informationen für Sie (Bereich 1) / information left for you (area 1)
dateien.json        Ihre Dateien (Bereich 4), die Dateien selbst in dateien/ / your files, the files in dateien/
texte.json          Ihre Texte (Bereich 3), als Markdown in texte/ / your texts, as Markdown in texte/
depots.json         Zugriffe, PINs (ohne Ziffern), Einträge / grants, PINs (without digits), entries
rechnungen.json     Rechnungen an Ihre Adresse / invoices to your address
protokoll.json      Ihre Einträge im Protokoll / your entries in the audit log
mails.json          Nachrichten an Sie / messages to you
`;

/** A name that is safe inside a ZIP on every system: no paths, no control characters. */
function safeName(name: string): string {
  return (
    [...name]
      .map((ch) => (/[/\\:*?"<>|]/.test(ch) || (ch.codePointAt(0) ?? 0) < 0x20 ? '_' : ch))
      .join('')
      .slice(0, 120) || 'datei'
  );
}

function json(value: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
}

/** Adds one person's data to a ZIP under `prefix`. */
async function addPerson(
  zip: yazl.ZipFile,
  account: { id: string; email: string },
  records: paymentsData.RecordScope,
  prefix = '',
): Promise<void> {
  const files = await areaFiles.filesForExport(account.id);
  const texts = await areaDocuments.ownDocumentsForExport(account.id);
  zip.addBuffer(json(await identityData.accountForExport(account.id)), `${prefix}konto.json`);
  zip.addBuffer(json(await areaInfo.personalEntriesForExport(account)), `${prefix}informationen.json`);
  zip.addBuffer(
    json(files.map((f) => ({ ...f.view, path: `dateien/${f.view.id}-${safeName(f.view.name)}` }))),
    `${prefix}dateien.json`,
  );
  for (const f of files)
    zip.addReadStreamLazy(`${prefix}dateien/${f.view.id}-${safeName(f.view.name)}`, (cb) =>
      cb(null, f.open() as never),
    );
  zip.addBuffer(
    json(
      texts.map((t) => ({
        id: t.id,
        title: t.title,
        createdAt: t.createdAt,
        updatedAt: t.updatedAt,
        path: `texte/${t.id}-${safeName(t.title)}.md`,
      })),
    ),
    `${prefix}texte.json`,
  );
  for (const t of texts) zip.addBuffer(Buffer.from(t.markdown), `${prefix}texte/${t.id}-${safeName(t.title)}.md`);
  zip.addBuffer(json(await depots.personalDataForExport(account.id)), `${prefix}depots.json`);
  zip.addBuffer(json(await paymentsData.personalDataForExport(account.email, records)), `${prefix}rechnungen.json`);
  zip.addBuffer(json(await audit.listForActor(account.id, 10_000)), `${prefix}protokoll.json`);
  zip.addBuffer(json(await mail.mailsToForExport(account.email)), `${prefix}mails.json`);
}

/** A ZIP being written: its name and the stream to send. */
export interface ZipExport {
  fileName: string;
  stream: NodeJS.ReadableStream;
}

/** Everything KIS holds about the caller. Audited. */
export async function exportOwnData(caller: Caller): Promise<ZipExport> {
  const zip = new yazl.ZipFile();
  zip.addBuffer(Buffer.from(README), 'LIESMICH.txt');
  await addPerson(
    zip,
    { id: caller.userId, email: caller.email },
    await addressStanding.recordScopeOf(caller.userId, caller.organizationId),
  );
  zip.end();
  await audit.record({
    action: 'privacy.data_exported',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
  });
  return { fileName: `kis-daten-${new Date().toISOString().slice(0, 10)}.zip`, stream: zip.outputStream };
}

/** Operators: a whole company — its facts, and every member's data in a folder of its own. */
export async function exportOrganization(caller: Caller, organizationId: string): Promise<ZipExport> {
  if (caller.role !== 'admin') throw new Forbidden('admin_only');
  const found = await organizations.getOrganization(caller, organizationId).catch(() => undefined);
  if (!found) throw new NotFound('organization_not_found');
  const { organization, members } = found;
  const zip = new yazl.ZipFile();
  zip.addBuffer(Buffer.from(README), 'LIESMICH.txt');
  zip.addBuffer(json({ organization, members }), 'unternehmen.json');
  for (const member of members)
    // The company's own records of its people: another company's records are not the company's to have.
    await addPerson(
      zip,
      { id: member.id, email: member.email },
      { organizationId },
      `personen/${safeName(member.email)}/`,
    );
  zip.end();
  await audit.record({
    action: 'privacy.organization_exported',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: organizationId,
  });
  return {
    fileName: `kis-unternehmen-${safeName(organization.name)}-${new Date().toISOString().slice(0, 10)}.zip`,
    stream: zip.outputStream,
  };
}
