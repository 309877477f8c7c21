/**
 * Graph API routes (`/{version}/...`): sends and mark-as-read, smb_app_data, phone number and
 * media nodes, WABA subscriptions and phone number listing, media upload and download. Bodies are
 * parsed here (not by Fastify's default parser) so a malformed body gets Meta's answer, code 100.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { graphError } from '../graph/graph-error.ts'
import { INVALID_JSON, type Simulator } from '../simulator.ts'
import { bearerToken, sendAnswer } from './graph-answer.ts'

const VERSION = /^v\d+\.\d+$/

interface NodeParams { version: string, id: string }

export interface GraphRoutesOptions { sim: Simulator }

/** Registers the Graph API routes of the simulator. */
export const graphRoutes: FastifyPluginAsync<GraphRoutesOptions> = async (app, { sim }) => {
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = (body as string).trim()
    if (text === '') { done(null, undefined); return }
    try { done(null, JSON.parse(text)) } catch { done(null, INVALID_JSON) }
  })
  // Graph also takes form-encoded parameters; object values arrive as JSON text.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    const out: Record<string, unknown> = {}
    for (const [k, v] of new URLSearchParams(body as string)) {
      try { out[k] = /^[[{]/.test(v) ? JSON.parse(v) : v } catch { out[k] = v }
    }
    done(null, out)
  })
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => { done(null, body) })

  app.setErrorHandler(async (err, request, reply) => {
    request.log.error({ err }, 'simulator graph route failed')
    const e = graphError(131000)
    return await reply.code(e.status).send(e.body)
  })

  // `/_sim/<unknown>` also matches `/:version/:id`; leave it to the not-found handler. (A
  // callback hook: it runs on every send, and an async one costs a promise each time.)
  app.addHook('preHandler', (request, reply, done) => {
    if (request.url.startsWith('/_sim/')) { reply.callNotFound(); return }
    done()
  })

  const versionOk = (request: FastifyRequest<{ Params: NodeParams }>): boolean => VERSION.test(request.params.version)

  app.post<{ Params: NodeParams }>('/:version/:id/messages', async (request, reply) => {
    if (!versionOk(request)) return await sendAnswer(reply, sim.unknownObject(request.params.version, 'post'))
    return await sendAnswer(reply, sim.handleMessages(request.params.id, request.params.version, bearerToken(request), request.body))
  })

  app.post<{ Params: NodeParams }>('/:version/:id/smb_app_data', async (request, reply) => {
    if (!versionOk(request)) return await sendAnswer(reply, sim.unknownObject(request.params.version, 'post'))
    return await sendAnswer(reply, sim.handleSmbAppData(request.params.id, bearerToken(request), request.body))
  })

  app.post<{ Params: NodeParams }>('/:version/:id/media', async (request, reply) => {
    const file = Buffer.isBuffer(request.body) ? multipartFile(request.headers['content-type'] ?? '', request.body) : undefined
    return await sendAnswer(reply, sim.handleUpload(request.params.id, bearerToken(request), file))
  })

  app.post<{ Params: NodeParams }>('/:version/:id/subscribed_apps', async (request, reply) =>
    await sendAnswer(reply, sim.handleSubscribe(request.params.id, bearerToken(request), request.body)))

  app.get<{ Params: NodeParams }>('/:version/:id/subscribed_apps', async (request, reply) =>
    await sendAnswer(reply, sim.handleGetSubscriptions(request.params.id, bearerToken(request))))

  app.get<{ Params: NodeParams }>('/:version/:id/phone_numbers', async (request, reply) =>
    await sendAnswer(reply, sim.handleWabaPhoneNumbers(request.params.id, bearerToken(request))))

  app.get<{ Params: NodeParams, Querystring: { fields?: string, phone_number_id?: string } }>('/:version/:id', async (request, reply) => {
    if (!versionOk(request)) return await sendAnswer(reply, sim.unknownObject(request.params.version))
    return await sendAnswer(reply, sim.handleGetNode(request.params.id, bearerToken(request), request.query))
  })

  app.delete<{ Params: NodeParams }>('/:version/:id', async (request, reply) =>
    await sendAnswer(reply, sim.handleDeleteMedia(request.params.id, bearerToken(request))))

  app.get<{ Querystring: { mid?: string, exp?: string, hash?: string } }>('/_media/download', async (request, reply) =>
    await sendAnswer(reply, sim.handleMediaDownload(request.query, bearerToken(request))))
}

/** The `file` part of a multipart body (enough of RFC 7578 for Graph media uploads). */
function multipartFile (contentType: string, body: Buffer): { bytes: Buffer, mimeType: string } | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType)
  const boundary = m?.[1] ?? m?.[2]
  if (boundary === undefined) return undefined
  const delimiter = Buffer.from(`--${boundary}`)
  let start = body.indexOf(delimiter)
  while (start !== -1) {
    const next = body.indexOf(delimiter, start + delimiter.length)
    if (next === -1) break
    const part = body.subarray(start + delimiter.length + 2, next - 2) // skip CRLF after the delimiter and before the next
    const sep = part.indexOf('\r\n\r\n')
    if (sep !== -1) {
      const headers = part.subarray(0, sep).toString('latin1')
      if (/name="file"/i.test(headers)) {
        const type = /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1]?.trim() ?? 'application/octet-stream'
        return { bytes: Buffer.from(part.subarray(sep + 4)), mimeType: type }
      }
    }
    start = next
  }
  return undefined
}
