/** Turns a simulator answer into an HTTP reply (JSON, bytes, or a destroyed connection). */
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { GraphAnswer } from '../simulator.ts'

/** The Bearer token of a Graph request (header, or Graph's `access_token` query parameter). */
export function bearerToken (request: FastifyRequest): string | undefined {
  const h = request.headers.authorization
  if (typeof h === 'string') {
    const m = /^(?:Bearer|OAuth)\s+(\S+)\s*$/i.exec(h)
    if (m !== null) return m[1]
  }
  const q = (request.query as { access_token?: unknown } | undefined)?.access_token
  return typeof q === 'string' && q.length > 0 ? q : undefined
}

/** Sends `a` on `reply`, after the answer's added latency; a reset destroys the socket. */
export async function sendAnswer (reply: FastifyReply, a: GraphAnswer): Promise<FastifyReply> {
  if (a.kind === 'reset') {
    reply.hijack()
    reply.raw.socket?.destroy()
    return reply
  }
  if (a.delayMs > 0) await sleep(a.delayMs)
  if (a.kind === 'bytes') return await reply.code(a.status).type(a.contentType).send(a.body)
  return await reply.code(a.status).send(a.body)
}
