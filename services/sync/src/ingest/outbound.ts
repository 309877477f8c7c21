import { sql, type DbExecutor } from '@coexist/db'
import { OutboundStatus, RecipientType, type OutboundRequest, type OutboundResult } from '@coexist/contracts'
import { normalisePhone, messageText } from '../domain/normalize.ts'
import { insertMessages } from '../store/messages.ts'
import { domainEvent, enqueueEvents } from '../store/outbox.ts'
import type { NumberInfo } from './number-directory.ts'

const dec = new TextDecoder()
function parseJson (b: Uint8Array): Record<string, unknown> {
  try {
    const v = JSON.parse(dec.decode(b)) as unknown
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : {}
  } catch { return {} }
}

/**
 * A send request seen on wa.outbound.requests.v1: kept for its content, and copied onto the
 * message if the result (with the wamid) came first.
 */
export async function ingestOutboundRequest (db: DbExecutor, req: OutboundRequest): Promise<void> {
  const body = parseJson(req.messageJson)
  await sql`
    INSERT INTO outbound_requests (request_id, tenant_id, phone_number_id, recipient, message, accepted_at)
    VALUES (${req.requestId}, ${req.tenantId}::uuid, ${req.phoneNumberId}, ${req.recipient}, ${JSON.stringify(body)}::jsonb, to_timestamp(${Number(req.acceptedAt)} / 1000.0))
    ON CONFLICT DO NOTHING`.execute(db)
  await sql`
    UPDATE messages SET type = COALESCE(${typeof body.type === 'string' ? body.type : null}, type), content = ${JSON.stringify(body)}::jsonb, text = ${messageText(body)}
    WHERE phone_number_id = ${req.phoneNumberId} AND request_id = ${req.requestId} AND content IS NULL`.execute(db)
}

/**
 * A send result: a SENT one becomes the outbound message (source `api`, once by wamid) with the
 * request's content when known, and a MessageSent event. Failed sends have no wamid and no
 * message; the sender's dead-letter topic and the status webhooks tell their story.
 */
export async function ingestOutboundResult (db: DbExecutor, number: NumberInfo, res: OutboundResult): Promise<number> {
  if (res.status !== OutboundStatus.SENT || res.wamid === '') return 0
  const req = (await sql<{ message: Record<string, unknown> }>`SELECT message FROM outbound_requests WHERE request_id = ${res.requestId}`.execute(db)).rows[0]
  const body = req?.message
  const byUserId = res.recipientType === RecipientType.USER_ID
  const type = typeof body?.type === 'string' ? body.type : 'unknown'
  const sentAt = new Date(Number(res.sentAt) > 0 ? Number(res.sentAt) : Number(res.completedAt))
  const r = await insertMessages(db, number, [{
    wamid: res.wamid,
    direction: 'outbound',
    source: 'api',
    type,
    text: body === undefined ? null : messageText(body),
    content: body ?? null,
    mediaId: null,
    mediaMimeType: null,
    mediaPending: false,
    contextWamid: null,
    referral: null,
    fromId: normalisePhone(number.displayPhoneNumber),
    toId: byUserId ? null : normalisePhone(res.recipient),
    sentAt,
    historyStatus: null,
    requestId: res.requestId,
    customer: byUserId ? { waId: null, userId: res.recipient } : { waId: normalisePhone(res.recipient), userId: null }
  }])
  const m = r.inserted[0]
  if (m !== undefined) {
    await enqueueEvents(db, [domainEvent(number, `sent:${number.phoneNumberId}:${m.wamid}`, sentAt, 'messageSent', {
      wamid: m.wamid,
      requestId: res.requestId,
      toWaId: byUserId ? '' : res.recipient,
      toUserId: byUserId ? res.recipient : '',
      type,
      isTemplate: type === 'template',
      category: res.category,
      conversationId: m.conversationId
    })])
  }
  return r.insertedCount
}
