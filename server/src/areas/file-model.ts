import mongoose, { Schema, type InferSchemaType } from 'mongoose';

/**
 * A stored file: one record here, its bytes in the file store (storage/: on the disk by content, or in
 * GridFS under the same id).
 * The record is written before the first byte (state `uploading`), so an upload cut off by a crash
 * is found and its chunks removed at the next start.
 */
export const FILE_STATES = ['uploading', 'ready'] as const;

const fileSchema = new Schema(
  {
    /** Area 4: the user whose file area holds the file. Absent for an attachment. */
    ownerUserId: { type: String, index: true },
    /** Area 1/2: the info entry the file is attached to. */
    entryId: { type: String, index: true },
    /** NFC-normalised, without path separators or control characters. */
    name: { type: String, required: true },
    size: { type: Number, required: true, default: 0 },
    /** What sniffing the first bytes found; the uploader's claim is never used. */
    contentType: { type: String, required: true, default: 'application/octet-stream' },
    sha256: { type: String, default: '' },
    state: { type: String, enum: FILE_STATES, required: true },
    uploadedById: { type: String, required: true },
    uploadedByRole: { type: String, enum: ['owner', 'operator'], required: true },
    /** Bytes reserved in the owner's quota while uploading (the declared length). */
    reserved: { type: Number, default: 0 },
    createdAt: { type: Date, required: true },
  },
  { collection: 'area_files', versionKey: false },
);
fileSchema.index({ ownerUserId: 1, createdAt: -1 });
// Whether another record holds the same content before the disk store removes it.
fileSchema.index({ sha256: 1 });

export type FileDoc = InferSchemaType<typeof fileSchema> & { _id: mongoose.Types.ObjectId };
export const AreaFile = mongoose.model('AreaFile', fileSchema);

/** Bytes used in a user's file area (ready files plus reservations of uploads under way). */
const quotaSchema = new Schema(
  {
    _id: { type: String },
    used: { type: Number, required: true, default: 0 },
  },
  { collection: 'area_file_quotas', versionKey: false },
);
export const FileQuota = mongoose.model('FileQuota', quotaSchema);
