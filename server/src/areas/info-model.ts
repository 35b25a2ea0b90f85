import mongoose, { Schema, type InferSchemaType } from 'mongoose';
import { INFO_SCOPES } from '@kis/protocol/api';

/**
 * An entry of area 1 (for one person) or area 2 (for everybody of a company's e-mail domain).
 * A person is addressed by e-mail, so an operator can write for somebody who has not registered
 * yet; `userId` is filled in once the address belongs to an account, so the entry follows the
 * person through an e-mail change.
 */
const infoEntrySchema = new Schema(
  {
    scope: { type: String, enum: INFO_SCOPES, required: true },
    /** Area 1: the address the operator wrote for, lower-cased. */
    emailLower: { type: String },
    userId: { type: String },
    /** Area 2: the lower-case domain. */
    domain: { type: String },
    title: { type: String, required: true },
    /** Markdown. */
    body: { type: String, default: '' },
    /** Starts at 1; every change adds one and keeps the previous version in `info_versions`. */
    version: { type: Number, required: true, default: 1 },
    createdAt: { type: Date, required: true },
    createdBy: { type: String, required: true },
    updatedAt: { type: Date, required: true },
    updatedBy: { type: String, required: true },
  },
  { collection: 'info_entries', versionKey: false },
);
infoEntrySchema.index({ scope: 1, emailLower: 1, updatedAt: -1 });
infoEntrySchema.index({ scope: 1, userId: 1, updatedAt: -1 });
infoEntrySchema.index({ scope: 1, domain: 1, updatedAt: -1 });

export type InfoEntryDoc = InferSchemaType<typeof infoEntrySchema> & { _id: mongoose.Types.ObjectId };
export const InfoEntry = mongoose.model('InfoEntry', infoEntrySchema);

/** A version an entry had before a change (or before its deletion). */
const infoVersionSchema = new Schema(
  {
    entryId: { type: String, required: true, index: true },
    version: { type: Number, required: true },
    title: { type: String, required: true },
    body: { type: String, default: '' },
    changedAt: { type: Date, required: true },
    /** The address of whoever wrote this version. */
    changedBy: { type: String },
  },
  { collection: 'info_versions', versionKey: false },
);
export const InfoVersion = mongoose.model('InfoVersion', infoVersionSchema);

/** That a user has read an entry, in which version (`_id` is `<entryId>:<userId>`). */
const infoReadSchema = new Schema(
  {
    _id: { type: String },
    entryId: { type: String, required: true },
    userId: { type: String, required: true, index: true },
    version: { type: Number, required: true },
    at: { type: Date, required: true },
  },
  { collection: 'info_reads', versionKey: false },
);
export const InfoRead = mongoose.model('InfoRead', infoReadSchema);
