/**
 * Mail texts in German and English, chosen by the recipient's language. Plain text: it renders
 * the same in every client and cannot hide a link behind other words.
 */
export type Language = 'de' | 'en';

/** The mails KIS sends, with what each needs to be written. */
export interface MailParams {
  register_code: { code: string; link: string; minutes: number };
  register_known: { loginLink: string; resetLink: string };
  admin_new_user: { email: string; adminLink: string };
  reset_code: { code: string; link: string; minutes: number };
  password_changed: { when: string; ip: string };
  account_locked: { minutes: number; failures: number };
  invite: { link: string; organization: string; inviter: string; days: number };
  email_change_code: { code: string; minutes: number };
  email_change_taken: Record<string, never>;
  email_changed: { newEmail: string; when: string };
  file_added: { name: string; link: string };
  info_added: { title: string; link: string };
  /** The invoice PDF is attached at delivery. */
  invoice_issued: { number: string; issuer: string; amount: string; dueDate: string; link: string; pickup: string };
  /** The text carries `{{pin}}`, filled at delivery: the PIN is never stored in the outbox. */
  invoice_pin: { number: string; issuer: string; validFrom: string; validUntil: string; place: string; link: string };
  invoice_cancelled: { number: string; issuer: string };
  invoice_refunded: { number: string; issuer: string; amount: string };
  /** To the main account: someone changed (or removed) the PayPal account that invoices pay into. */
  payout_changed: {
    organization: string;
    by: string;
    ip: string;
    when: string;
    removed: boolean;
    clientId: string;
    mode: string;
    link: string;
  };
  /** The text carries `{{emails}}`, filled at delivery from the sealed request. */
  revocation_code: { code: string; minutes: number };
  migration_invite: { link: string; organization: string; username: string; days: number };
  /** Instead of the invitation, to an address that already has an account elsewhere in KIS. */
  migration_address_taken: { organization: string; username: string };
  /** To the main account: the person at an invited address registered and declined. */
  invite_refused: { email: string; organization: string };
  /** To an address that has an account already, when a company tried to add it as a sub-account. */
  invite_address_taken: { organization: string };
  /** `requestedBy` empty: the person asked themselves. */
  erasure_done: {
    when: string;
    requestedBy: string;
    reason: 'admin' | 'revocation' | 'self';
    kept: string;
    link: string;
  };
}
export type MailKind = keyof MailParams;

/** The params of a mail kind that are text. */
type TextParam<K extends MailKind> = {
  [P in keyof MailParams[K]]: MailParams[K][P] extends string ? P : never;
}[keyof MailParams[K]] &
  string;

/**
 * The params of each kind that are one-time secrets: codes and links that let whoever reads them
 * register, reset a password, join a company, change an address, revoke consent or pay. The outbox
 * keeps them sealed and shows them masked; they are filled in only in the mail that leaves (see
 * mail/service.ts). A new kind that carries such a secret must be listed here.
 */
export const SECRET_PARAMS: { readonly [K in MailKind]?: ReadonlyArray<TextParam<K>> } = {
  register_code: ['code', 'link'],
  reset_code: ['code', 'link'],
  invite: ['link'],
  email_change_code: ['code'],
  revocation_code: ['code'],
  migration_invite: ['link'],
  // The payment link: its token opens the payment page, and after payment the PIN on it.
  invoice_issued: ['link'],
  invoice_pin: ['link'],
};

type Template<K extends MailKind> = (p: MailParams[K]) => { subject: string; text: string };
type Templates = { [K in MailKind]: Template<K> };

const signature = {
  de: '\n\n-- \nIhr Kundenportal (KIS)\nDiese Nachricht wurde automatisch erstellt.',
  en: '\n\n-- \nYour customer portal (KIS)\nThis message was sent automatically.',
};

const de: Templates = {
  invite_address_taken: (p) => ({
    subject: `${p.organization} möchte Sie im Kundenportal hinzufügen`,
    text: `Guten Tag,\n\n${p.organization} wollte diese Adresse als Unterkonto im Kundenportal anlegen. Für die Adresse gibt es bereits Ihr Konto; daran hat sich nichts geändert.\n\nMöchten Sie im Portal für ${p.organization} arbeiten, wenden Sie sich an den Betreiber des Portals. Wenn Ihnen das nichts sagt, müssen Sie nichts tun.${signature.de}`,
  }),
  invite_refused: (p) => ({
    subject: `Einladung abgelehnt: ${p.email}`,
    text: `Guten Tag,\n\ndie Person mit der Adresse ${p.email} hat sich selbst im Kundenportal registriert und die Einladung als Unterkonto von ${p.organization} abgelehnt. Das Konto gehört nicht mehr zu Ihrem Unternehmen.\n\nSoll die Person doch zu Ihrem Unternehmen gehören, sprechen Sie sie an und wenden Sie sich an den Betreiber des Portals.${signature.de}`,
  }),
  migration_invite: (p) => ({
    subject: `Ihr neuer Zugang zum Kundenportal (${p.organization})`,
    text: `Guten Tag,\n\n${p.organization} stellt auf die Anmeldung per E-Mail-Adresse um. Ihr bisheriger Benutzername „${p.username}“ gilt ab jetzt nicht mehr; Sie melden sich künftig mit dieser E-Mail-Adresse an.\n\nLegen Sie hier Ihr neues Passwort fest:\n${p.link}\n\nDer Link gilt ${p.days} Tage und nur einmal. Ist er abgelaufen, nutzen Sie „Passwort vergessen“ auf der Anmeldeseite.${signature.de}`,
  }),
  migration_address_taken: (p) => ({
    subject: `Umstellung auf E-Mail-Anmeldung (${p.organization}): Adresse bereits vergeben`,
    text: `Guten Tag,\n\n${p.organization} stellt auf die Anmeldung per E-Mail-Adresse um und hat diese Adresse für den bisherigen Benutzernamen „${p.username}“ angegeben. Für diese Adresse gibt es im Kundenportal aber schon ein Konto; deshalb wurde sie dem Benutzernamen nicht zugeordnet, und er gilt vorerst weiter.\n\nIst der Benutzername Ihrer, wenden Sie sich bitte an uns, damit wir die Umstellung mit Ihnen abschließen. Andernfalls können Sie diese Nachricht ignorieren; an Ihrem Konto wurde nichts geändert.${signature.de}`,
  }),
  revocation_code: (p) => ({
    subject: `Widerruf bestätigen: ${p.code}`,
    text: `Guten Tag,\n\njemand – vermutlich Sie – möchte die Einwilligung zur Speicherung der Daten zu dieser Adresse widerrufen. Ihr Bestätigungscode:\n\n    ${p.code}\n\nDer Code gilt ${p.minutes} Minuten. Wenn Sie das nicht waren, ignorieren Sie diese Nachricht; es geschieht nichts.${signature.de}`,
  }),
  erasure_done: (p) => ({
    subject: 'Personenbezogene Daten gelöscht',
    text: `Guten Tag,\n\ndie Daten folgender Adressen wurden am ${p.when} gelöscht:\n\n{{emails}}\n\nAnlass: ${{ admin: 'Löschung durch einen Administrator', revocation: 'Widerruf der Einwilligung', self: 'Konto selbst gelöscht' }[p.reason]}\nVeranlasst von: ${p.requestedBy || 'der Person selbst'}\n${p.kept ? `\nAufbewahrt, weil das Gesetz es verlangt: ${p.kept}\n` : ''}\nEinzelheiten im Portal:\n${p.link}${signature.de}`,
  }),
  invoice_issued: (p) => ({
    subject: `Rechnung ${p.number} von ${p.issuer}`,
    text: `Guten Tag,\n\nanbei erhalten Sie die Rechnung ${p.number} über ${p.amount}, fällig am ${p.dueDate}.\n\nSie können sie hier online mit PayPal bezahlen:\n${p.link}\n${p.pickup ? `\nNach der Zahlung erhalten Sie eine PIN, mit der Sie Ihren Schlüssel abholen: ${p.pickup}\n` : ''}\nDie Rechnung liegt dieser Nachricht als PDF bei.${signature.de}`,
  }),
  invoice_pin: (p) => ({
    subject: `Ihre PIN zur Rechnung ${p.number}`,
    text: `Guten Tag,\n\nvielen Dank für Ihre Zahlung der Rechnung ${p.number} an ${p.issuer}.\n\nIhre PIN für die Schlüsselabholung:\n\n    {{pin}}\n\nOrt: ${p.place}\nGültig von ${p.validFrom} bis ${p.validUntil}, für eine Entnahme.\n\nDie PIN steht auch auf der Zahlungsseite:\n${p.link}${signature.de}`,
  }),
  invoice_cancelled: (p) => ({
    subject: `Rechnung ${p.number} storniert`,
    text: `Guten Tag,\n\n${p.issuer} hat die Rechnung ${p.number} storniert. Sie müssen nichts bezahlen; eine zur Rechnung ausgegebene PIN gilt nicht mehr.${signature.de}`,
  }),
  invoice_refunded: (p) => ({
    subject: `Rechnung ${p.number} erstattet`,
    text: `Guten Tag,\n\n${p.issuer} hat Ihre Zahlung zur Rechnung ${p.number} über ${p.amount} über PayPal erstattet. Eine zur Rechnung ausgegebene PIN gilt nicht mehr.${signature.de}`,
  }),
  payout_changed: (p) => ({
    subject: 'Zahlungsempfang geändert: PayPal-Zugangsdaten',
    text: `Guten Tag,\n\n${p.by} hat am ${p.when} (von der Adresse ${p.ip}) die PayPal-Zugangsdaten von ${p.organization} ${p.removed ? 'entfernt. Rechnungen können bis zur erneuten Einrichtung nicht online bezahlt werden.' : `geändert. Zahlungen zu Ihren Rechnungen gehen jetzt an die PayPal-App mit der Client-ID ${p.clientId} (${p.mode === 'live' ? 'Live' : 'Sandbox'}).`}\n\nWaren Sie oder Ihre Mitarbeiter das nicht? Prüfen Sie die Einstellungen sofort und ändern Sie das Passwort des Kontos, das die Änderung gemacht hat:\n${p.link}${signature.de}`,
  }),
  file_added: (p) => ({
    subject: `Neue Datei im Kundenportal: ${p.name}`,
    text: `Guten Tag,\n\nwir haben Ihnen im Kundenportal eine Datei bereitgestellt: ${p.name}\n\nSie finden sie unter Dateien:\n${p.link}${signature.de}`,
  }),
  info_added: (p) => ({
    subject: `Neue Information im Kundenportal: ${p.title}`,
    text: `Guten Tag,\n\nwir haben im Kundenportal eine Information für Sie hinterlegt: ${p.title}\n\nLesen Sie sie nach der Anmeldung unter Informationen:\n${p.link}${signature.de}`,
  }),
  email_change_code: (p) => ({
    subject: `Neue E-Mail-Adresse bestätigen: ${p.code}`,
    text: `Guten Tag,\n\nSie möchten diese Adresse für Ihr Konto im Kundenportal verwenden. Ihr Bestätigungscode:\n\n    ${p.code}\n\nDer Code gilt ${p.minutes} Minuten und nur einmal. Wenn Sie das nicht waren, ignorieren Sie diese Nachricht.${signature.de}`,
  }),
  email_change_taken: () => ({
    subject: 'Diese Adresse ist bereits vergeben',
    text: `Guten Tag,\n\njemand wollte diese Adresse für ein Konto im Kundenportal eintragen. Für diese Adresse gibt es bereits ein Konto, daher wurde nichts geändert.${signature.de}`,
  }),
  email_changed: (p) => ({
    subject: 'Ihre E-Mail-Adresse wurde geändert',
    text: `Guten Tag,\n\ndie Anmeldeadresse Ihres Kontos wurde am ${p.when} auf ${p.newEmail} geändert. Diese Adresse erhält keine Nachrichten mehr zu Ihrem Konto.\n\nWaren Sie das nicht? Bitte melden Sie sich sofort bei uns.${signature.de}`,
  }),
  invite: (p) => ({
    subject: `Einladung in das Kundenportal von ${p.organization}`,
    text: `Guten Tag,\n\n${p.inviter} hat für Sie ein Konto im Kundenportal (${p.organization}) angelegt. Legen Sie hier Ihr Passwort fest:\n${p.link}\n\nDer Link gilt ${p.days} Tage und nur einmal.${signature.de}`,
  }),
  register_code: (p) => ({
    subject: `Ihr Bestätigungscode: ${p.code}`,
    text: `Guten Tag,\n\nbitte bestätigen Sie Ihre E-Mail-Adresse mit diesem Code:\n\n    ${p.code}\n\noder öffnen Sie diesen Link:\n${p.link}\n\nCode und Link gelten ${p.minutes} Minuten und nur einmal. Wenn Sie sich nicht registriert haben, können Sie diese Nachricht ignorieren.${signature.de}`,
  }),
  register_known: (p) => ({
    subject: 'Registrierung: Sie haben bereits ein Konto',
    text: `Guten Tag,\n\njemand – vermutlich Sie – wollte sich mit dieser Adresse registrieren. Für diese Adresse gibt es bereits ein Konto.\n\nAnmelden: ${p.loginLink}\nPasswort vergessen: ${p.resetLink}\n\nWenn Sie das nicht waren, müssen Sie nichts tun.${signature.de}`,
  }),
  admin_new_user: (p) => ({
    subject: `Neue Registrierung: ${p.email}`,
    text: `Guten Tag,\n\n${p.email} hat sich im Kundenportal registriert und die Adresse bestätigt. Sie können für diese Adresse bereits Informationen hinterlegen.\n\n${p.adminLink}${signature.de}`,
  }),
  reset_code: (p) => ({
    subject: `Passwort zurücksetzen: ${p.code}`,
    text: `Guten Tag,\n\nmit diesem Code setzen Sie Ihr Passwort zurück:\n\n    ${p.code}\n\noder öffnen Sie diesen Link:\n${p.link}\n\nCode und Link gelten ${p.minutes} Minuten und nur einmal. Wenn Sie das nicht angefordert haben, bleibt Ihr Passwort unverändert.${signature.de}`,
  }),
  password_changed: (p) => ({
    subject: 'Ihr Passwort wurde geändert',
    text: `Guten Tag,\n\nIhr Passwort wurde am ${p.when} geändert (von der Adresse ${p.ip}). Alle anderen Sitzungen wurden beendet.\n\nWaren Sie das nicht? Setzen Sie Ihr Passwort sofort zurück und informieren Sie uns.${signature.de}`,
  }),
  account_locked: (p) => ({
    subject: 'Anmeldung vorübergehend gesperrt',
    text: `Guten Tag,\n\nnach ${p.failures} fehlgeschlagenen Anmeldeversuchen ist die Anmeldung mit Ihrer Adresse für ${p.minutes} Minuten gesperrt.\n\nWaren Sie das nicht, versucht möglicherweise jemand, Ihr Passwort zu erraten. Ein sicheres, nur hier verwendetes Passwort schützt Sie.${signature.de}`,
  }),
};

const en: Templates = {
  invite_address_taken: (p) => ({
    subject: `${p.organization} would like to add you to the customer portal`,
    text: `Hello,\n\n${p.organization} tried to add this address as a sub-account in the customer portal. The address already has your account; nothing about it changed.\n\nIf you want to work for ${p.organization} in the portal, contact the portal's operator. If this means nothing to you, there is nothing to do.${signature.en}`,
  }),
  invite_refused: (p) => ({
    subject: `Invitation declined: ${p.email}`,
    text: `Hello,\n\nthe person with the address ${p.email} registered with the customer portal on their own and declined the invitation as a sub-account of ${p.organization}. The account no longer belongs to your company.\n\nShould the person belong to your company after all, talk to them and contact the portal's operator.${signature.en}`,
  }),
  migration_invite: (p) => ({
    subject: `Your new access to the customer portal (${p.organization})`,
    text: `Hello,\n\n${p.organization} is switching to e-mail logins. Your previous user name “${p.username}” no longer works; from now on you sign in with this e-mail address.\n\nChoose your new password here:\n${p.link}\n\nThe link is valid for ${p.days} days and once only. If it has expired, use “Forgot password” on the sign-in page.${signature.en}`,
  }),
  migration_address_taken: (p) => ({
    subject: `Switch to e-mail sign-in (${p.organization}): address already in use`,
    text: `Hello,\n\n${p.organization} is switching to e-mail logins and gave this address for the previous user name “${p.username}”. This address already has an account in the customer portal, so it was not given to the user name, which keeps working for now.\n\nIf the user name is yours, please contact us so that we can finish the switch with you. Otherwise you can ignore this message; nothing about your account has changed.${signature.en}`,
  }),
  revocation_code: (p) => ({
    subject: `Confirm your revocation: ${p.code}`,
    text: `Hello,\n\nsomeone – probably you – wants to revoke consent to storing the data of this address. Your confirmation code:\n\n    ${p.code}\n\nThe code is valid for ${p.minutes} minutes. If this was not you, ignore this message; nothing happens.${signature.en}`,
  }),
  erasure_done: (p) => ({
    subject: 'Personal data erased',
    text: `Hello,\n\nthe data of these addresses was erased on ${p.when}:\n\n{{emails}}\n\nReason: ${{ admin: 'erased by an operator', revocation: 'consent revoked', self: 'account deleted by its owner' }[p.reason]}\nRequested by: ${p.requestedBy || 'the person themselves'}\n${p.kept ? `\nKept because the law requires it: ${p.kept}\n` : ''}\nDetails in the portal:\n${p.link}${signature.en}`,
  }),
  invoice_issued: (p) => ({
    subject: `Invoice ${p.number} from ${p.issuer}`,
    text: `Hello,\n\nplease find invoice ${p.number} for ${p.amount}, due on ${p.dueDate}.\n\nYou can pay it online with PayPal here:\n${p.link}\n${p.pickup ? `\nOnce paid, you get a PIN to collect your key: ${p.pickup}\n` : ''}\nThe invoice is attached to this message as a PDF.${signature.en}`,
  }),
  invoice_pin: (p) => ({
    subject: `Your PIN for invoice ${p.number}`,
    text: `Hello,\n\nthank you for paying invoice ${p.number} to ${p.issuer}.\n\nYour PIN to collect the key:\n\n    {{pin}}\n\nPlace: ${p.place}\nValid from ${p.validFrom} until ${p.validUntil}, for one collection.\n\nThe PIN is also on the payment page:\n${p.link}${signature.en}`,
  }),
  invoice_cancelled: (p) => ({
    subject: `Invoice ${p.number} cancelled`,
    text: `Hello,\n\n${p.issuer} has cancelled invoice ${p.number}. There is nothing to pay; a PIN issued for it is no longer valid.${signature.en}`,
  }),
  invoice_refunded: (p) => ({
    subject: `Invoice ${p.number} refunded`,
    text: `Hello,\n\n${p.issuer} has refunded your payment of ${p.amount} for invoice ${p.number} through PayPal. A PIN issued for it is no longer valid.${signature.en}`,
  }),
  payout_changed: (p) => ({
    subject: 'Receiving payments: PayPal credentials changed',
    text: `Hello,\n\non ${p.when}, ${p.by} (from address ${p.ip}) ${p.removed ? `removed the PayPal credentials of ${p.organization}. Invoices cannot be paid online until PayPal is set up again.` : `changed the PayPal credentials of ${p.organization}. Payments for your invoices now go to the PayPal app with client id ${p.clientId} (${p.mode === 'live' ? 'live' : 'sandbox'}).`}\n\nWas this not you or your staff? Check the settings at once and change the password of the account that made the change:\n${p.link}${signature.en}`,
  }),
  file_added: (p) => ({
    subject: `New file in the customer portal: ${p.name}`,
    text: `Hello,\n\nwe have put a file into your area of the customer portal: ${p.name}\n\nYou find it under Files:\n${p.link}${signature.en}`,
  }),
  info_added: (p) => ({
    subject: `New information in the customer portal: ${p.title}`,
    text: `Hello,\n\nwe have left information for you in the customer portal: ${p.title}\n\nRead it after signing in, under Information:\n${p.link}${signature.en}`,
  }),
  email_change_code: (p) => ({
    subject: `Confirm your new e-mail address: ${p.code}`,
    text: `Hello,\n\nyou want to use this address for your account in the customer portal. Your confirmation code:\n\n    ${p.code}\n\nThe code is valid for ${p.minutes} minutes and once only. If this was not you, ignore this message.${signature.en}`,
  }),
  email_change_taken: () => ({
    subject: 'This address is already taken',
    text: `Hello,\n\nsomeone wanted to use this address for an account in the customer portal. There already is an account for it, so nothing was changed.${signature.en}`,
  }),
  email_changed: (p) => ({
    subject: 'Your e-mail address was changed',
    text: `Hello,\n\nthe sign-in address of your account was changed on ${p.when} to ${p.newEmail}. This address will get no more messages about your account.\n\nWas this not you? Please contact us at once.${signature.en}`,
  }),
  invite: (p) => ({
    subject: `Invitation to the customer portal of ${p.organization}`,
    text: `Hello,\n\n${p.inviter} has created an account for you in the customer portal (${p.organization}). Choose your password here:\n${p.link}\n\nThe link is valid for ${p.days} days and once only.${signature.en}`,
  }),
  register_code: (p) => ({
    subject: `Your confirmation code: ${p.code}`,
    text: `Hello,\n\nplease confirm your e-mail address with this code:\n\n    ${p.code}\n\nor open this link:\n${p.link}\n\nCode and link are valid for ${p.minutes} minutes and once only. If you did not register, you can ignore this message.${signature.en}`,
  }),
  register_known: (p) => ({
    subject: 'Registration: you already have an account',
    text: `Hello,\n\nsomeone – probably you – tried to register with this address. There already is an account for it.\n\nSign in: ${p.loginLink}\nForgot your password: ${p.resetLink}\n\nIf this was not you, there is nothing to do.${signature.en}`,
  }),
  admin_new_user: (p) => ({
    subject: `New registration: ${p.email}`,
    text: `Hello,\n\n${p.email} registered with the customer portal and confirmed the address. You can already leave information for it.\n\n${p.adminLink}${signature.en}`,
  }),
  reset_code: (p) => ({
    subject: `Reset your password: ${p.code}`,
    text: `Hello,\n\nuse this code to reset your password:\n\n    ${p.code}\n\nor open this link:\n${p.link}\n\nCode and link are valid for ${p.minutes} minutes and once only. If you did not ask for this, your password stays as it is.${signature.en}`,
  }),
  password_changed: (p) => ({
    subject: 'Your password was changed',
    text: `Hello,\n\nyour password was changed on ${p.when} (from address ${p.ip}). All other sessions were ended.\n\nWas this not you? Reset your password at once and let us know.${signature.en}`,
  }),
  account_locked: (p) => ({
    subject: 'Sign-in temporarily locked',
    text: `Hello,\n\nafter ${p.failures} failed sign-in attempts, signing in with your address is locked for ${p.minutes} minutes.\n\nIf this was not you, someone may be trying to guess your password. A strong password used only here protects you.${signature.en}`,
  }),
};

const TEMPLATES: Record<Language, Templates> = { de, en };

/** The line that heads a mail redirected from a sub-account to its main account. */
export function forwardedNote(lang: Language, forEmail: string): string {
  return lang === 'de'
    ? `[Weitergeleitet an das Hauptkonto – diese Nachricht ist für das Unterkonto ${forEmail}]\n\n`
    : `[Redirected to the main account – this message is for the sub-account ${forEmail}]\n\n`;
}

/** Renders one mail in a language. */
export function render<K extends MailKind>(
  kind: K,
  lang: Language,
  params: MailParams[K],
): { subject: string; text: string } {
  const template = TEMPLATES[lang][kind] as Template<K>;
  return template(params);
}

/** A date and time as people in that language write it, in the portal's time zone. */
export function formatWhen(date: Date, lang: Language, timeZone = 'Europe/Berlin'): string {
  return new Intl.DateTimeFormat(lang === 'de' ? 'de-DE' : 'en-GB', {
    dateStyle: 'long',
    timeStyle: 'short',
    timeZone,
  }).format(date);
}
