import { z } from 'zod';
import { pageQuerySchema } from './identity.js';
import { atLeast, atMost } from '../length.js';

/**
 * Customer areas 1, 2 and 4. Area 1 holds information the operator leaves for one person, area 2
 * information for everybody of a company's e-mail domain, area 4 a file exchange per user.
 */

/** Which area an entry belongs to: 1 (one person) or 2 (a company's e-mail domain). */
export const INFO_SCOPES = ['person', 'domain'] as const;
export const infoScopeSchema = z.enum(INFO_SCOPES);
export type InfoScope = z.infer<typeof infoScopeSchema>;

/** A stored file as lists show it (area 4, and attachments of area 1 and 2 entries). */
export const fileViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  size: z.number(),
  /** The type found by looking at the content, not what the uploader claimed. */
  contentType: z.string(),
  sha256: z.string(),
  uploadedAt: z.string(),
  /** Who put the file there: the owner or an operator (shown as "from the operator"). */
  uploadedBy: z.enum(['owner', 'operator']),
  /** Older than the configured age: the owner is asked to delete it if it is no longer needed. */
  stale: z.boolean(),
});
export type FileView = z.infer<typeof fileViewSchema>;

/** A user's file area: one page of files and the quota. */
export const fileListSchema = z.object({
  items: z.array(fileViewSchema),
  total: z.number(),
  usedBytes: z.number(),
  quotaBytes: z.number(),
  /** Largest single file accepted. */
  maxFileBytes: z.number(),
  /** Files older than this many days are flagged as stale. */
  staleAfterDays: z.number(),
});
export type FileList = z.infer<typeof fileListSchema>;

/** Query of a file list: whose area (operators only name another user), one page, newest first. */
export const fileListQuerySchema = pageQuerySchema.extend({
  userId: z.string().check(atMost(40)).optional(),
});

/**
 * True when a file name holds a path separator, a control character (C0, DEL, C1), a line or
 * paragraph separator, or a bidirectional override (which can disguise `exe.pdf` as `fdp.exe`).
 */
export function hasUnsafeFileNameChars(name: string): boolean {
  for (const ch of name) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '/' || ch === '\\') return true;
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true;
    if (c === 0x2028 || c === 0x2029 || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)) return true;
  }
  return false;
}

/**
 * A file name as stored: no path separators, no control characters, not `.` or `..`, at most 255
 * bytes. Checked again in the service, which also normalises it (NFC).
 */
export const fileNameSchema = z
  .string()
  .check(atLeast(1))
  .check(atMost(255))
  // max(255) counts UTF-16 units; the limit is on UTF-8 bytes (what file systems and the service count).
  .refine((n) => new TextEncoder().encode(n).length <= 255, 'at most 255 bytes')
  .refine((n) => !hasUnsafeFileNameChars(n), 'no path separators or control characters')
  .refine((n) => n.trim() !== '.' && n.trim() !== '..' && n.trim() !== '', 'not a file name');

/** Query of an upload: the body is the file itself (application/octet-stream). */
export const fileUploadQuerySchema = z.object({
  name: z.string().check(atMost(1024)),
  /** Operators put a file into this user's area; customers upload into their own. */
  userId: z.string().check(atMost(40)).optional(),
});

/** One entry of area 1 or 2 as its readers see it. */
export const infoEntrySchema = z.object({
  id: z.string(),
  scope: infoScopeSchema,
  /** Area 1: the person's address; area 2: the domain. */
  target: z.string(),
  title: z.string(),
  /** Markdown; the web renders it without raw HTML and sanitises the result. */
  body: z.string(),
  attachments: z.array(fileViewSchema),
  version: z.number(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** For readers: not read in this version yet (a changed entry is unread again). */
  unread: z.boolean(),
});
export type InfoEntry = z.infer<typeof infoEntrySchema>;

export const infoListSchema = z.object({
  items: z.array(infoEntrySchema),
  total: z.number(),
  unread: z.number(),
});
export type InfoList = z.infer<typeof infoListSchema>;

/**
 * Query of an info list. Customers get their own entries of the scope; operators name the target
 * (`email` for a person, `domain` for a company domain).
 */
export const infoListQuerySchema = pageQuerySchema.extend({
  scope: infoScopeSchema,
  email: z.string().check(atMost(254)).optional(),
  domain: z.string().check(atMost(253)).optional(),
});

const infoTitle = z.string().trim().check(atLeast(1)).check(atMost(200));
/** 100 000 characters: a long manual fits, a pasted database dump does not. */
const infoBody = z.string().check(atMost(100_000));

/** Operators write an entry for one person (by address, registered or not) or for a domain. */
export const infoCreateSchema = z.discriminatedUnion('scope', [
  z.object({
    scope: z.literal('person'),
    email: z.string().trim().check(atMost(254)),
    title: infoTitle,
    body: infoBody,
  }),
  z.object({
    scope: z.literal('domain'),
    domain: z.string().trim().check(atMost(253)),
    title: infoTitle,
    body: infoBody,
  }),
]);
export type InfoCreate = z.infer<typeof infoCreateSchema>;

/** Change title or body; `version` is the one the editor started from (a concurrent change is refused). */
export const infoUpdateSchema = z.object({
  title: infoTitle.optional(),
  body: infoBody.optional(),
  version: z.number().int().min(1),
});

/** An earlier version of an entry (kept on every change). */
export const infoVersionSchema = z.object({
  version: z.number(),
  title: z.string(),
  body: z.string(),
  changedAt: z.string(),
  changedBy: z.string().nullable(),
});
export const infoVersionListSchema = z.object({ items: z.array(infoVersionSchema) });

/** How many unread entries each area has, for the badges. */
export const areaSummarySchema = z.object({
  personalUnread: z.number(),
  companyUnread: z.number(),
  /** The caller's company domain qualifies for area 2 (confirmed, not a public mail domain). */
  companyDomain: z.string().nullable(),
  files: z.number(),
  staleFiles: z.number(),
  /** What the caller may do here. */
  mayRead: z.boolean(),
  mayManageFiles: z.boolean(),
});
export type AreaSummary = z.infer<typeof areaSummarySchema>;
