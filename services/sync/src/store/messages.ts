import { sql, type DbExecutor } from '@coexist/db'
import { identityKey, resolveContacts, resolveConversations, type CustomerIdentity, type NumberRef } from './contacts.ts'

type MessageDirection = 'inbound' | 'outbound'
type MessageSource = 'customer' | 'business_app' | 'api' | 'history'

/** One message as stored, normalised from whichever webhook or record brought it. */
export interface MessageInput {
  wamid: string
  direction: MessageDirection
  source: MessageSource
  type: string
  /** Body, caption or title: previews and search. */
  text: string | null
  /** Meta's message object (or the API request body), as received. */
  content: unknown
  mediaId: string | null
  mediaMimeType: string | null
  /** A history `media_placeholder`: the media comes in a later webhook. */
  mediaPending: boolean
  contextWamid: string | null
  referral: unknown
  fromId: string | null
  toId: string | null
  sentAt: Date
  historyStatus: string | null
  requestId: string | null
  /** The other side of the conversation. */
  customer: CustomerIdentity
}

/** A message that was new (not a duplicate), with where it went. */
interface InsertedMessage {
  wamid: string
  conversationId: string
}

/** A conversation whose owner moved (an echo: the owner answered from the app). */
interface OwnerChange {
  conversationId: string
  fromOwner: string
  toOwner: string
  at: Date
}

export interface InsertResult {
  inserted: InsertedMessage[]
  /** Messages new in this call (equals inserted.length when `returnRows`). */
  insertedCount: number
  ownerChanges: OwnerChange[]
  /** Conversations that got their first history message in this call. */
  newHistoryThreads: number
  /** identityKey → conversation id, for every customer in the input. */
  conversations: Map<string, string>
}

const json = (v: unknown): string | null => v === undefined || v === null ? null : JSON.stringify(v)

/**
 * Stores messages once each by (number, wamid), in bulk: contacts and conversations are found or
 * created in two statements, then one statement inserts the messages (ON CONFLICT DO NOTHING) and
 * folds the new ones into their conversations (count, last message by (time, wamid), the service
 * window from live customer messages only, the owner from echoes newer than the last change).
 * Duplicates change nothing, whatever the order. `returnRows: false` (history) skips returning
 * each new message.
 */
export async function insertMessages (db: DbExecutor, number: NumberRef, input: readonly MessageInput[],
  opts: { returnRows?: boolean } = {}): Promise<InsertResult> {
  const empty: InsertResult = { inserted: [], insertedCount: 0, ownerChanges: [], newHistoryThreads: 0, conversations: new Map() }
  if (input.length === 0) return empty
  const contacts = await resolveContacts(db, number, input.map((m) => m.customer))
  const conversationsByContact = await resolveConversations(db, number, [...contacts.values()])
  const conversations = new Map<string, string>()
  for (const [k, contactId] of contacts) conversations.set(k, conversationsByContact.get(contactId) as string)

  const rows = input.filter((m) => conversations.has(identityKey(m.customer)))
  const returnRows = opts.returnRows ?? true
  // One JSON document for the whole batch: serialised natively by V8 and parsed once by Postgres,
  // with each message's content nested as jsonb (no second encoding, unlike text arrays).
  const doc = JSON.stringify(rows.map((m) => ({
    w: m.wamid,
    c: conversations.get(identityKey(m.customer)),
    d: m.direction,
    s: m.source,
    t: m.type,
    x: m.text,
    j: m.content ?? null,
    mi: m.mediaId,
    mm: m.mediaMimeType,
    mp: m.mediaPending,
    cw: m.contextWamid,
    r: m.referral ?? null,
    f: m.fromId,
    o: m.toId,
    ms: m.sentAt.getTime(),
    hs: m.historyStatus,
    rq: m.requestId
  })))
  const result = await sql<{ kind: string, wamid: string | null, conversation_id: string, n: number, from_owner: string | null, to_owner: string | null, at: Date | null }>`
    WITH input AS (
      SELECT w AS wamid, c AS conversation_id, d AS direction, s AS source, t AS type, x AS text, j AS content, mi AS media_id,
        mm AS media_mime_type, mp AS media_pending, cw AS context_wamid, r AS referral, f AS from_id, o AS to_id, ms AS sent_ms,
        hs AS history_status, rq AS request_id
      FROM jsonb_to_recordset(${doc}::jsonb) AS i(w text, c uuid, d message_direction, s message_source, t text, x text, j jsonb,
        mi text, mm text, mp boolean, cw text, r jsonb, f text, o text, ms float8, hs text, rq text)
    ),
    ins AS (
      INSERT INTO messages (tenant_id, phone_number_id, conversation_id, wamid, direction, source, type, text, content, media_id,
        media_mime_type, media_pending, context_wamid, referral, from_id, to_id, sent_at, history_status, request_id)
      SELECT ${number.tenantId}::uuid, ${number.phoneNumberId}, conversation_id, wamid, direction, source, type, text, content,
        media_id, media_mime_type, media_pending, context_wamid, referral, from_id, to_id, to_timestamp(sent_ms / 1000.0),
        history_status, request_id
      FROM input
      ON CONFLICT (phone_number_id, wamid) DO NOTHING
      RETURNING wamid, conversation_id, sent_at, direction, source, type, text
    ),
    latest AS (
      SELECT DISTINCT ON (conversation_id) conversation_id, sent_at, wamid, direction, left(COALESCE(text, '[' || type || ']'), 200) AS preview
      FROM ins ORDER BY conversation_id, sent_at DESC, wamid DESC
    ),
    agg AS (
      SELECT conversation_id, count(*)::int AS n,
        max(sent_at) FILTER (WHERE source = 'customer') AS inbound_at,
        max(sent_at) FILTER (WHERE source = 'business_app') AS echo_at,
        bool_or(source = 'history') AS has_history
      FROM ins GROUP BY conversation_id
    ),
    old AS (
      -- Locked in id order (concurrent imports never deadlock), and read after the lock: a
      -- concurrent import's committed change is seen, so a thread is counted new only once.
      SELECT id, owner, owner_changed_at, history_imported FROM conversations WHERE id IN (SELECT conversation_id FROM agg)
      ORDER BY id FOR NO KEY UPDATE
    ),
    upd AS (
      UPDATE conversations c SET
        message_count = c.message_count + agg.n,
        last_inbound_at = GREATEST(c.last_inbound_at, agg.inbound_at),
        history_imported = c.history_imported OR agg.has_history,
        last_message_at = CASE WHEN (l.sent_at, l.wamid) > (COALESCE(c.last_message_at, '-infinity'), COALESCE(c.last_message_wamid, '')) THEN l.sent_at ELSE c.last_message_at END,
        last_message_wamid = CASE WHEN (l.sent_at, l.wamid) > (COALESCE(c.last_message_at, '-infinity'), COALESCE(c.last_message_wamid, '')) THEN l.wamid ELSE c.last_message_wamid END,
        last_message_direction = CASE WHEN (l.sent_at, l.wamid) > (COALESCE(c.last_message_at, '-infinity'), COALESCE(c.last_message_wamid, '')) THEN l.direction ELSE c.last_message_direction END,
        last_message_preview = CASE WHEN (l.sent_at, l.wamid) > (COALESCE(c.last_message_at, '-infinity'), COALESCE(c.last_message_wamid, '')) THEN l.preview ELSE c.last_message_preview END,
        owner = CASE WHEN agg.echo_at > COALESCE(c.owner_changed_at, '-infinity') THEN 'app'::conversation_owner ELSE c.owner END,
        owner_changed_at = CASE WHEN agg.echo_at > COALESCE(c.owner_changed_at, '-infinity') THEN agg.echo_at ELSE c.owner_changed_at END,
        updated_at = now()
      FROM agg JOIN latest l USING (conversation_id) JOIN old ON old.id = agg.conversation_id
      WHERE c.id = agg.conversation_id
      RETURNING c.id, old.owner::text AS from_owner, c.owner::text AS to_owner, c.owner_changed_at AS at,
        (agg.has_history AND NOT old.history_imported) AS new_thread
    )
    ${returnRows
      ? sql`SELECT 'm' AS kind, wamid, conversation_id, 1 AS n, NULL AS from_owner, NULL AS to_owner, NULL::timestamptz AS at FROM ins`
      : sql`SELECT 'n' AS kind, NULL AS wamid, NULL::uuid AS conversation_id, (SELECT count(*)::int FROM ins) AS n, NULL AS from_owner, NULL AS to_owner, NULL::timestamptz AS at`}
    UNION ALL
    SELECT 'c', NULL, id, (CASE WHEN new_thread THEN 1 ELSE 0 END), from_owner, to_owner, at FROM upd
  `.execute(db)

  const out: InsertResult = { ...empty, conversations }
  for (const r of result.rows) {
    if (r.kind === 'm') {
      out.inserted.push({ wamid: r.wamid as string, conversationId: r.conversation_id })
      out.insertedCount++
    } else if (r.kind === 'n') {
      out.insertedCount += r.n
    } else {
      out.newHistoryThreads += r.n
      if (r.from_owner !== r.to_owner && r.at !== null) {
        out.ownerChanges.push({ conversationId: r.conversation_id, fromOwner: r.from_owner ?? '', toOwner: r.to_owner ?? '', at: r.at })
      }
    }
  }
  return out
}

/**
 * History media (the follow-up webhooks of a history sync): fills each message's placeholder, or
 * stores the message whole when its placeholder has not arrived yet (the placeholder then adds
 * nothing). History records are imported two at a time, so the placeholder's chunk may be in a
 * transaction that commits while this one runs: the insert then waits for it and skips the row,
 * and a second fill, in a statement that sees that commit, fills it. Nothing stays pending.
 */
export async function storeHistoryMedia (db: DbExecutor, number: NumberRef, media: readonly MessageInput[]): Promise<{ filled: number, inserted: number }> {
  if (media.length === 0) return { filled: 0, inserted: 0 }
  const filled = await fillMediaPlaceholders(db, number, media)
  const early = await insertMessages(db, number, media.filter((m) => !filled.has(m.wamid)))
  const stored = new Set(early.inserted.map((m) => m.wamid))
  const skipped = media.filter((m) => !filled.has(m.wamid) && !stored.has(m.wamid))
  const late = await fillMediaPlaceholders(db, number, skipped)
  return { filled: filled.size + late.size, inserted: early.insertedCount }
}

/** Media that arrived for history placeholders: fills them; returns the wamids it filled. */
export async function fillMediaPlaceholders (db: DbExecutor, number: NumberRef, media: readonly MessageInput[]): Promise<Set<string>> {
  if (media.length === 0) return new Set()
  const col = <T>(f: (m: MessageInput) => T): T[] => media.map(f)
  const r = await sql<{ wamid: string }>`
    UPDATE messages m SET type = i.type, text = i.text, content = i.content::jsonb, media_id = i.media_id,
      media_mime_type = i.media_mime_type, media_pending = false
    FROM unnest(${col((m) => m.wamid)}::text[], ${col((m) => m.type)}::text[], ${col((m) => m.text)}::text[],
      ${col((m) => json(m.content))}::text[], ${col((m) => m.mediaId)}::text[], ${col((m) => m.mediaMimeType)}::text[])
      AS i(wamid, type, text, content, media_id, media_mime_type)
    WHERE m.phone_number_id = ${number.phoneNumberId} AND m.wamid = i.wamid AND m.media_pending
    RETURNING m.wamid`.execute(db)
  return new Set(r.rows.map((x) => x.wamid))
}
