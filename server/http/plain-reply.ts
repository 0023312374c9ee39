import { STATUS_CODES } from 'node:http';
import type { FastifyReply } from 'fastify';

/** "Not Found" for 404; every error reply of the server has the same plain-text form. */
export function statusText(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}

/** The one body every error reply has: "404 Not Found\n", as text/plain. */
export function sendPlain(reply: FastifyReply, status: number): FastifyReply {
  return reply.code(status).type('text/plain; charset=utf-8').send(`${status} ${statusText(status)}\n`);
}
