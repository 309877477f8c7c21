/**
 * outbound_messages: the request rows and their state machine
 * (accepted → sending → sent | failed | unknown | dead_lettered; sending → accepted between retries).
 * Every transition is a conditional UPDATE, so two processes can never both act on one attempt.
 *
 * No index of outbound_messages covers `state` or `wamid`, so the claim and the outcome are HOT
 * updates (migration 0205). Two side tables serve the lookups instead, kept by the statement that
 * changes the row: `outbound_open` (the accepted and sending requests of each number, by `seq`:
 * a statement moving a row out of those states deletes it there, one moving it back inserts it)
 * and `outbound_wamids` (wamid → request, written with the outcome that stores the wamid).
 */
import { sql, type DbExecutor, type Selectable } from '@coexist/db'
import type { Database } from '@coexist/db'

type MessageRow = Selectable<Database['outbound_messages']>

export interface NewMessageRow {
  id: string
  tenantId: string
  phoneNumberId: string
  recipient: string
  recipientType: 'phone' | 'user_id'
  messageType: string
  isTemplate: boolean
  categoryHint: string | null
  idempotencyKey: string | null
  requestHash: Buffer
  body: Record<string, unknown>
  acceptedAt: Date
}

/** Columns an API answer or a result needs (never the body: it can be large). */
const SUMMARY_COLUMNS = [
  'id', 'tenant_id', 'phone_number_id', 'recipient', 'recipient_type', 'message_type', 'is_template', 'category_hint',
  'idempotency_key', 'request_hash', 'state', 'attempts', 'wamid', 'error_code', 'error_message', 'meta_error',
  'delivery', 'delivery_at', 'published_at', 'accepted_at', 'sending_at', 'sent_at', 'completed_at', 'finished_by'
] as const
export type MessageSummary = Pick<MessageRow, typeof SUMMARY_COLUMNS[number]>

/** Rows of `tenantId` holding one of `keys`. */
export async function findByIdempotencyKeys (db: DbExecutor, tenantId: string, keys: readonly string[]): Promise<MessageSummary[]> {
  if (keys.length === 0) return []
  return await db.selectFrom('outbound_messages').select(SUMMARY_COLUMNS)
    .where('tenant_id', '=', tenantId).where('idempotency_key', 'in', [...new Set(keys)]).execute()
}

/**
 * Inserts new requests in one statement; a row whose (tenant, Idempotency-Key) exists already is
 * skipped (a concurrent duplicate). Returns the ids inserted.
 */
export async function insertAccepted (db: DbExecutor, rows: readonly NewMessageRow[]): Promise<Set<string>> {
  if (rows.length === 0) return new Set()
  const inserted = await db.with('ins', (qb) => qb.insertInto('outbound_messages')
    .values(rows.map((r) => ({
      id: r.id,
      tenant_id: r.tenantId,
      phone_number_id: r.phoneNumberId,
      recipient: r.recipient,
      recipient_type: r.recipientType,
      message_type: r.messageType,
      is_template: r.isTemplate,
      category_hint: r.categoryHint,
      idempotency_key: r.idempotencyKey,
      request_hash: r.requestHash,
      body: JSON.stringify(r.body),
      accepted_at: r.acceptedAt
    })))
    // The target names the partial unique index (keys present only) by its columns and predicate.
    .onConflict((oc) => oc.columns(['tenant_id', 'idempotency_key']).where('idempotency_key', 'is not', null).doNothing())
    .returning(['phone_number_id', 'seq', 'id']))
    .insertInto('outbound_open').columns(['phone_number_id', 'seq', 'id'])
    .expression((eb) => eb.selectFrom('ins').select(['phone_number_id', 'seq', 'id']))
    .returning('id')
    .execute()
  return new Set(inserted.map((r) => r.id))
}

/** The Kafka records of these requests are acknowledged. */
export async function markPublished (db: DbExecutor, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return
  await db.updateTable('outbound_messages').set({ published_at: sql`now()`, updated_at: sql`now()` })
    .where('id', 'in', [...ids]).where('published_at', 'is', null).execute()
}

/**
 * Kafka did not acknowledge these requests: they were answered 503 and must never be sent by a
 * record that landed anyway. A later retry with the same key revives them ({@link reviveNotAccepted}).
 */
export async function markNotAccepted (db: DbExecutor, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return
  await sql`WITH u AS (
      UPDATE outbound_messages SET state = 'failed', error_code = 'OUT_NOT_ACCEPTED', error_message = 'never acknowledged by Kafka',
        completed_at = now(), updated_at = now()
      WHERE id = ANY(${uuidArray(ids)}::uuid[]) AND state = 'accepted' AND published_at IS NULL
      RETURNING phone_number_id, seq)
    DELETE FROM outbound_open o USING u WHERE o.phone_number_id = u.phone_number_id AND o.seq = u.seq`.execute(db)
}

/** Makes never-acknowledged requests acceptable again (a retry with the same Idempotency-Key). */
export async function reviveNotAccepted (db: DbExecutor, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return
  await sql`WITH u AS (
      UPDATE outbound_messages SET state = 'accepted', error_code = NULL, error_message = NULL, completed_at = NULL, updated_at = now()
      WHERE id = ANY(${uuidArray(ids)}::uuid[]) AND state = 'failed' AND error_code = 'OUT_NOT_ACCEPTED' AND published_at IS NULL
      RETURNING phone_number_id, seq, id)
    INSERT INTO outbound_open (phone_number_id, seq, id) SELECT phone_number_id, seq, id FROM u ON CONFLICT DO NOTHING`.execute(db)
}

/** One request of a tenant (another tenant's id is simply not found). */
export async function getMessage (db: DbExecutor, tenantId: string, id: string): Promise<MessageSummary | undefined> {
  return await db.selectFrom('outbound_messages').select(SUMMARY_COLUMNS)
    .where('id', '=', id).where('tenant_id', '=', tenantId).executeTakeFirst()
}

/** Rows by id (any tenant): the worker's view. */
export async function getMessages (db: DbExecutor, ids: readonly string[]): Promise<MessageSummary[]> {
  if (ids.length === 0) return []
  return await db.selectFrom('outbound_messages').select(SUMMARY_COLUMNS).where('id', 'in', [...ids]).execute()
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * A `uuid[]` literal (`{…}`) as one text parameter: pg would otherwise escape every element of a
 * JS array (two regex replaces each), a few microseconds per id on the send path. Throws on
 * anything but a UUID, as the `::uuid[]` cast would.
 */
export function uuidArray (ids: readonly string[]): string {
  for (const id of ids) if (!UUID.test(id)) throw new TypeError(`not a UUID: ${JSON.stringify(id).slice(0, 60)}`)
  return `{${ids.join(',')}}`
}

/**
 * The zombie guard: moves `accepted` rows to `sending` and counts the attempt, in one statement.
 * Only rows still `accepted` are claimed, so of two processes holding the same request (a
 * replayed record, a zombie after a rebalance) exactly one gets it. Returns id → attempt number.
 */
export async function claimForSending (db: DbExecutor, ids: readonly string[]): Promise<Map<string, number>> {
  if (ids.length === 0) return new Map()
  // `state::text`, not `state`: when a partial index on `state` existed (before migration 0205), a
  // plain `state = 'accepted'` let the planner AND the primary key with that whole index, which a
  // busy backlog filled with dead entries until vacuum: 20–40 ms of Postgres CPU per claim at
  // 95,000 rows. The cast keeps the lookup on the primary key, whatever the indexes. The row stays
  // in outbound_open (sending is open).
  const rows = await sql<{ id: string, attempts: number }>`
    UPDATE outbound_messages SET state = 'sending', attempts = attempts + 1, sending_at = now(), updated_at = now()
    WHERE id = ANY(${uuidArray(ids)}::uuid[]) AND state::text = 'accepted'
    RETURNING id, attempts`.execute(db)
  return new Map(rows.rows.map((r) => [r.id, r.attempts]))
}

/** Meta's error as stored (and put on results). */
export interface StoredMetaError {
  code: number
  title?: string | undefined
  message?: string | undefined
  details?: string | undefined
  fbtrace_id?: string | undefined
  http_status?: number | undefined
}

/** The end (or pause) of one attempt, as the worker records it. */
export interface AttemptOutcome {
  id: string
  /** The attempt this outcome belongs to (from the claim). */
  attempt: number
  state: 'sent' | 'failed' | 'unknown' | 'dead_lettered' | 'accepted'
  wamid?: string | undefined
  errorCode?: string | undefined
  errorMessage?: string | undefined
  metaError?: StoredMetaError | undefined
  /**
   * The claim of this attempt rolled back after the request was dispatched (the database failed
   * at commit): the row reads `accepted` with the previous attempt count.
   */
  commitLost?: boolean
}

/**
 * Records attempt outcomes in one statement. An outcome applies only to the attempt it belongs to
 * and only while that attempt is `sending` (or `unknown`: a late answer settles an unknown
 * outcome), so a stale zombie can never overwrite newer state. A final outcome stores `finishedBy`
 * (the recording worker process, which publishes the result); a retry clears it. Returns the ids
 * updated.
 */
export async function recordOutcomes (db: DbExecutor, outcomes: readonly AttemptOutcome[], finishedBy: string): Promise<Set<string>> {
  if (outcomes.length === 0) return new Set()
  // One JSON parameter for all rows (serialized natively; pg would escape every element of
  // eight JS arrays one by one). Keys left out read as NULL.
  const json = JSON.stringify(outcomes.map((o) => ({
    id: o.id,
    attempt: o.attempt,
    state: o.state,
    wamid: o.wamid,
    error_code: o.errorCode,
    error_message: o.errorMessage,
    meta_error: o.metaError,
    lost: o.commitLost === true
  })))
  // The outcome, then in the same statement: a request leaving the open states (anything but a
  // retry, which is `accepted` again) leaves outbound_open; a wamid is filed for status webhooks.
  const rows = await sql<{ id: string }>`
    WITH u AS (UPDATE outbound_messages m SET
      state = v.state::outbound_state,
      wamid = COALESCE(v.wamid, m.wamid),
      error_code = v.error_code,
      error_message = v.error_message,
      meta_error = v.meta_error::jsonb,
      attempts = v.attempt,
      sent_at = CASE WHEN v.state = 'sent' THEN now() ELSE m.sent_at END,
      completed_at = CASE WHEN v.state = 'accepted' THEN NULL ELSE now() END,
      finished_by = CASE WHEN v.state = 'accepted' THEN NULL ELSE ${finishedBy}::uuid END,
      updated_at = now()
    FROM json_to_recordset(${json}::json)
      AS v(id uuid, attempt int, state text, wamid text, error_code text, error_message text, meta_error json, lost boolean)
    WHERE m.id = v.id AND (
      (NOT v.lost AND m.attempts = v.attempt AND m.state IN ('sending', 'unknown'))
      OR (v.lost AND m.attempts = v.attempt - 1 AND m.state = 'accepted'))
    RETURNING m.id, m.phone_number_id, m.seq, v.state, v.wamid),
    d AS (DELETE FROM outbound_open o USING u
      WHERE u.state <> 'accepted' AND o.phone_number_id = u.phone_number_id AND o.seq = u.seq),
    w AS (INSERT INTO outbound_wamids (wamid, message_id) SELECT u.wamid, u.id FROM u WHERE u.wamid IS NOT NULL
      ON CONFLICT DO NOTHING)
    SELECT id FROM u`.execute(db)
  return new Set(rows.rows.map((r) => r.id))
}

/**
 * A request that never reached Meta and will not (number gone, no token, bad record): from
 * `accepted` straight to a final state, with the reason.
 */
export async function finishUnsent (db: DbExecutor, id: string, state: 'failed' | 'dead_lettered', errorCode: string, errorMessage: string): Promise<boolean> {
  const r = await sql<{ id: string }>`WITH u AS (
      UPDATE outbound_messages SET state = ${state}::outbound_state, error_code = ${errorCode}, error_message = ${errorMessage},
        completed_at = now(), updated_at = now()
      WHERE id = ${id}::uuid AND state = 'accepted'
      RETURNING id, phone_number_id, seq),
    d AS (DELETE FROM outbound_open o USING u WHERE o.phone_number_id = u.phone_number_id AND o.seq = u.seq)
    SELECT id FROM u`.execute(db)
  return r.rows.length > 0
}

/**
 * A row left `sending` by a process that is gone (crash, or a zombie after a rebalance): by policy
 * either `unknown` (default) or back to `accepted` for a resend. `olderThanMs` protects an attempt
 * that may still be in flight elsewhere. Returns the state now stored, or undefined when the row
 * moved on meanwhile.
 */
export async function settleAbandoned (db: DbExecutor, id: string, attempt: number, to: 'unknown' | 'accepted', olderThanMs: number): Promise<boolean> {
  // Settled `unknown`, the request leaves outbound_open (back to `accepted`, it stays).
  const r = await sql<{ id: string }>`WITH u AS (
    UPDATE outbound_messages SET state = ${to}::outbound_state,
      error_code = CASE WHEN ${to} = 'unknown' THEN 'OUT_OUTCOME_UNKNOWN' ELSE error_code END,
      error_message = CASE WHEN ${to} = 'unknown' THEN 'the worker sending it stopped before the outcome was recorded' ELSE error_message END,
      completed_at = CASE WHEN ${to} = 'unknown' THEN now() ELSE NULL END,
      finished_by = NULL,
      updated_at = now()
    WHERE id = ${id}::uuid AND state = 'sending' AND attempts = ${attempt}
      AND sending_at <= now() - make_interval(secs => ${olderThanMs / 1000})
    RETURNING id, phone_number_id, seq, state),
    d AS (DELETE FROM outbound_open o USING u WHERE u.state <> 'accepted' AND o.phone_number_id = u.phone_number_id AND o.seq = u.seq)
    SELECT id FROM u`.execute(db)
  return r.rows.length > 0
}

/** A status webhook for one of our wamids: monotonic (delivered < read; failed is final). */
export interface DeliveryUpdate { wamid: string, status: 'delivered' | 'read' | 'failed', at: Date, metaError?: StoredMetaError | undefined }

/**
 * Applies status webhooks in one statement; a status never regresses. Returns rows changed.
 * Requests are found through outbound_wamids, and only by their current wamid.
 */
export async function applyDeliveries (db: DbExecutor, updates: readonly DeliveryUpdate[]): Promise<number> {
  if (updates.length === 0) return 0
  const r = await sql`
    UPDATE outbound_messages m SET delivery = v.status::outbound_delivery, delivery_at = v.at,
      meta_error = COALESCE(v.meta_error::jsonb, m.meta_error), updated_at = now()
    FROM (SELECT * FROM unnest(${updates.map((u) => u.wamid)}::text[], ${updates.map((u) => u.status)}::text[],
      ${updates.map((u) => u.at.toISOString())}::timestamptz[], ${updates.map((u) => (u.metaError === undefined ? null : JSON.stringify(u.metaError)))}::text[])
      AS t(wamid, status, at, meta_error)) v
    JOIN outbound_wamids w ON w.wamid = v.wamid
    WHERE m.id = w.message_id AND m.wamid = v.wamid
      AND (m.delivery IS NULL OR (m.delivery = 'delivered' AND v.status = 'read'))`.execute(db)
  return Number(r.numAffectedRows ?? 0)
}
