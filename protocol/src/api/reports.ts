import { z } from 'zod';
import { atMost } from '../length.js';

/**
 * Exports (history, audit log; invoices and payments follow): CSV for spreadsheets or PDF to
 * print, streamed. Times are written in the reader's time zone, headings in their language.
 */
export const exportQuerySchema = z.object({
  format: z.enum(['csv', 'pdf']),
  /** `;` opens as columns in German Excel; `,` everywhere else. */
  delimiter: z.enum([';', ',']).default(';'),
  lang: z.enum(['de', 'en']).default('de'),
  /** IANA time zone of the reader, e.g. Europe/Berlin. */
  tz: z
    .string()
    .check(atMost(64))
    .refine((tz) => {
      try {
        new Intl.DateTimeFormat('en', { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    }, 'must be an IANA time zone')
    .default('Europe/Berlin'),
});
export type ExportQuery = z.infer<typeof exportQuerySchema>;
