import { z } from 'zod';
import { pageQuerySchema } from './identity.js';
import { atLeast, atMost } from '../length.js';

/**
 * Area 3: texts a customer and the operator write together, live. A document belongs to one user
 * or to an organization; its content is a Yjs document synchronised over Socket.IO (see
 * realtime/events.ts, `doc:*`), and only its metadata travels over REST.
 */

/** What the caller may do with a document: edit, or only read along. */
export const documentAccessSchema = z.enum(['edit', 'read']);
export type DocumentAccess = z.infer<typeof documentAccessSchema>;

export const documentViewSchema = z.object({
  id: z.string(),
  title: z.string(),
  owner: z.object({
    kind: z.enum(['user', 'organization']),
    id: z.string(),
    /** The user's address or the organization's name. */
    name: z.string(),
  }),
  /** Address of whoever changed the content or title last. */
  lastEditor: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  access: documentAccessSchema,
});
export type DocumentView = z.infer<typeof documentViewSchema>;

export const documentListSchema = z.object({ items: z.array(documentViewSchema), total: z.number() });

/** Operators may list the documents of one user or organization. */
export const documentListQuerySchema = pageQuerySchema.extend({
  userId: z.string().check(atMost(40)).optional(),
  organizationId: z.string().check(atMost(40)).optional(),
});

const documentTitle = z.string().trim().check(atLeast(1)).check(atMost(200));

/**
 * A new document: a customer's own (default) or their company's (`forOrganization`); operators
 * name the user or organization it is for.
 */
export const documentCreateSchema = z.object({
  title: documentTitle,
  forOrganization: z.boolean().default(false),
  userId: z.string().check(atMost(40)).optional(),
  organizationId: z.string().check(atMost(40)).optional(),
});
export type DocumentCreate = z.infer<typeof documentCreateSchema>;

export const documentRenameSchema = z.object({ title: documentTitle });

/** A kept version of a text: named by an editor, or the automatic one of a day it changed. */
export const documentVersionSchema = z.object({
  id: z.string(),
  kind: z.enum(['named', 'daily', 'before_restore']),
  name: z.string(),
  createdAt: z.string(),
  createdBy: z.string(),
});
export type DocumentVersionView = z.infer<typeof documentVersionSchema>;
export const documentVersionListSchema = z.object({ items: z.array(documentVersionSchema) });
/** One version to look at: its content as Markdown (the web renders it like area 1 and 2 entries). */
export const documentVersionContentSchema = documentVersionSchema.extend({ markdown: z.string() });
export const documentVersionCreateSchema = z.object({ name: z.string().trim().check(atLeast(1)).check(atMost(100)) });
export const documentExportQuerySchema = z.object({ format: z.enum(['markdown', 'pdf']) });
