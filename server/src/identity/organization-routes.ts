import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  apiErrorSchema,
  domainConfirmSchema,
  ipRangesUpdateSchema,
  memberSchema,
  okSchema,
  organizationCreateSchema,
  organizationDetailSchema,
  organizationListSchema,
  organizationSchema,
  pageQuerySchema,
  publicUserSchema,
  subAccountCreateSchema,
  subAccountCreatedSchema,
  subAccountUpdateSchema,
} from '@kis/protocol/api';
import { callerOf, requireSession, type CookiePolicy } from '../http/auth.js';
import * as organizations from './organizations.js';
import * as identity from './service.js';

const errors = {
  400: apiErrorSchema,
  401: apiErrorSchema,
  403: apiErrorSchema,
  404: apiErrorSchema,
  409: apiErrorSchema,
};
const idParams = z.object({ id: z.string().max(40) });

/** Organizations (operators) and sub-accounts (main accounts): rights are checked in the services. */
export const organizationRoutes: FastifyPluginAsyncZod<{ cookie: CookiePolicy }> = async (app, options) => {
  app.addHook('onRequest', requireSession(options.cookie));

  app.get(
    '/api/admin/organizations',
    {
      schema: {
        tags: ['organizations'],
        summary: 'Organizations, one page',
        querystring: pageQuerySchema.extend({ q: z.string().max(200).optional() }),
        response: { 200: organizationListSchema, ...errors },
      },
    },
    async (request) => organizations.listOrganizations(callerOf(request), request.query),
  );

  app.post(
    '/api/admin/organizations',
    {
      schema: {
        tags: ['organizations'],
        summary: 'Make a registered customer the main account of a new organization',
        body: organizationCreateSchema,
        response: { 200: organizationSchema, ...errors },
      },
    },
    async (request) => organizations.createOrganization(callerOf(request), request.body),
  );

  app.post(
    '/api/admin/organizations/:id/domains',
    {
      schema: {
        tags: ['organizations'],
        summary: 'Confirm an e-mail domain as the organization’s',
        params: idParams,
        body: domainConfirmSchema,
        response: { 200: organizationSchema, ...errors },
      },
    },
    async (request) => organizations.confirmDomain(callerOf(request), request.params.id, request.body.domain),
  );

  app.get(
    '/api/organizations/:id',
    {
      schema: {
        tags: ['organizations'],
        summary: 'An organization and its members (operators, its main account)',
        params: idParams,
        response: { 200: organizationDetailSchema, ...errors },
      },
    },
    async (request) => organizations.getOrganization(callerOf(request), request.params.id),
  );

  app.post(
    '/api/organizations/:id/sub-accounts',
    {
      schema: {
        tags: ['organizations'],
        summary: 'Create a sub-account and mail it an invitation',
        params: idParams,
        body: subAccountCreateSchema,
        response: { 200: subAccountCreatedSchema, ...errors },
      },
    },
    async (request) =>
      organizations.createSubAccount(callerOf(request), { ...request.body, organizationId: request.params.id }),
  );

  app.patch(
    '/api/sub-accounts/:id',
    {
      schema: {
        tags: ['organizations'],
        summary: 'Change a sub-account (rights need the password again)',
        params: idParams,
        body: subAccountUpdateSchema,
        response: { 200: memberSchema, ...errors },
      },
    },
    async (request) => organizations.updateSubAccount(callerOf(request), request.params.id, request.body),
  );

  app.delete(
    '/api/sub-accounts/:id',
    {
      schema: {
        tags: ['organizations'],
        summary: 'Delete a sub-account',
        params: idParams,
        response: { 200: okSchema, ...errors },
      },
    },
    async (request) => {
      await organizations.deleteSubAccount(callerOf(request), request.params.id);
      return { ok: true as const };
    },
  );

  app.put(
    '/api/sub-accounts/:id/ip-ranges',
    {
      schema: {
        tags: ['organizations'],
        summary: 'Set the address ranges a sub-account may work from',
        params: idParams,
        body: ipRangesUpdateSchema,
        response: { 200: publicUserSchema, ...errors },
      },
    },
    async (request) => identity.setAllowedIpRanges(callerOf(request), request.params.id, request.body),
  );
};
