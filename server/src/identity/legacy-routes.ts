import type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { pageQuerySchema } from '@kis/protocol/api';
import { callerOf, requireSession, type CookiePolicy } from '../http/auth.js';
import { importLegacyFile } from './legacy-import.js';
import * as legacy from './legacy.js';

/** Largest import file: 10,000 accounts are about 2 MB. */
const IMPORT_MAX_BYTES = 20 * 1024 * 1024;

/** The legacy status of the signed-in account, imports and migration waves (operators). */
export const legacyRoutes: FastifyPluginAsyncZod<{ cookie: CookiePolicy }> = async (app, options) => {
  app.addHook('onRequest', requireSession(options.cookie));
  const tags = ['migration'];

  app.get(
    '/api/legacy/status',
    { schema: { tags, summary: 'Whether this account logs in by user name, and may switch now' } },
    async (request) => legacy.legacyStatus(callerOf(request)),
  );

  app.get(
    '/api/legacy/wizard',
    { schema: { tags, summary: "The company's accounts for the main account's wizard" } },
    async (request) => ({
      items: await legacy.wizardAccounts(callerOf(request)),
    }),
  );
  app.get(
    '/api/legacy/email-check',
    {
      schema: {
        tags,
        summary:
          'Whether an address can be chosen (not used by another account of the own company; no plus-address for the main account)',
        querystring: z.object({ email: z.string().max(254), main: z.enum(['true', 'false']).default('false') }),
      },
    },
    async (request) =>
      legacy.checkAddress(callerOf(request), { email: request.query.email, forMain: request.query.main === 'true' }),
  );
  app.post(
    '/api/legacy/wizard',
    {
      schema: {
        tags,
        summary: 'Give every account of the company its address; each gets a link to set its password',
        body: z.object({
          accounts: z
            .array(
              z.object({
                userId: z.string().max(40),
                email: z.string().trim().max(254),
                redirectToMain: z.boolean().default(false),
              }),
            )
            .min(1)
            .max(1000),
        }),
      },
    },
    async (request) => ({ items: await legacy.confirmWizard(callerOf(request), request.body) }),
  );

  // The import file is the body itself (CSV or JSON text), parsed and checked by line.
  app.register(async (plain) => {
    const raw = plain.withTypeProvider<ZodTypeProvider>();
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser('*', { parseAs: 'string', bodyLimit: IMPORT_MAX_BYTES }, (_request, body, done) =>
      done(null, body),
    );
    raw.post(
      '/api/admin/legacy/import',
      {
        schema: {
          tags,
          summary: 'Import legacy accounts (CSV or JSON body); dryRun only reports; any problem writes nothing',
          querystring: z.object({
            format: z.enum(['csv', 'json']),
            dryRun: z
              .enum(['true', 'false'])
              .default('true')
              .transform((v) => v === 'true'),
          }),
        },
      },
      async (request) =>
        importLegacyFile(
          callerOf(request),
          { text: typeof request.body === 'string' ? request.body : '', format: request.query.format },
          { dryRun: request.query.dryRun },
        ),
    );
  });

  app.get(
    '/api/admin/migration/waves',
    { schema: { tags, summary: 'Migration waves with their progress' } },
    async (request) => ({
      items: await legacy.listWaves(callerOf(request)),
    }),
  );
  app.post(
    '/api/admin/migration/waves',
    {
      schema: {
        tags,
        summary: 'A new wave',
        body: z.object({ name: z.string().trim().min(1).max(100) }),
      },
    },
    async (request) => legacy.createWave(callerOf(request), request.body.name),
  );
  const waveParams = z.object({ id: z.string().max(40) });
  app.post(
    '/api/admin/migration/waves/:id/companies',
    {
      schema: {
        tags,
        summary: 'Put companies into the wave',
        params: waveParams,
        body: z.object({ companies: z.array(z.string().trim().min(1).max(120)).min(1).max(1000) }),
      },
    },
    async (request) => legacy.assignCompanies(callerOf(request), request.params.id, request.body.companies),
  );
  app.post(
    '/api/admin/migration/waves/:id/start',
    {
      schema: {
        tags,
        summary: 'Start the wave: its accounts see that they can switch',
        params: waveParams,
      },
    },
    async (request) => legacy.startWave(callerOf(request), request.params.id),
  );
  app.get(
    '/api/admin/legacy/companies',
    {
      schema: {
        tags,
        summary: 'Legacy companies and their wave',
        querystring: pageQuerySchema.extend({ q: z.string().max(120).optional() }),
      },
    },
    async (request) => legacy.listLegacyCompanies(callerOf(request), request.query),
  );
};
