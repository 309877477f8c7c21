/**
 * The send API (tenant keys with the `send` role; `read` for GET): POST /v1/messages,
 * POST /v1/messages/batch, GET /v1/messages/:id. A 202 means durable: the request is stored and
 * acknowledged on wa.outbound.requests.v1.
 */
import { isUuid, type Db } from '@coexist/db'
import type { CoexistError } from '@coexist/errors'
import { buildProblem, ProblemSchema, requireRole, requireTenantId, type FastifyPluginAsyncZod } from '@coexist/http'
import type { FastifyRequest } from 'fastify'
import { z } from 'zod'
import { acceptSends, type AcceptDeps, type AcceptOutcome } from '../domain/accept.ts'
import { BatchRequestSchema, MAX_BATCH, SendRequestSchema } from '../domain/send-request.ts'
import { OutErrors } from '../errors.ts'
import { getMessage, type MessageSummary } from '../store/messages.ts'

export interface MessagesRoutesOptions {
  db: Db
  publishRequest: AcceptDeps['publishRequest']
  now?: () => number
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/

const TenantQuery = z.object({ tenant_id: z.uuid().optional().describe('required for admin keys: the tenant to act for') })
const Headers = z.looseObject({
  'idempotency-key': z.string().optional().describe('1–255 visible ASCII characters. The same key with the same request returns the first answer and sends once; with another request it is refused (409).')
})

const AcceptedSchema = z.object({
  id: z.uuid().describe('request id; GET /v1/messages/{id}'),
  state: z.literal('accepted'),
  phone_number_id: z.string(),
  recipient: z.string().describe('`to` or the business-scoped user id; empty for mark_as_read'),
  type: z.string(),
  idempotency_key: z.string().nullable(),
  accepted_at: z.string().describe('ISO 8601')
})

const STATES = ['accepted', 'sending', 'sent', 'delivered', 'read', 'failed', 'unknown', 'dead_lettered'] as const

const MessageViewSchema = z.object({
  id: z.uuid(),
  state: z.enum(STATES).describe('sent/delivered/read follow Meta; unknown: the send may or may not have reached Meta and was not resent'),
  phone_number_id: z.string(),
  recipient: z.string(),
  recipient_type: z.string(),
  type: z.string(),
  wamid: z.string().nullable(),
  attempts: z.number().int(),
  idempotency_key: z.string().nullable(),
  error: z.object({
    code: z.string().describe('OUT_… or META_API_ERROR'),
    message: z.string().nullable(),
    meta: z.looseObject({ code: z.number().int() }).nullable().describe("Meta's error (code, title, message, details, fbtrace_id)")
  }).nullable(),
  accepted_at: z.string(),
  sent_at: z.string().nullable(),
  delivery_at: z.string().nullable(),
  completed_at: z.string().nullable()
})
type MessageView = z.infer<typeof MessageViewSchema>

const iso = (d: Date | string | null): string | null => (d === null ? null : new Date(d).toISOString())

/** The API view of a stored request; Meta's delivery statuses refine `sent`. */
function messageView (row: MessageSummary): MessageView {
  let state: MessageView['state'] = row.state
  if (row.state === 'sent' && row.delivery !== null) state = row.delivery
  const meta = row.meta_error as { code: number } | null
  return {
    id: row.id,
    state,
    phone_number_id: row.phone_number_id,
    recipient: row.recipient,
    recipient_type: row.recipient_type,
    type: row.message_type,
    wamid: row.wamid,
    attempts: row.attempts,
    idempotency_key: row.idempotency_key,
    error: row.error_code === null && meta === null ? null : { code: row.error_code ?? 'META_API_ERROR', message: row.error_message, meta },
    accepted_at: iso(row.accepted_at) as string,
    sent_at: iso(row.sent_at),
    delivery_at: iso(row.delivery_at),
    completed_at: iso(row.completed_at)
  }
}

function idempotencyKeyOf (request: FastifyRequest): string | undefined {
  const raw = request.headers['idempotency-key']
  if (raw === undefined) return undefined
  if (typeof raw !== 'string' || !IDEMPOTENCY_KEY.test(raw)) throw OutErrors.OUT_IDEMPOTENCY_KEY_INVALID.create()
  return raw
}

function problemOf (error: CoexistError): z.infer<typeof ProblemSchema> {
  return buildProblem(error.code, error.status, error.message, error.detail)
}

const ItemResultSchema = z.object({
  index: z.number().int(),
  status: z.number().int().describe('202 accepted, else the status the single-message endpoint would answer'),
  replayed: z.boolean().optional(),
  message: AcceptedSchema.optional(),
  problem: ProblemSchema.optional()
})

export const messagesRoutes: FastifyPluginAsyncZod<MessagesRoutesOptions> = async (app, opts) => {
  const deps: AcceptDeps = { db: opts.db, publishRequest: opts.publishRequest, ...(opts.now !== undefined ? { now: opts.now } : {}) }

  app.post('/v1/messages', {
    schema: {
      tags: ['messages'],
      summary: 'Send a message (202 once durable)',
      description: 'The body is the sending `phone_number_id` plus a Cloud API message as Meta takes it (`messaging_product` optional): text, template, image/video/audio/document/sticker (by media id or link), location, contacts, interactive (buttons, list, cta_url, flow), reaction; or `{"type":"mark_as_read","message_id":…}`. Free-form messages need an open 24-hour customer service window (422 OUT_WINDOW_CLOSED); templates are refused while the tenant\'s spend limit is reached (402).',
      querystring: TenantQuery,
      headers: Headers,
      body: SendRequestSchema,
      response: { 202: AcceptedSchema }
    }
  }, async (request, reply) => {
    requireRole(request, 'send')
    const tenantId = requireTenantId(request, request.query.tenant_id)
    const key = idempotencyKeyOf(request)
    const [outcome] = await acceptSends(deps, tenantId, [{ request: request.body, idempotencyKey: key }]) as [AcceptOutcome]
    if (!outcome.ok) throw outcome.error
    if (outcome.replayed) reply.header('idempotent-replayed', 'true')
    return reply.code(202).header('location', `/v1/messages/${outcome.message.id}`).send(outcome.message)
  })

  app.post('/v1/messages/batch', {
    schema: {
      tags: ['messages'],
      summary: `Send up to ${MAX_BATCH} messages; one result per item (207)`,
      description: 'Items are independent: each gets 202 (durable) or the error the single endpoint would give. An item may carry its own `idempotency_key`; otherwise, with an Idempotency-Key header, item i uses `<header>:<i>`.',
      querystring: TenantQuery,
      headers: Headers,
      body: BatchRequestSchema,
      response: { 207: z.object({ accepted: z.number().int(), rejected: z.number().int(), results: z.array(ItemResultSchema) }) }
    }
  }, async (request, reply) => {
    requireRole(request, 'send')
    const tenantId = requireTenantId(request, request.query.tenant_id)
    const key = idempotencyKeyOf(request)
    const items = request.body.messages.map((m, i) => {
      const { idempotency_key: own, ...req } = m
      return { request: req as typeof SendRequestSchema._output, idempotencyKey: own ?? (key === undefined ? undefined : `${key}:${i}`) }
    })
    const outcomes = await acceptSends(deps, tenantId, items)
    const results = outcomes.map((o, index) => o.ok
      ? { index, status: 202, replayed: o.replayed, message: o.message }
      : { index, status: o.error.status, problem: problemOf(o.error) })
    const accepted = results.filter((r) => r.status === 202).length
    return reply.code(207).send({ accepted, rejected: results.length - accepted, results })
  })

  app.get('/v1/messages/:id', {
    schema: {
      tags: ['messages'],
      summary: "A request's state",
      params: z.object({ id: z.string().max(64) }),
      querystring: TenantQuery,
      response: { 200: MessageViewSchema }
    }
  }, async (request) => {
    const principal = request.principal
    if (principal !== null && !principal.isAdmin && !principal.roles.includes('read')) requireRole(request, 'send')
    const tenantId = requireTenantId(request, request.query.tenant_id)
    const row = isUuid(request.params.id) ? await getMessage(opts.db, tenantId, request.params.id) : undefined
    if (row === undefined) throw OutErrors.OUT_MESSAGE_NOT_FOUND.create()
    return messageView(row)
  })
}
