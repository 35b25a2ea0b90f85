import mongoose, { Schema, type InferSchemaType } from 'mongoose';

/**
 * A text of area 3. Its content is a Yjs document: `state` holds it compacted as of `stateSeq`,
 * and every update accepted since is a row of `document_updates` (appended before the editor is
 * told it is stored), so a restart rebuilds the document from state + updates and loses nothing.
 */
const documentSchema = new Schema(
  {
    title: { type: String, required: true },
    /** Belongs to one user, or to an organization (exactly one of the two). */
    ownerUserId: { type: String, index: true },
    organizationId: { type: String, index: true },
    /** Yjs update encoding the whole document as of `stateSeq`. */
    state: { type: Buffer },
    stateSeq: { type: Number, required: true, default: 0 },
    lastEditor: { type: String },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { collection: 'documents', versionKey: false },
);

export type DocumentDoc = InferSchemaType<typeof documentSchema> & { _id: mongoose.Types.ObjectId };
export const TextDocument = mongoose.model('TextDocument', documentSchema);

/** One accepted Yjs update (`_id` is `<documentId>:<seq>`, so a retried write cannot double it). */
const updateSchema = new Schema(
  {
    _id: { type: String },
    docId: { type: String, required: true, index: true },
    seq: { type: Number, required: true },
    update: { type: Buffer, required: true },
    by: { type: String },
    at: { type: Date, required: true },
  },
  { collection: 'document_updates', versionKey: false },
);
export type DocumentUpdateDoc = InferSchemaType<typeof updateSchema>;
export const DocumentUpdate = mongoose.model('DocumentUpdate', updateSchema);

/** A version of a document kept for later: named by an editor, or made once a day when it changed. */
const versionSchema = new Schema(
  {
    docId: { type: String, required: true, index: true },
    /** Named by an editor, the automatic one of a day, or the text as it was before a restore. */
    kind: { type: String, enum: ['named', 'daily', 'before_restore'], required: true },
    name: { type: String, default: '' },
    /** Yjs update encoding the whole document at that moment. */
    state: { type: Buffer, required: true },
    createdAt: { type: Date, required: true },
    /** Who named it; the system for daily versions. */
    createdBy: { type: String, default: '' },
  },
  { collection: 'document_versions', versionKey: false },
);
/** A version as a lean query returns it: the state as a BSON Binary. */
export type DocumentVersionDoc = Omit<InferSchemaType<typeof versionSchema>, 'state'> & {
  _id: mongoose.Types.ObjectId;
  state: { buffer: ArrayBufferLike | Uint8Array } | Uint8Array;
};
export const DocumentVersion = mongoose.model('DocumentVersion', versionSchema);
