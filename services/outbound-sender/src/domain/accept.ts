/**
 * Durable acceptance of send requests (invariant 5). A request is accepted when its row is in
 * outbound_messages AND its record is acknowledged on wa.outbound.requests.v1 (acks=all); only
 * then does the API answer 202. The same Idempotency-Key with the same request returns the first
 * answer and sends once; with another request it is refused (409).
 *
 * Early refusals, before anything is stored: unknown or foreign number (404), number not active
 * (409), free-form message outside the customer service window (422), template while the tenant's
 * spend limit is reached (402).
 */
import { randomUUID } from 'node:crypto'
import type { MessageInitShape } from '@bufbuild/protobuf'
import { type OutboundRequestSchema, RecipientType } from '@coexist/contracts'
import type { Db } from '@coexist/db'
import type { CoexistError } from '@coexist/errors'
import { OutErrors } from '../errors.ts'
import { isSpendLimitReached } from '../store/balances.ts'
import {
  findByIdempotencyKeys, insertAccepted, markNotAccepted, markPublished, reviveNotAccepted,
  type MessageSummary, type NewMessageRow
} from '../store/messages.ts'
import { lastInbound, SERVICE_WINDOW_MS, windowKey } from '../store/windows.ts'
import { prepareSend, type PreparedSend, type SendRequest } from './send-request.ts'

export type OutboundRequestInit = MessageInitShape<typeof OutboundRequestSchema>

export interface AcceptDeps {
  db: Db
  /** Publishes one request record (key = phone_number_id); resolves once Kafka acknowledged it. */
  publishRequest: (record: OutboundRequestInit) => Promise<void>
  /** Wall clock (ms since the epoch); windows are compared with it. */
  now?: () => number
}

export interface AcceptItem {
  request: SendRequest
  idempotencyKey: string | undefined
}

/** What the API answers for an accepted request (the first answer, replayed as is). */
interface AcceptedMessage {
  id: string
  state: 'accepted'
  phone_number_id: string
  recipient: string
  type: string
  idempotency_key: string | null
  accepted_at: string
}

export type AcceptOutcome =
  | { ok: true, replayed: boolean, message: AcceptedMessage }
  | { ok: false, error: CoexistError }

const STATUS_ERRORS: Readonly<Record<string, { create: (opts: { detail: Record<string, unknown> }) => CoexistError }>> = {
  disconnected: OutErrors.OUT_NUMBER_DISCONNECTED,
  suspended: OutErrors.OUT_NUMBER_SUSPENDED,
  pending: OutErrors.OUT_NUMBER_PENDING
}

/** The coded refusal for a number that is not active (undefined when it may send). */
function numberStatusError (phoneNumberId: string, status: string): CoexistError | undefined {
  if (status === 'active') return undefined
  const f = STATUS_ERRORS[status] ?? OutErrors.OUT_NUMBER_NOT_ACTIVE
  return f.create({ detail: { phoneNumberId, status } })
}

function answerOf (row: Pick<MessageSummary, 'id' | 'phone_number_id' | 'recipient' | 'message_type' | 'idempotency_key' | 'accepted_at'>): AcceptedMessage {
  return {
    id: row.id,
    state: 'accepted',
    phone_number_id: row.phone_number_id,
    recipient: row.recipient,
    type: row.message_type,
    idempotency_key: row.idempotency_key,
    accepted_at: new Date(row.accepted_at).toISOString()
  }
}

/** The record for wa.outbound.requests.v1. */
function requestRecord (tenantId: string, row: { id: string, idempotencyKey: string | null, acceptedAt: Date }, p: PreparedSend): OutboundRequestInit {
  return {
    requestId: row.id,
    tenantId,
    phoneNumberId: p.phoneNumberId,
    recipient: p.recipient,
    recipientType: p.recipientType === 'user_id' ? RecipientType.USER_ID : RecipientType.PHONE,
    idempotencyKey: row.idempotencyKey ?? '',
    messageJson: Buffer.from(JSON.stringify(p.graphBody)),
    isTemplate: p.isTemplate,
    categoryHint: p.isTemplate ? '' : 'service',
    acceptedAt: BigInt(row.acceptedAt.getTime()),
    attempt: 1,
    notBefore: 0n
  }
}

/**
 * Accepts a batch of send requests for one tenant; one outcome per item, in order. Items are
 * independent: one refusal does not affect the others.
 */
export async function acceptSends (deps: AcceptDeps, tenantId: string, items: readonly AcceptItem[]): Promise<AcceptOutcome[]> {
  const now = deps.now ?? Date.now
  const { db } = deps
  const prepared = items.map((i) => prepareSend(i.request))
  const outcomes: Array<AcceptOutcome | undefined> = new Array(items.length)
  /** Records to (re)publish, with the items waiting on each. */
  const toPublish = new Map<string, { record: OutboundRequestInit, items: number[], isNew: boolean, answer: AcceptedMessage, replayed: boolean }>()

  // 1. Idempotency keys seen before: replay (and re-publish if never acknowledged) or 409.
  const keys = items.map((i) => i.idempotencyKey).filter((k): k is string => k !== undefined)
  const existing = new Map((await findByIdempotencyKeys(db, tenantId, keys)).map((r) => [r.idempotency_key as string, r]))
  const replay = (i: number, row: MessageSummary): void => {
    const p = prepared[i] as PreparedSend
    if (!row.request_hash.equals(p.requestHash)) {
      outcomes[i] = { ok: false, error: OutErrors.OUT_IDEMPOTENCY_KEY_REUSED.create({ detail: { idempotencyKey: row.idempotency_key } }) }
      return
    }
    const answer = answerOf(row)
    const neverAcked = row.published_at === null && (row.state === 'accepted' || row.error_code === 'OUT_NOT_ACCEPTED')
    if (!neverAcked) { outcomes[i] = { ok: true, replayed: true, message: answer }; return }
    const pending = toPublish.get(row.id)
    if (pending !== undefined) { pending.items.push(i); return }
    const record = requestRecord(tenantId, { id: row.id, idempotencyKey: row.idempotency_key, acceptedAt: new Date(row.accepted_at) }, p)
    toPublish.set(row.id, { record, items: [i], isNew: false, answer, replayed: true })
  }
  const fresh: number[] = []
  const firstOfKey = new Map<string, number>()
  for (let i = 0; i < items.length; i++) {
    const key = items[i]?.idempotencyKey
    if (key === undefined) { fresh.push(i); continue }
    const row = existing.get(key)
    if (row !== undefined) { replay(i, row); continue }
    if (firstOfKey.has(key)) continue // a repeat inside this batch: settled after the first one
    firstOfKey.set(key, i)
    fresh.push(i)
  }

  // 2. Early refusals for new requests: number, window, spend limit.
  const numberIds = [...new Set(fresh.map((i) => (prepared[i] as PreparedSend).phoneNumberId))]
  const numbers = numberIds.length === 0
    ? new Map<string, string>()
    : new Map((await db.selectFrom('phone_numbers').select(['id', 'status']).where('tenant_id', '=', tenantId).where('id', 'in', numberIds).execute()).map((r) => [r.id, r.status as string]))
  const windowKeys = fresh.map((i) => prepared[i] as PreparedSend).filter((p) => p.needsOpenWindow).map((p) => ({ phoneNumberId: p.phoneNumberId, customer: p.customer }))
  const windows = await lastInbound(db, windowKeys)
  const limitReached = fresh.some((i) => (prepared[i] as PreparedSend).isTemplate) ? await isSpendLimitReached(db, tenantId) : false
  const nowMs = now()
  const rows: NewMessageRow[] = []
  const rowItem = new Map<string, number>()
  for (const i of fresh) {
    const p = prepared[i] as PreparedSend
    const status = numbers.get(p.phoneNumberId)
    let error: CoexistError | undefined
    if (status === undefined) error = OutErrors.OUT_NUMBER_NOT_FOUND.create({ detail: { phoneNumberId: p.phoneNumberId } })
    else error = numberStatusError(p.phoneNumberId, status)
    if (error === undefined && p.needsOpenWindow) {
      const last = windows.get(windowKey(p.phoneNumberId, p.customer))
      if (last === undefined || nowMs - last.getTime() >= SERVICE_WINDOW_MS) {
        error = OutErrors.OUT_WINDOW_CLOSED.create({ detail: { phoneNumberId: p.phoneNumberId, recipient: p.recipient, lastInboundAt: last?.toISOString() ?? null } })
      }
    }
    if (error === undefined && p.isTemplate && limitReached) error = OutErrors.OUT_SPEND_LIMIT_REACHED.create({ detail: { tenantId } })
    if (error !== undefined) { outcomes[i] = { ok: false, error }; continue }
    const id = randomUUID()
    rowItem.set(id, i)
    rows.push({
      id,
      tenantId,
      phoneNumberId: p.phoneNumberId,
      recipient: p.recipient,
      recipientType: p.recipientType,
      messageType: p.messageType,
      isTemplate: p.isTemplate,
      categoryHint: p.isTemplate ? null : 'service',
      idempotencyKey: items[i]?.idempotencyKey ?? null,
      requestHash: p.requestHash,
      body: p.graphBody,
      acceptedAt: new Date(nowMs)
    })
  }

  // 3. Store the rows; a key inserted concurrently by another request is a replay after all.
  const inserted = await insertAccepted(db, rows)
  const raced: number[] = []
  for (const row of rows) {
    const i = rowItem.get(row.id) as number
    if (!inserted.has(row.id)) { raced.push(i); continue }
    const p = prepared[i] as PreparedSend
    const answer = answerOf({ id: row.id, phone_number_id: row.phoneNumberId, recipient: row.recipient, message_type: row.messageType, idempotency_key: row.idempotencyKey, accepted_at: row.acceptedAt })
    toPublish.set(row.id, { record: requestRecord(tenantId, row, p), items: [i], isNew: true, answer, replayed: false })
  }
  if (raced.length > 0) {
    const again = new Map((await findByIdempotencyKeys(db, tenantId, raced.map((i) => items[i]?.idempotencyKey as string))).map((r) => [r.idempotency_key as string, r]))
    for (const i of raced) {
      const row = again.get(items[i]?.idempotencyKey as string)
      if (row === undefined) outcomes[i] = { ok: false, error: OutErrors.OUT_NOT_DURABLE.create() }
      else replay(i, row)
    }
  }

  // 4. Publish, then answer: 202 only for what Kafka acknowledged.
  const revive = [...toPublish.entries()].filter(([, v]) => !v.isNew).map(([id]) => id)
  await reviveNotAccepted(db, revive)
  const entries = [...toPublish.entries()]
  const settled = await Promise.allSettled(entries.map(([, v]) => deps.publishRequest(v.record)))
  const acked: string[] = []
  const failed: string[] = []
  entries.forEach(([id, v], n) => {
    const s = settled[n] as PromiseSettledResult<void>
    if (s.status === 'fulfilled') {
      acked.push(id)
      for (const i of v.items) outcomes[i] = { ok: true, replayed: v.replayed || i !== v.items[0], message: v.answer }
    } else {
      failed.push(id)
      for (const i of v.items) outcomes[i] = { ok: false, error: OutErrors.OUT_NOT_DURABLE.create({ cause: s.reason }) }
    }
  })
  await markPublished(db, acked)
  await markNotAccepted(db, failed)

  // 5. Repeats of a key inside the batch answer like their first occurrence.
  for (let i = 0; i < items.length; i++) {
    if (outcomes[i] !== undefined) continue
    const first = firstOfKey.get(items[i]?.idempotencyKey as string)
    const o = first === undefined ? undefined : outcomes[first]
    if (o === undefined) { outcomes[i] = { ok: false, error: OutErrors.OUT_NOT_DURABLE.create() }; continue }
    if (!o.ok) { outcomes[i] = o; continue }
    const same = (prepared[first as number] as PreparedSend).requestHash.equals((prepared[i] as PreparedSend).requestHash)
    outcomes[i] = same ? { ok: true, replayed: true, message: o.message } : { ok: false, error: OutErrors.OUT_IDEMPOTENCY_KEY_REUSED.create({ detail: { idempotencyKey: items[i]?.idempotencyKey } }) }
  }
  return outcomes as AcceptOutcome[]
}
