import { randomBytes } from 'node:crypto';
import type { Issuer, PaymentSettings, PaymentSettingsUpdate } from '@kis/protocol/api';
import * as audit from '../audit/service.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { Forbidden, Invalid } from '../errors.js';
import { hasRight } from '../identity/access.js';
import * as organizations from '../identity/organizations.js';
import * as identity from '../identity/service.js';
import type { Caller } from '../identity/service.js';
import { formatWhen } from '../mail/templates.js';
import type { Logger } from '../logger.js';
import { PaymentSettings as Settings, type SettingsDoc } from './model.js';
import { PayPalError, type PayPalClient, type PayPalCredentials } from './paypal.js';

/** The event types KIS's webhook listens to. */
export const WEBHOOK_EVENTS = ['PAYMENT.CAPTURE.COMPLETED', 'PAYMENT.CAPTURE.REFUNDED'] as const;

/** What the payments module runs with; set once by {@link initContext}. */
export interface PaymentsContext {
  box: SecretBox;
  paypal: PayPalClient;
  /** The portal's public URL: payment links, PayPal's return and webhook addresses. */
  publicUrl: string;
  /** The operator's time zone: invoice dates are days there. */
  timeZone: string;
  logger: Logger;
}

let context: PaymentsContext | undefined;

/** Sets what the payments module runs with (main.ts, the CLI). */
export function initContext(value: PaymentsContext): void {
  context = value;
}

/** The payments module's context; throws before {@link initContext} (a programmer error). */
export function ctx(): PaymentsContext {
  if (!context) throw new Error('payments not initialised');
  return context;
}

/** Whether the caller may bill for (and see the invoices of) an organization. */
export function canBill(caller: Caller, organizationId: string): boolean {
  return hasRight(caller, 'manage_invoices', organizationId);
}

/**
 * The organization a caller bills for: their own company, or for operators the one they name.
 * Needs the right `manage_invoices` (main accounts hold every right of their company).
 */
export function billingOrganization(caller: Caller, organizationId?: string): string {
  const org = caller.role === 'admin' ? (organizationId ?? caller.organizationId) : caller.organizationId;
  if (!org) throw new Invalid('organization_required');
  if (!hasRight(caller, 'manage_invoices', org)) throw new Forbidden('forbidden', 'missing right manage_invoices');
  return org;
}

function secretContext(organizationId: string): string {
  return `payments:${organizationId}:paypal`;
}

function view(organizationId: string, doc: SettingsDoc | null): PaymentSettings {
  const issuer = doc?.issuer?.name ? (doc.issuer as Issuer) : null;
  const paypal = doc?.paypal
    ? {
        clientId: doc.paypal.clientId,
        secretHint: doc.paypal.secretHint,
        mode: doc.paypal.mode as 'sandbox' | 'live',
        webhookId: doc.paypal.webhookId ?? '',
        webhookError: doc.paypal.webhookError ?? null,
      }
    : null;
  return {
    organizationId,
    issuer,
    numberPrefix: doc?.numberPrefix ?? 'RE-',
    paymentTermDays: doc?.paymentTermDays ?? 14,
    pinValidDays: doc?.pinValidDays ?? 7,
    paypal,
    ready: issuer !== null && paypal !== null,
  };
}

/** An organization's invoicing settings (never the PayPal secret). */
export async function getSettings(caller: Caller, organizationId?: string): Promise<PaymentSettings> {
  const org = billingOrganization(caller, organizationId);
  return view(org, await Settings.findOne({ _id: org }).lean());
}

/** Settings as the module itself reads them (no access check). */
export async function settingsOf(organizationId: string): Promise<PaymentSettings> {
  return view(organizationId, await Settings.findOne({ _id: organizationId }).lean());
}

/** The PayPal credentials of an organization, unsealed; undefined when PayPal is not set up. */
export async function credentialsOf(organizationId: string): Promise<PayPalCredentials | undefined> {
  const doc = await Settings.findOne({ _id: organizationId }).lean();
  if (!doc?.paypal) return undefined;
  return {
    clientId: doc.paypal.clientId,
    secret: ctx().box.open(doc.paypal.sealedSecret, secretContext(organizationId)).toString(),
    mode: doc.paypal.mode as 'sandbox' | 'live',
  };
}

/** The organization and webhook id behind a webhook URL's key. */
export async function webhookTarget(key: string): Promise<{ organizationId: string; webhookId: string } | undefined> {
  const doc = await Settings.findOne({ webhookKey: key }).lean();
  if (!doc?.paypal?.webhookId) return undefined;
  return { organizationId: doc._id, webhookId: doc.paypal.webhookId };
}

function webhookUrl(key: string): string {
  return `${ctx().publicUrl}/api/payments/webhook/${key}`;
}

/**
 * Whether an update changes where the company's money goes: PayPal set up, removed, or another
 * client id, mode or secret. A new webhook id alone does not (it only names which deliveries count).
 */
function changesPayout(
  stored: SettingsDoc['paypal'] | undefined | null,
  next: PaymentSettingsUpdate['paypal'],
): boolean {
  if (!stored || !next) return Boolean(stored) !== Boolean(next);
  return next.clientId !== stored.clientId || next.mode !== stored.mode || next.secret !== '';
}

/**
 * Saves an organization's settings. A new secret is sealed and never shown again (only its last
 * four characters). With new credentials and no webhook id given, KIS registers its own webhook
 * at PayPal; when PayPal refuses (its webhooks need a public https address), the reason is kept and
 * payments are confirmed through the payer's return alone.
 *
 * A change of the PayPal credentials (set up, another client id, mode or secret, removed) decides
 * who gets paid for every invoice, so it asks for the caller's password again (an unattended,
 * signed-in browser is not enough) and tells the company's main account by mail, whoever made it.
 */
export async function updateSettings(
  caller: Caller,
  input: PaymentSettingsUpdate,
  organizationId?: string,
): Promise<PaymentSettings> {
  const org = billingOrganization(caller, organizationId);
  const known = await Settings.findOne({ _id: org }).lean();
  const payoutChanged = changesPayout(known?.paypal, input.paypal);
  if (payoutChanged) {
    // Before anything happens, at PayPal (webhook) or here.
    if (!input.password) throw new Invalid('current_password_wrong');
    await identity.reauthenticate(caller, input.password);
  }
  const webhookKey = known?.webhookKey ?? randomBytes(18).toString('base64url');
  let paypal: SettingsDoc['paypal'] | undefined;
  if (input.paypal) {
    const secret = input.paypal.secret;
    const stored = known?.paypal;
    const sameClient = stored?.clientId === input.paypal.clientId && stored.mode === input.paypal.mode;
    if (!secret && (!sameClient || !stored)) throw new Invalid('paypal_secret_required');
    paypal = {
      clientId: input.paypal.clientId,
      sealedSecret: secret ? ctx().box.seal(Buffer.from(secret), secretContext(org)) : (stored?.sealedSecret ?? ''),
      secretHint: secret ? `…${secret.slice(-4)}` : (stored?.secretHint ?? ''),
      mode: input.paypal.mode,
      // A webhook belongs to one app: with another client or mode, the old id would fail every
      // verification, so KIS registers anew (unless the owner names a new one).
      webhookId: sameClient
        ? input.paypal.webhookId || (!secret ? (stored?.webhookId ?? '') : '')
        : input.paypal.webhookId && input.paypal.webhookId !== stored?.webhookId
          ? input.paypal.webhookId
          : '',
    };
    if (known?.paypal) ctx().paypal.forget(known.paypal.clientId);
    if (!paypal.webhookId) {
      const creds = {
        clientId: paypal.clientId,
        secret: secret || ((await credentialsOf(org))?.secret ?? ''),
        mode: input.paypal.mode,
      };
      try {
        paypal.webhookId = await ctx().paypal.registerWebhook(creds, webhookUrl(webhookKey), WEBHOOK_EVENTS);
      } catch (err) {
        const code = err instanceof PayPalError ? (err.issue ?? err.failure) : 'unknown';
        if (code === 'WEBHOOK_URL_ALREADY_EXISTS') {
          const hooks = await ctx()
            .paypal.listWebhooks(creds)
            .catch(() => []);
          paypal.webhookId = hooks.find((h) => h.url === webhookUrl(webhookKey))?.id ?? '';
        }
        if (!paypal.webhookId) paypal.webhookError = code;
      }
    }
  }
  await Settings.updateOne(
    { _id: org },
    {
      $set: {
        issuer: input.issuer,
        numberPrefix: input.numberPrefix,
        paymentTermDays: input.paymentTermDays,
        pinValidDays: input.pinValidDays,
        webhookKey,
        updatedAt: new Date(),
        ...(paypal ? { paypal } : {}),
      },
      ...(input.paypal ? {} : { $unset: { paypal: 1 } }),
    },
    { upsert: true },
  );
  await audit.record({
    action: 'payments.settings_changed',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: org,
    details: {
      paypal: input.paypal ? input.paypal.mode : 'off',
      secretChanged: Boolean(input.paypal?.secret),
      payoutChanged,
    },
  });
  if (payoutChanged) await tellMainAccount(caller, org, input.paypal);
  return view(org, await Settings.findOne({ _id: org }).lean());
}

/** Mails the company's main account that the PayPal credentials changed: by whom, when, to what. */
async function tellMainAccount(caller: Caller, org: string, paypal: PaymentSettingsUpdate['paypal']): Promise<void> {
  const at = new Date();
  const organization = (await organizations.organizationName(org)) ?? '';
  const sent = await identity.mailMainAccount(org, 'payout_changed', (lang) => ({
    organization,
    by: caller.email,
    ip: caller.ip,
    when: formatWhen(at, lang, ctx().timeZone),
    removed: !paypal,
    clientId: paypal?.clientId ?? '',
    mode: paypal?.mode ?? '',
    link: `${ctx().publicUrl}/rechnungen/einstellungen`,
  }));
  if (!sent)
    ctx().logger.warn(
      { organizationId: org },
      'PayPal credentials changed; the organization has no main account to tell',
    );
}

/** Asks PayPal for a token with the stored (or the given, not yet saved) credentials. */
export async function testConnection(
  caller: Caller,
  input: { clientId?: string | undefined; secret?: string | undefined; mode?: 'sandbox' | 'live' | undefined },
  organizationId?: string,
): Promise<{ ok: boolean; code: string | null; mode: 'sandbox' | 'live' | null }> {
  const org = billingOrganization(caller, organizationId);
  const stored = await credentialsOf(org);
  const creds: PayPalCredentials | undefined =
    input.clientId && input.secret
      ? { clientId: input.clientId, secret: input.secret, mode: input.mode ?? 'sandbox' }
      : stored;
  if (!creds) return { ok: false, code: 'paypal_not_configured', mode: null };
  ctx().paypal.forget(creds.clientId);
  try {
    await ctx().paypal.accessToken(creds);
    return { ok: true, code: null, mode: creds.mode };
  } catch (err) {
    const failure = err instanceof PayPalError ? err.failure : 'unavailable';
    return {
      ok: false,
      code: failure === 'auth' ? 'paypal_auth_failed' : 'payment_provider_unavailable',
      mode: creds.mode,
    };
  }
}
