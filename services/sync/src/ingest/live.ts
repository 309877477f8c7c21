import { sql, type DbExecutor } from '@coexist/db'
import { MessageStatus } from '@coexist/contracts'
import { unixSeconds, type AppStateSyncValue, type EchoesValue, type MessagesValue, type StatusUpdate } from '@coexist/meta'
import { echoMessageRow, inboundMessageRow, normalisePhone } from '../domain/normalize.ts'
import { statusRank } from '../domain/status-rank.ts'
import { identityKey, resolveContacts, type NumberRef } from '../store/contacts.ts'
import { insertMessages, type MessageInput } from '../store/messages.ts'
import { domainEvent, enqueueEvents, type PendingEvent } from '../store/outbox.ts'
import type { NumberInfo } from './number-directory.ts'

const enc = new TextEncoder()
const bytes = (v: unknown): Uint8Array => enc.encode(JSON.stringify(v))

const STATUS_ENUM: Record<string, MessageStatus> = {
  sent: MessageStatus.SENT,
  delivered: MessageStatus.DELIVERED,
  read: MessageStatus.READ,
  played: MessageStatus.PLAYED,
  failed: MessageStatus.FAILED
}

export interface LiveResult { messages: number, statuses: number, events: number }

/**
 * A `messages` value: user messages (stored once by wamid, conversation and window updated,
 * MessageReceived events) and statuses of our sends (audit row once per (wamid, status), current
 * status moved only forward, StatusChanged events when it moves).
 */
export async function ingestMessages (db: DbExecutor, number: NumberInfo, value: MessagesValue): Promise<LiveResult> {
  const rows = (value.messages ?? []).map((m) => inboundMessageRow(m, value.contacts))
  const res = await insertMessages(db, number, rows)
  const byWamid = new Map(rows.map((r) => [r.wamid, r]))
  const events: PendingEvent[] = res.inserted.map((m) => {
    const r = byWamid.get(m.wamid) as MessageInput
    return domainEvent(number, `message:${number.phoneNumberId}:${m.wamid}`, r.sentAt, 'messageReceived', {
      wamid: m.wamid,
      fromWaId: r.customer.waId ?? '',
      fromUserId: r.customer.userId ?? '',
      type: r.type,
      text: r.text ?? '',
      contextWamid: r.contextWamid ?? '',
      profileName: r.customer.profileName ?? '',
      conversationId: m.conversationId,
      messageJson: bytes(r.content)
    })
  })
  // Profiles can change without a message (contacts[] on statuses are rare, but cheap to honour).
  if (rows.length === 0 && (value.contacts?.length ?? 0) > 0) {
    await resolveContacts(db, number, (value.contacts ?? []).map((c) => ({ waId: normalisePhone(c.wa_id), userId: c.user_id ?? null, profileName: c.profile?.name ?? null, username: c.profile?.username ?? null })))
  }
  const statusEvents = await applyStatuses(db, number, value.statuses ?? [])
  await enqueueEvents(db, [...events, ...statusEvents])
  return { messages: res.insertedCount, statuses: statusEvents.length, events: events.length + statusEvents.length }
}

/**
 * Statuses never regress (invariant 3): per wamid the highest rank of the batch is offered to an
 * INSERT … ON CONFLICT DO UPDATE … WHERE rank grows; a late `sent` after `read` changes nothing,
 * `failed` keeps its error. Every status is also kept once in `message_statuses`.
 */
async function applyStatuses (db: DbExecutor, number: NumberInfo, unsorted: readonly StatusUpdate[]): Promise<PendingEvent[]> {
  if (unsorted.length === 0) return []
  const statuses = [...unsorted].sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : a.status < b.status ? -1 : 1)
  const at = (s: StatusUpdate): number => unixSeconds(s.timestamp) * 1000
  await sql`
    INSERT INTO message_statuses (phone_number_id, wamid, status, status_at, recipient_id, error_code, error_title, errors, pricing)
    SELECT ${number.phoneNumberId}, wamid, status, to_timestamp(ms / 1000.0), recipient_id, error_code, error_title, errors::jsonb, pricing::jsonb
    FROM unnest(${statuses.map((s) => s.id)}::text[], ${statuses.map((s) => s.status)}::text[], ${statuses.map(at)}::float8[],
      ${statuses.map((s) => normalisePhone(s.recipient_id) ?? s.recipient_user_id ?? null)}::text[],
      ${statuses.map((s) => s.errors?.[0]?.code ?? null)}::int[], ${statuses.map((s) => s.errors?.[0]?.title ?? null)}::text[],
      ${statuses.map((s) => s.errors === undefined ? null : JSON.stringify(s.errors))}::text[],
      ${statuses.map((s) => s.pricing === undefined ? null : JSON.stringify(s.pricing))}::text[])
      AS i(wamid, status, ms, recipient_id, error_code, error_title, errors, pricing)
    ON CONFLICT DO NOTHING`.execute(db)

  const best = new Map<string, StatusUpdate>()
  for (const s of statuses) {
    if (statusRank(s.status) === 0) continue // unknown (e.g. `deleted`): audit only
    const cur = best.get(s.id)
    if (cur === undefined || statusRank(s.status) > statusRank(cur.status)) best.set(s.id, s)
  }
  const list = [...best.values()].sort((a, b) => a.id < b.id ? -1 : 1)
  if (list.length === 0) return []
  const moved = await sql<{ wamid: string, status: string, previous_status: string | null, conversation_id: string | null }>`
    WITH up AS (
      INSERT INTO delivery_states (phone_number_id, wamid, status, rank, status_at, error_code, error_title)
      SELECT ${number.phoneNumberId}, * FROM unnest(${list.map((s) => s.id)}::text[], ${list.map((s) => s.status)}::text[],
        ${list.map((s) => statusRank(s.status))}::smallint[], ${list.map((s) => new Date(at(s)).toISOString())}::timestamptz[],
        ${list.map((s) => s.errors?.[0]?.code ?? null)}::int[], ${list.map((s) => s.errors?.[0]?.title ?? null)}::text[])
      ON CONFLICT (phone_number_id, wamid) DO UPDATE SET
        status = excluded.status, rank = excluded.rank, previous_status = delivery_states.status, status_at = excluded.status_at,
        error_code = COALESCE(excluded.error_code, delivery_states.error_code), error_title = COALESCE(excluded.error_title, delivery_states.error_title),
        updated_at = now()
      WHERE delivery_states.rank < excluded.rank
      RETURNING wamid, status, previous_status)
    SELECT up.wamid, up.status, up.previous_status, m.conversation_id
    FROM up LEFT JOIN messages m ON m.phone_number_id = ${number.phoneNumberId} AND m.wamid = up.wamid`.execute(db)
  return moved.rows.map((r) => {
    const s = best.get(r.wamid) as StatusUpdate
    return domainEvent(number, `status:${number.phoneNumberId}:${r.wamid}:${r.status}`, at(s), 'statusChanged', {
      wamid: r.wamid,
      status: STATUS_ENUM[r.status] ?? MessageStatus.UNSPECIFIED,
      previousStatus: r.previous_status === null ? MessageStatus.UNSPECIFIED : (STATUS_ENUM[r.previous_status] ?? MessageStatus.UNSPECIFIED),
      rawStatus: s.status,
      recipientWaId: normalisePhone(s.recipient_id) ?? '',
      recipientUserId: s.recipient_user_id ?? '',
      errorCode: s.errors?.[0]?.code ?? 0,
      errorTitle: s.errors?.[0]?.title ?? '',
      pricingCategory: s.pricing?.category ?? '',
      billable: s.pricing?.billable ?? false,
      conversationId: r.conversation_id ?? ''
    })
  })
}

/** Records that the Business App was alive at `at` (echoes, contact changes). */
export async function touchAppActivity (db: DbExecutor, number: NumberRef, at: Date): Promise<void> {
  await sql`
    INSERT INTO number_lifecycle (phone_number_id, tenant_id, last_app_activity_at) VALUES (${number.phoneNumberId}, ${number.tenantId}::uuid, ${at})
    ON CONFLICT (phone_number_id) DO UPDATE SET last_app_activity_at = GREATEST(number_lifecycle.last_app_activity_at, excluded.last_app_activity_at),
      activity_warning_level = NULL, updated_at = now()
    WHERE number_lifecycle.last_app_activity_at IS NULL OR excluded.last_app_activity_at > number_lifecycle.last_app_activity_at`.execute(db)
}

/**
 * `smb_message_echoes`: what the owner sent from the app. Stored once by wamid (never opening a
 * window), the conversation handed to the app (ConversationHandover, so bots stand back), and
 * the app's activity noted.
 */
export async function ingestEchoes (db: DbExecutor, number: NumberInfo, value: EchoesValue): Promise<LiveResult> {
  const rows = value.message_echoes.map((e) => echoMessageRow(e, value.contacts))
  const res = await insertMessages(db, number, rows)
  const byWamid = new Map(rows.map((r) => [r.wamid, r]))
  const events: PendingEvent[] = res.inserted.map((m) => {
    const r = byWamid.get(m.wamid) as MessageInput
    return domainEvent(number, `echo:${number.phoneNumberId}:${m.wamid}`, r.sentAt, 'messageEchoed', {
      wamid: m.wamid,
      toWaId: r.customer.waId ?? '',
      toUserId: r.customer.userId ?? '',
      type: r.type,
      text: r.text ?? '',
      conversationId: m.conversationId,
      messageJson: bytes(r.content)
    })
  })
  for (const ch of res.ownerChanges) {
    const who = rows.find((r) => res.conversations.get(identityKey(r.customer)) === ch.conversationId)?.customer
    events.push(domainEvent(number, `handover:${ch.conversationId}:${ch.at.getTime()}`, ch.at, 'conversationHandover', {
      conversationId: ch.conversationId, waId: who?.waId ?? '', userId: who?.userId ?? '', fromOwner: ch.fromOwner, toOwner: ch.toOwner, reason: 'app_reply'
    }))
  }
  const latest = rows.reduce((a, r) => Math.max(a, r.sentAt.getTime()), 0)
  if (latest > 0) await touchAppActivity(db, number, new Date(latest))
  await enqueueEvents(db, events)
  return { messages: res.insertedCount, statuses: 0, events: events.length }
}

/**
 * `smb_app_state_sync`: address-book adds/edits/removes. Each contact takes a change only when it
 * is newer than the last one applied (metadata.timestamp), so duplicates and reordering change
 * nothing; ContactSynced for each applied change.
 */
export async function ingestStateSync (db: DbExecutor, number: NumberInfo, value: AppStateSyncValue): Promise<LiveResult> {
  const items = value.state_sync.filter((i) => i.type === 'contact' && i.contact !== undefined)
  const ident = (i: typeof items[number]): { waId: string | null, userId: string | null } =>
    ({ waId: normalisePhone(i.contact?.phone_number), userId: i.contact?.user_id ?? null })
  const usable = items.filter((i) => { const x = ident(i); return x.waId !== null || (x.userId !== null && x.userId !== '') })
  if (usable.length === 0) return { messages: 0, statuses: 0, events: 0 }
  const ids = await resolveContacts(db, number, usable.map(ident))
  // Latest change per contact in this batch; older ones would lose against it anyway.
  const latest = new Map<string, typeof usable[number]>()
  for (const i of usable) {
    const id = ids.get(identityKey(ident(i))) as string
    const cur = latest.get(id)
    if (cur === undefined || unixSeconds(i.metadata.timestamp) >= unixSeconds(cur.metadata.timestamp)) latest.set(id, i)
  }
  const list = [...latest.entries()].sort((a, b) => a[0] < b[0] ? -1 : 1)
  const applied = await sql<{ id: string, wa_id: string | null, user_id: string | null }>`
    UPDATE contacts c SET
      in_address_book = (i.action <> 'remove'),
      full_name = CASE WHEN i.action = 'remove' THEN c.full_name ELSE COALESCE(i.full_name, c.full_name) END,
      first_name = CASE WHEN i.action = 'remove' THEN c.first_name ELSE COALESCE(i.first_name, c.first_name) END,
      address_book_at = to_timestamp(i.ts), updated_at = now()
    FROM unnest(${list.map(([id]) => id)}::uuid[], ${list.map(([, i]) => i.action)}::text[], ${list.map(([, i]) => i.contact?.full_name ?? null)}::text[],
      ${list.map(([, i]) => i.contact?.first_name ?? null)}::text[], ${list.map(([, i]) => unixSeconds(i.metadata.timestamp))}::float8[])
      AS i(id, action, full_name, first_name, ts)
    WHERE c.id = i.id AND (c.address_book_at IS NULL OR c.address_book_at < to_timestamp(i.ts))
    RETURNING c.id, c.wa_id, c.user_id`.execute(db)
  const byId = new Map(list)
  const events = applied.rows.map((r) => {
    const i = byId.get(r.id) as typeof usable[number]
    const ts = unixSeconds(i.metadata.timestamp)
    return domainEvent(number, `contact:${number.phoneNumberId}:${r.id}:${i.action}:${ts}`, ts * 1000, 'contactSynced', {
      action: i.action, waId: r.wa_id ?? '', userId: r.user_id ?? '', fullName: i.contact?.full_name ?? '', firstName: i.contact?.first_name ?? ''
    })
  })
  const newest = usable.reduce((a, i) => Math.max(a, unixSeconds(i.metadata.timestamp)), 0)
  if (newest > 0) await touchAppActivity(db, number, new Date(newest * 1000))
  await sql`UPDATE onboardings SET contacts_synced = (SELECT count(*) FROM contacts WHERE phone_number_id = ${number.phoneNumberId} AND in_address_book)
    WHERE id = (SELECT id FROM onboardings WHERE phone_number_id = ${number.phoneNumberId} ORDER BY generation DESC LIMIT 1)`.execute(db)
  await enqueueEvents(db, events)
  return { messages: 0, statuses: 0, events: events.length }
}
