/**
 * The webhook door: `GET /webhooks/meta[/:appId]` answers Meta's verification handshake;
 * `POST /webhooks/meta[/:appId]` checks X-Hub-Signature-256 on the exact bytes received, then
 * publishes the body and its changes to Kafka and answers 200 only once Kafka acknowledged
 * every record (acks=all). Anything else Meta retries, which is what keeps invariant 1.
 */
import type { BusProducer, TopicRegistry } from '@coexist/bus'
import { HEADER, PROTOBUF_CONTENT_TYPE, newTraceId } from '@coexist/bus'
import { findCode } from '@coexist/errors'
import type { FastifyPluginAsyncZod } from '@coexist/http'
import { SIGNATURE_HEADER, checkVerifyChallenge, type SignatureVerifier } from '@coexist/meta'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { IngressErrors } from '../errors.ts'
import type { IngressMetrics, RequestOutcome, SignatureFailure } from '../metrics.ts'
import { encodeRawWebhook, encodeWebhookChange } from '../webhook/encode.ts'
import { planWebhook, type PlannedRecord } from '../webhook/fan-out.ts'

export interface WebhookRoutesOptions {
  producer: Pick<BusProducer, 'publish' | 'publishRaw'>
  topics: TopicRegistry
  verifier: SignatureVerifier
  verifyToken: string
  metrics: IngressMetrics
  /** Largest body accepted; larger ones get 413 before they are read in full. */
  bodyLimitBytes: number
  /** How long a request waits for Kafka's acknowledgement before answering 503. */
  publishTimeoutMs: number
  /** Receive time source (ms since the epoch). */
  now: () => number
}

const EMPTY = Buffer.alloc(0)
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/**
 * The request's trace id: its request id (a random UUID unless the caller sent a plain
 * X-Request-Id) as 32 hex digits, so log lines (`reqId`) and records (`trace-id`) correlate;
 * a fresh id otherwise.
 */
const traceIdOf = (requestId: string): string => UUID.test(requestId) ? requestId.replaceAll('-', '') : newTraceId()

declare module 'fastify' {
  interface FastifyRequest {
    /** How a webhook POST ended, for `ingress_webhook_requests_total` (null: from the status code). */
    webhookOutcome: RequestOutcome | null
  }
}

const AppIdParams = z.object({
  appId: z.string().min(1).max(64).describe('The Meta app id whose secrets verify this callback URL')
})

const HandshakeQuery = z.looseObject({
  'hub.mode': z.string().optional().describe('`subscribe`'),
  'hub.verify_token': z.string().optional().describe('The verify token set in the App Dashboard (META_VERIFY_TOKEN)'),
  'hub.challenge': z.string().optional().describe('Echoed back as the plain-text body on success')
})

const handshakeSchema = {
  tags: ['webhooks'],
  summary: 'Meta webhook verification handshake',
  description: 'Answers `hub.challenge` as plain text when `hub.mode=subscribe` and `hub.verify_token` matches; 403 otherwise.',
  querystring: HandshakeQuery,
  response: { 200: z.string().describe('The `hub.challenge` value') }
}

const receiveSchema = {
  tags: ['webhooks'],
  summary: 'Receive a signed Meta webhook',
  description: 'The body is verified with X-Hub-Signature-256 over its exact bytes (401 otherwise, nothing stored), ' +
    'archived to `webhook.raw`, and each `entry[].changes[]` published to its field\'s topic. 200 only after Kafka ' +
    'acknowledged every record; 503 when it did not in time, so Meta retries.',
  response: { 200: z.null().describe('Stored on Kafka') }
}

/** The webhook routes (an encapsulated plugin: its body parser and hooks touch nothing else). */
export const webhookRoutes: FastifyPluginAsyncZod<WebhookRoutesOptions> = async (app, opts) => {
  const { producer, topics, verifier, verifyToken, metrics, publishTimeoutMs, now } = opts
  // How each POST ended, on the request itself (a WeakMap entry per request cost an ephemeron
  // the garbage collector has to trace).
  app.decorateRequest('webhookOutcome', null)
  // prom-client children bound once: inc() on a child skips hashing the labels every time.
  const requestsBy = new Map<RequestOutcome, { inc: () => void }>()
  const countRequest = (outcome: RequestOutcome): void => {
    let c = requestsBy.get(outcome)
    if (c === undefined) { c = metrics.requests.labels({ outcome }); requestsBy.set(outcome, c) }
    c.inc()
  }
  const changesBy = new Map<string, { inc: () => void }>()
  const countChange = (topic: string): void => {
    let c = changesBy.get(topic)
    if (c === undefined) { c = metrics.changes.labels({ topic }); changesBy.set(topic, c) }
    c.inc()
  }
  const publishedOk = metrics.publishDuration.labels({ outcome: 'ok' })
  const publishOptions = { timeoutMs: publishTimeoutMs }

  /**
   * One planned record to Kafka. The archive and the changes are encoded here (encode.ts, the
   * bytes toBinary writes) and published as bytes with the headers publish() would give them;
   * the rare unrouted record goes through publish().
   */
  const publishRecord = (r: PlannedRecord, traceId: string): Promise<void> => {
    if (r.topic === 'webhook.unrouted') return producer.publish(r.topic, { key: r.key, value: r.value, traceId }, publishOptions)
    const spec = topics.topic(r.topic)
    const value = r.topic === 'webhook.raw' ? encodeRawWebhook(r.value) : encodeWebhookChange(r.value)
    const headers = {
      [HEADER.eventType]: spec.eventType(r.value as never),
      [HEADER.schema]: spec.schema.typeName,
      [HEADER.contentType]: PROTOBUF_CONTENT_TYPE,
      [HEADER.traceId]: traceId
    }
    return producer.publishRaw(r.topic, { key: r.key, value, headers }, publishOptions)
  }

  // Every body reaches the handler as the raw Buffer, whatever its Content-Type: the signature
  // covers the bytes, so nothing may parse (or re-encode) them before the check.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: opts.bodyLimitBytes }, (_request, body, done) => { done(null, body) })

  // A callback hook, not an async one: no promise and microtask per request.
  app.addHook('onResponse', (request, reply, done) => {
    if (request.method === 'POST') {
      const s = reply.statusCode
      countRequest(request.webhookOutcome ??
        (s === 413 ? 'too_large' : s === 503 ? 'kafka_unavailable' : s >= 500 ? 'error' : s >= 400 ? 'bad_request' : 'routed'))
    }
    done()
  })

  const handshake = async (request: FastifyRequest<{ Querystring: z.infer<typeof HandshakeQuery>, Params: { appId?: string } }>, reply: FastifyReply) => {
    const appId = request.params.appId
    const check = appId !== undefined && !verifier.appIds.includes(appId)
      ? { ok: false as const, reason: 'unknown_app' as const }
      : checkVerifyChallenge(request.query, verifyToken)
    if (!check.ok) {
      metrics.verifications.inc({ result: check.reason })
      request.log.warn({ reason: check.reason, appId }, 'webhook verification refused')
      throw IngressErrors.ING_VERIFICATION_FAILED.create({ detail: { reason: check.reason } })
    }
    metrics.verifications.inc({ result: 'ok' })
    request.log.info({ appId }, 'webhook verification answered')
    return reply.code(200).type('text/plain; charset=utf-8').header('x-content-type-options', 'nosniff').send(check.challenge)
  }

  const receive = async (request: FastifyRequest<{ Params: { appId?: string } }>, reply: FastifyReply) => {
    const receivedAt = now()
    const body = Buffer.isBuffer(request.body) ? request.body : EMPTY
    const header = request.headers[SIGNATURE_HEADER]
    const appId = request.params.appId
    const check = appId !== undefined ? verifier.verifyForApp(appId, body, header) : verifier.verifyAny(body, header)
    if (!check.ok) {
      // Signed with a secret we know, but another app's: a callback URL pointing at the wrong app.
      const reason: SignatureFailure = check.reason === 'mismatch' && appId !== undefined && verifier.verifyAny(body, header).ok
        ? 'other_app'
        : check.reason
      metrics.signatureFailures.inc({ reason })
      request.webhookOutcome = 'signature_rejected'
      request.log.warn({ reason, appId, bytes: body.length }, 'webhook signature rejected')
      throw IngressErrors.ING_SIGNATURE_INVALID.create({ detail: { reason } })
    }

    const contentType = request.headers['content-type'] ?? ''
    const plan = planWebhook(body, { appId: check.appId, requestId: request.id, receivedAt, contentType }, topics)
    // One trace id for every record of the request; all are enqueued in this tick, so they
    // travel in the same producer batch as the other requests' records (group commit).
    const traceId = traceIdOf(request.id)
    const started = performance.now()
    try {
      await Promise.all(plan.records.map((r) => publishRecord(r, traceId)))
    } catch (err) {
      metrics.publishDuration.observe({ outcome: 'failed' }, (performance.now() - started) / 1000)
      const code = findCode(err) ?? 'UNKNOWN'
      metrics.publishFailures.inc({ code })
      request.webhookOutcome = 'kafka_unavailable'
      request.log.warn({ code, records: plan.records.length }, 'webhook not stored: Kafka did not acknowledge; answering 503')
      // Every publish failure is a 503, even a record Kafka refuses as too large: Meta retries
      // (nothing lost) and the failure stays visible in the metrics until the topic is fixed.
      reply.header('retry-after', '1')
      throw IngressErrors.ING_KAFKA_UNAVAILABLE.create({ cause: err, detail: { code } })
    }
    publishedOk.observe((performance.now() - started) / 1000)
    for (const r of plan.records) if (r.topic !== 'webhook.raw' && r.topic !== 'webhook.unrouted') countChange(r.topic)
    for (const reason of plan.unrouted) metrics.unrouted.inc({ reason })
    if (plan.unrouted.length > 0) {
      request.webhookOutcome = 'unrouted'
      request.log.warn({ reasons: plan.unrouted, changes: plan.changes, wabaId: plan.wabaId }, 'webhook archived; part of it went to the unrouted topic')
    } else {
      request.webhookOutcome = 'routed'
      request.log.debug({ changes: plan.changes, wabaId: plan.wabaId }, 'webhook stored')
    }
    return reply.code(200).send()
  }

  const postOptions = { schema: receiveSchema, bodyLimit: opts.bodyLimitBytes }
  app.get('/webhooks/meta', { schema: handshakeSchema }, handshake)
  app.get('/webhooks/meta/:appId', { schema: { ...handshakeSchema, params: AppIdParams } }, handshake)
  app.post('/webhooks/meta', postOptions, receive)
  app.post('/webhooks/meta/:appId', { ...postOptions, schema: { ...receiveSchema, params: AppIdParams } }, receive)
}
