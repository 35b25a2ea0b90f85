import { readdir } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '@kis/protocol/realtime';
import type { ApiClient, ApiResponse } from './api.js';
import type { TestServer } from './server.js';

/** Uploads bytes as a browser does: the body is the file, the name in the query. */
export async function upload<T = Record<string, unknown>>(
  client: ApiClient,
  path: string,
  bytes: Uint8Array,
  contentType = 'application/octet-stream',
  headers: Record<string, string> = {},
): Promise<ApiResponse<T>> {
  const res = await fetch(`${client.server.url}${path}`, {
    method: 'POST',
    headers: {
      'x-forwarded-for': client.ip,
      'content-type': contentType,
      ...(client.cookie ? { cookie: client.cookie } : {}),
      ...(client.csrfToken ? { 'x-csrf-token': client.csrfToken } : {}),
      ...headers,
    },
    body: bytes,
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T, headers: res.headers };
}

/** Downloads a file: status, headers and the exact bytes. */
export async function download(
  client: ApiClient,
  path: string,
): Promise<{ status: number; headers: Headers; bytes: Buffer }> {
  const res = await fetch(`${client.server.url}${path}`, {
    headers: { 'x-forwarded-for': client.ip, ...(client.cookie ? { cookie: client.cookie } : {}) },
  });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

/**
 * Starts an upload that declares `declared` bytes, sends `sent` of them and then cuts the
 * connection, as a browser tab closed mid-upload does.
 */
export async function abortedUpload(client: ApiClient, path: string, declared: number, sent: number): Promise<void> {
  const url = new URL(`${client.server.url}${path}`);
  await new Promise<void>((resolve) => {
    const req = http.request({
      host: url.hostname,
      port: url.port,
      path: `${url.pathname}${url.search}`,
      method: 'POST',
      headers: {
        'x-forwarded-for': client.ip,
        'content-type': 'application/octet-stream',
        'content-length': String(declared),
        cookie: client.cookie ?? '',
        'x-csrf-token': client.csrfToken ?? '',
      },
    });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.write(Buffer.alloc(sent, 7), () => setTimeout(() => req.destroy(), 300));
  });
}

/** Counts documents in a collection of the server's database (to see what GridFS holds). */
/**
 * How many files' bytes a server holds, wherever its store keeps them: sealed files on the disk
 * (KIS_DATA_DIR/files, uploads under way included) and GridFS files in the database.
 */
export async function storedFiles(server: TestServer): Promise<number> {
  const root = path.join(server.dataDir, 'files');
  let onDisk = 0;
  for (const entry of await readdir(root, { withFileTypes: true }).catch(() => [])) {
    if (entry.isDirectory()) onDisk += (await readdir(path.join(root, entry.name))).length;
  }
  return onDisk + (await countIn(server, 'areafiles.files'));
}

export async function countIn(server: TestServer, collection: string, filter: object = {}): Promise<number> {
  const mongo = new MongoClient(server.mongoUri);
  try {
    await mongo.connect();
    return await mongo.db().collection(collection).countDocuments(filter);
  } finally {
    await mongo.close();
  }
}

/** A signed-in Socket.IO connection of a client, as the portal opens it. */
export async function connectSocket(
  server: TestServer,
  client: ApiClient,
): Promise<Socket<ServerToClientEvents, ClientToServerEvents>> {
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(server.url, {
    transports: ['websocket'],
    reconnection: false,
    extraHeaders: { cookie: client.cookie ?? '', 'x-forwarded-for': client.ip },
    auth: { csrfToken: client.csrfToken, identity: 0 },
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

/** Resolves with the next `areas:changed` of a socket for that area, or rejects after `ms`. */
export function nextAreaChange(
  socket: Socket<ServerToClientEvents, ClientToServerEvents>,
  area: 'personal' | 'company' | 'files',
  ms = 5000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no areas:changed for ${area} within ${ms} ms`)), ms);
    const listener = (payload: { area: string }): void => {
      if (payload.area !== area) return;
      clearTimeout(timer);
      socket.off('areas:changed', listener);
      resolve();
    };
    socket.on('areas:changed', listener);
  });
}
