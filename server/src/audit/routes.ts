import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { apiErrorSchema, auditQuerySchema, auditResponseSchema, exportQuerySchema } from '@kis/protocol/api';
import { callerOf, requireSession, type CookiePolicy } from '../http/auth.js';
import { sendGenerated } from '../http/download.js';
import * as reports from '../reports/service.js';
import * as audit from './service.js';

/** The admin's audit log page: /api/admin/audit. */
export const auditRoutes: FastifyPluginAsyncZod<{ cookie: CookiePolicy }> = async (app, options) => {
  app.addHook('preHandler', requireSession(options.cookie));
  app.get(
    '/api/admin/audit',
    {
      schema: {
        tags: ['admin'],
        summary: 'Audit log entries, newest first, filtered, one page',
        querystring: auditQuerySchema,
        response: { 200: auditResponseSchema, 401: apiErrorSchema, 403: apiErrorSchema },
      },
    },
    async (request) => audit.list(callerOf(request), request.query),
  );

  app.get(
    '/api/admin/audit/export',
    {
      schema: {
        tags: ['admin'],
        summary: 'The audit log as CSV or PDF, oldest first, with the page filters (streamed)',
        querystring: exportQuerySchema.extend(auditQuerySchema.omit({ page: true, pageSize: true }).shape),
      },
    },
    async (request, reply) => {
      const { action, outcome, text, ...format } = request.query;
      const { total, rows } = await audit.rowsForExport(callerOf(request), { action, outcome, text });
      const de = format.lang === 'de';
      const file = reports.exportTable(
        format,
        {
          name: 'protokoll',
          title: de ? 'Protokoll' : 'Audit log',
          subtitle: `${[action, outcome, text].filter(Boolean).join(', ') || (de ? 'alle Einträge' : 'all entries')} · ${reports.formatTime(new Date(), { ...format, format: 'pdf' })} (${format.tz})`,
        },
        AUDIT_COLUMNS,
        rows,
        (row, key) => (key === 'at' ? reports.formatTime(row.at, format) : String(row[key] ?? '')),
      );
      return sendGenerated(reply, { ...file, rows: total });
    },
  );
};

/** The columns of an audit export. */
const AUDIT_COLUMNS: ReadonlyArray<reports.TableColumn<audit.AuditRow>> = [
  { key: 'seq', header: { de: 'Nr.', en: 'No.' }, width: 5 },
  { key: 'at', header: { de: 'Zeit', en: 'Time' }, width: 14 },
  { key: 'actor', header: { de: 'Wer', en: 'Who' }, width: 16 },
  { key: 'ip', header: { de: 'Adresse', en: 'Address' }, width: 10 },
  { key: 'action', header: { de: 'Aktion', en: 'Action' }, width: 14 },
  { key: 'target', header: { de: 'Ziel', en: 'Target' }, width: 14 },
  { key: 'outcome', header: { de: 'Ergebnis', en: 'Outcome' }, width: 7 },
  { key: 'details', header: { de: 'Details', en: 'Details' }, width: 20 },
];
