/**
 * outbound_parked: numbers whose backlog waits in Postgres rather than in the worker's memory.
 * The records of parked requests are finished (committed) at once; the rows in outbound_messages
 * are the queue, read back in acceptance order as the number's lane drains, through outbound_open
 * (each number's accepted and sending requests by `seq`; see store/messages.ts).
 */
import { create } from '@bufbuild/protobuf'
import { OutboundRequestSchema, RecipientType, type OutboundRequest } from '@coexist/contracts'
import { sql, type DbExecutor } from '@coexist/db'

export interface ParkMarker { phoneNumberId: string, partition: number, token: string }

/** Marks numbers parked (episode `token`, requests-topic `partition`), in one statement; durable once resolved. */
export async function parkNumbers (db: DbExecutor, markers: readonly ParkMarker[]): Promise<void> {
  if (markers.length === 0) return
  // One row per number per statement (the latest episode wins).
  const latest = new Map(markers.map((m) => [m.phoneNumberId, m]))
  await db.insertInto('outbound_parked')
    .values([...latest.values()].map((m) => ({ phone_number_id: m.phoneNumberId, partition: m.partition, token: m.token })))
    .onConflict((oc) => oc.column('phone_number_id').doUpdateSet({
      partition: (eb) => eb.ref('excluded.partition'),
      token: (eb) => eb.ref('excluded.token'),
      parked_at: sql`now()`
    }))
    .execute()
}

/** Removes the markers of these episodes, in one statement (a newer episode's marker stays). */
export async function unparkNumbers (db: DbExecutor, markers: ReadonlyArray<{ phoneNumberId: string, token: string }>): Promise<void> {
  if (markers.length === 0) return
  await sql`DELETE FROM outbound_parked p
    USING unnest(${markers.map((m) => m.phoneNumberId)}::text[], ${markers.map((m) => m.token)}::uuid[]) AS u(phone_number_id, token)
    WHERE p.phone_number_id = u.phone_number_id AND p.token = u.token`.execute(db)
}

/** Parked numbers of these partitions. */
export async function parkedOn (db: DbExecutor, partitions: readonly number[]): Promise<Array<{ phoneNumberId: string, partition: number, token: string }>> {
  if (partitions.length === 0) return []
  const rows = await db.selectFrom('outbound_parked').select(['phone_number_id', 'partition', 'token'])
    .where('partition', 'in', [...partitions]).execute()
  return rows.map((r) => ({ phoneNumberId: r.phone_number_id, partition: r.partition, token: r.token }))
}

export interface LoadJob { phoneNumberId: string, afterSeq: number, limit: number }
/**
 * A request read back, with its Graph body as JSON text (Postgres's rendering of the stored body:
 * the worker sends that as is). Its `messageJson` is left empty.
 */
export interface LoadedRequest { request: OutboundRequest, seq: number, json: string }

/**
 * Open requests of several numbers in one statement: for each job, the next `limit` after
 * `afterSeq` in acceptance order, accepted or `sending` (the fast path of parked lanes; the lane
 * skips those it holds). A list shorter than `limit` means the number has no more after the
 * cursor, and the lane falls back on {@link loadAccepted}, the complete scan. (Leaving `sending`
 * rows out made the list short whenever the lane's own sends were in the window, and every such
 * read paid a complete scan of its own.) One list per job, in order.
 *
 * The limit applies to outbound_open alone, before the join: however the planner walks the
 * number's entries (in index order, or all of them then sorted, which it picks when it expects
 * few), it looks up at most `limit` rows of outbound_messages per job.
 */
export async function loadAcceptedAfter (db: DbExecutor, jobs: readonly LoadJob[]): Promise<LoadedRequest[][]> {
  if (jobs.length === 0) return []
  const rows = await sql<RequestRow & { i: number, seq: number }>`
    SELECT l.i::int AS i, m.id, m.tenant_id, m.recipient, m.recipient_type, m.idempotency_key, m.body::text AS body, m.is_template,
      m.category_hint, m.accepted_at, o.seq
    FROM unnest(${jobs.map((j) => j.phoneNumberId)}::text[], ${jobs.map((j) => j.afterSeq)}::bigint[], ${jobs.map((j) => j.limit)}::int[])
      WITH ORDINALITY AS l(num, after, lim, i)
    CROSS JOIN LATERAL (
      SELECT o.id, o.seq FROM outbound_open o WHERE o.phone_number_id = l.num AND o.seq > l.after ORDER BY o.seq LIMIT l.lim) o
    JOIN outbound_messages m ON m.id = o.id
    WHERE m.state IN ('accepted', 'sending')
    ORDER BY l.i, o.seq`.execute(db)
  const out: LoadedRequest[][] = jobs.map(() => [])
  for (const r of rows.rows) out[Number(r.i) - 1]?.push({ request: toRequest(jobs[Number(r.i) - 1]?.phoneNumberId as string, r), seq: Number(r.seq), json: r.body })
  return out
}

interface RequestRow {
  id: string,
  tenant_id: string,
  recipient: string,
  recipient_type: string,
  idempotency_key: string | null,
  /** The stored body as JSON text (`body::text`). */
  body: string,
  is_template: boolean,
  category_hint: string | null,
  accepted_at: Date
}

const NO_BYTES = new Uint8Array(0)

function toRequest (phoneNumberId: string, r: RequestRow): OutboundRequest {
  return create(OutboundRequestSchema, {
    requestId: r.id,
    tenantId: r.tenant_id,
    phoneNumberId,
    recipient: r.recipient,
    recipientType: r.recipient_type === 'user_id' ? RecipientType.USER_ID : RecipientType.PHONE,
    idempotencyKey: r.idempotency_key ?? '',
    messageJson: NO_BYTES,
    isTemplate: r.is_template,
    categoryHint: r.category_hint ?? '',
    acceptedAt: BigInt(new Date(r.accepted_at).getTime()),
    attempt: 1
  })
}

/**
 * The complete scan of a parked number: the next `limit` open requests in acceptance order,
 * leaving out those already held: accepted ones, and any left `sending` by a worker that stopped
 * (their Kafka records are committed, so only Postgres brings them back to be settled by policy).
 * As request records (the shape the requests topic carries). The limit applies to outbound_open
 * before the join, as in {@link loadAcceptedAfter}.
 */
export async function loadAccepted (db: DbExecutor, phoneNumberId: string, heldIds: readonly string[], limit: number): Promise<LoadedRequest[]> {
  if (limit <= 0) return []
  const held = [...heldIds]
  const rows = await sql<RequestRow & { seq: number }>`
    SELECT m.id, m.tenant_id, m.recipient, m.recipient_type, m.idempotency_key, m.body::text AS body, m.is_template, m.category_hint, m.accepted_at, o.seq
    FROM (SELECT id, seq FROM outbound_open WHERE phone_number_id = ${phoneNumberId} AND id <> ALL(${held}::uuid[]) ORDER BY seq LIMIT ${limit}) o
    JOIN outbound_messages m ON m.id = o.id
    WHERE m.state IN ('accepted', 'sending')
    ORDER BY o.seq`.execute(db)
  return rows.rows.map((r) => ({ request: toRequest(phoneNumberId, r), seq: Number(r.seq), json: r.body }))
}
