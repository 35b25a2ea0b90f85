import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  alarmClearSchema,
  apiErrorSchema,
  commandCreateSchema,
  commandListSchema,
  commandViewSchema,
  depotCreateSchema,
  depotCreatedSchema,
  depotListSchema,
  depotUpdateSchema,
  depotViewSchema,
  fleetHistoryQuerySchema,
  grantListSchema,
  grantSetSchema,
  historyPageSchema,
  historyQuerySchema,
  manualEntrySchema,
  okSchema,
  pageQuerySchema,
  pinCreateSchema,
  pinCreatedSchema,
  pinListSchema,
  pinRevealSchema,
  pinViewSchema,
} from '@kis/protocol/api';
import { exportQuerySchema } from '@kis/protocol/api';
import { callerOf, requireSession, type CookiePolicy } from '../http/auth.js';
import { sendGenerated } from '../http/download.js';
import * as reports from '../reports/service.js';
import * as depots from './service.js';

const errors = {
  400: apiErrorSchema,
  401: apiErrorSchema,
  403: apiErrorSchema,
  404: apiErrorSchema,
  409: apiErrorSchema,
};
const depotParams = z.object({ id: z.string().max(40) });
const pinParams = depotParams.extend({ pinId: z.string().max(64) });
const userParams = depotParams.extend({ userId: z.string().max(40) });
const tags = ['depots'];

/** Key depots: registry, live views, history, commands, PINs, grants. Rights are checked in the service. */
export const depotRoutes: FastifyPluginAsyncZod<{ cookie: CookiePolicy }> = async (app, options) => {
  app.addHook('onRequest', requireSession(options.cookie));

  app.get(
    '/api/depots',
    {
      schema: {
        tags,
        summary: 'Depots the caller may see, live',
        querystring: pageQuerySchema.extend({ q: z.string().max(200).optional() }),
        response: { 200: depotListSchema, ...errors },
      },
    },
    async (request) => depots.listDepots(callerOf(request), request.query),
  );

  app.post(
    '/api/depots',
    {
      schema: {
        tags,
        summary: 'Register a depot (operators); the answer holds its provisioning file, once',
        body: depotCreateSchema,
        response: { 200: depotCreatedSchema, ...errors },
      },
    },
    async (request) => depots.registerDepot(callerOf(request), request.body),
  );

  app.get(
    '/api/depots/:id',
    {
      schema: { tags, summary: 'One depot, live', params: depotParams, response: { 200: depotViewSchema, ...errors } },
    },
    async (request) => depots.getDepot(callerOf(request), request.params.id),
  );

  app.patch(
    '/api/depots/:id',
    {
      schema: {
        tags,
        summary: 'Rename, move, or change the heartbeat interval (managers)',
        params: depotParams,
        body: depotUpdateSchema,
        response: { 200: depotViewSchema, ...errors },
      },
    },
    async (request) => depots.updateDepot(callerOf(request), request.params.id, request.body),
  );

  app.post(
    '/api/depots/:id/status',
    {
      schema: {
        tags,
        summary: 'Disable or enable a depot (operators)',
        params: depotParams,
        body: z.object({ status: z.enum(['active', 'disabled']) }),
        response: { 200: depotViewSchema, ...errors },
      },
    },
    async (request) => depots.setDepotStatus(callerOf(request), request.params.id, request.body.status),
  );

  app.delete(
    '/api/depots/:id',
    {
      schema: {
        tags,
        summary: 'Delete a depot and its history (operators)',
        params: depotParams,
        response: { 200: okSchema, ...errors },
      },
    },
    async (request) => {
      await depots.deleteDepot(callerOf(request), request.params.id);
      return { ok: true as const };
    },
  );

  app.post(
    '/api/depots/:id/rekey',
    {
      schema: {
        tags,
        summary: 'Send the depot a new key (operators)',
        params: depotParams,
        response: { 200: commandViewSchema, ...errors },
      },
    },
    async (request) => depots.rekeyDepot(callerOf(request), request.params.id),
  );

  app.get(
    '/api/depots/:id/history',
    {
      schema: {
        tags,
        summary: 'History, newest first, one page',
        params: depotParams,
        querystring: historyQuerySchema,
        response: { 200: historyPageSchema, ...errors },
      },
    },
    async (request) => depots.listHistory(callerOf(request), request.params.id, request.query),
  );

  app.post(
    '/api/depots/:id/history',
    {
      schema: {
        tags,
        summary: 'Log something that happened outside the depot (operators)',
        params: depotParams,
        body: manualEntrySchema,
        response: { 200: okSchema, ...errors },
      },
    },
    async (request) => {
      await depots.addManualEntry(callerOf(request), request.params.id, request.body);
      return { ok: true as const };
    },
  );

  app.get(
    '/api/depots/:id/commands',
    {
      schema: {
        tags,
        summary: 'Commands and their delivery state, newest first',
        params: depotParams,
        querystring: pageQuerySchema,
        response: { 200: commandListSchema, ...errors },
      },
    },
    async (request) => depots.listCommands(callerOf(request), request.params.id, request.query),
  );

  app.post(
    '/api/depots/:id/commands',
    {
      schema: {
        tags,
        summary: 'Send a command (operators)',
        params: depotParams,
        body: commandCreateSchema,
        response: { 200: commandViewSchema, ...errors },
      },
    },
    async (request) => depots.sendCommand(callerOf(request), request.params.id, request.body),
  );

  app.post(
    '/api/depots/:id/alarms/clear',
    {
      schema: {
        tags,
        summary: 'Clear an alarm that was dealt with (operators)',
        params: depotParams,
        body: alarmClearSchema,
        response: { 200: depotViewSchema, ...errors },
      },
    },
    async (request) => depots.clearAlarm(callerOf(request), request.params.id, request.body),
  );

  app.get(
    '/api/depots/:id/pins',
    {
      schema: {
        tags,
        summary: 'PINs of the depot (operators)',
        params: depotParams,
        response: { 200: pinListSchema, ...errors },
      },
    },
    async (request) => depots.listPins(callerOf(request), request.params.id),
  );

  app.post(
    '/api/depots/:id/pins',
    {
      schema: {
        tags,
        summary: 'Create a PIN for a compartment (operators); the answer shows its digits',
        params: depotParams,
        body: pinCreateSchema,
        response: { 200: pinCreatedSchema, ...errors },
      },
    },
    async (request) => depots.createPin(callerOf(request), request.params.id, request.body),
  );

  app.post(
    '/api/depots/:id/pins/:pinId/reveal',
    {
      schema: {
        tags,
        summary: 'Show a PIN’s digits again (operators, audited)',
        params: pinParams,
        response: { 200: pinRevealSchema, ...errors },
      },
    },
    async (request) => depots.revealPin(callerOf(request), request.params.id, request.params.pinId),
  );

  app.delete(
    '/api/depots/:id/pins/:pinId',
    {
      schema: {
        tags,
        summary: 'Revoke a PIN (operators)',
        params: pinParams,
        response: { 200: pinViewSchema, ...errors },
      },
    },
    async (request) => depots.revokePin(callerOf(request), request.params.id, request.params.pinId),
  );

  app.get(
    '/api/depots/:id/grants',
    {
      schema: {
        tags,
        summary: 'Explicit grants on the depot (managers)',
        params: depotParams,
        response: { 200: grantListSchema, ...errors },
      },
    },
    async (request) => depots.listGrants(callerOf(request), request.params.id),
  );

  app.put(
    '/api/depots/:id/grants/:userId',
    {
      schema: {
        tags,
        summary: 'Grant a user a role on the depot',
        params: userParams,
        body: grantSetSchema,
        response: { 200: okSchema, ...errors },
      },
    },
    async (request) => {
      await depots.setGrant(callerOf(request), request.params.id, request.params.userId, request.body.role);
      return { ok: true as const };
    },
  );

  app.delete(
    '/api/depots/:id/grants/:userId',
    { schema: { tags, summary: 'Take a grant back', params: userParams, response: { 200: okSchema, ...errors } } },
    async (request) => {
      await depots.removeGrant(callerOf(request), request.params.id, request.params.userId);
      return { ok: true as const };
    },
  );

  app.get(
    '/api/depots/history/export',
    {
      schema: {
        tags,
        summary:
          'The history of every depot the caller may see in a time range (at most 366 days), as CSV or PDF: ' +
          'by depot name, then oldest first; streamed depot by depot',
        querystring: fleetHistoryQuerySchema,
      },
    },
    async (request, reply) => {
      const { from, to, kind, ...format } = request.query;
      return sendGenerated(
        reply,
        reports.exportTable(format, await depots.fleetHistoryForExport(callerOf(request), { from, to, kind })),
      );
    },
  );

  app.get(
    '/api/depots/:id/history/export',
    {
      schema: {
        tags,
        summary: 'The history as CSV or PDF, oldest first, with the timeline filters (streamed)',
        params: depotParams,
        querystring: exportQuerySchema.extend(
          historyQuerySchema.pick({ from: true, to: true, kind: true, comp: true }).shape,
        ),
      },
    },
    async (request, reply) => {
      const { from, to, kind, comp, ...format } = request.query;
      return sendGenerated(
        reply,
        reports.exportTable(
          format,
          await depots.historyForExport(callerOf(request), request.params.id, {
            from,
            to,
            kind,
            comp,
          }),
        ),
      );
    },
  );
};
