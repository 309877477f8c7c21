import { sql, type Db } from '@coexist/db'
import { HEADER, PROTOBUF_CONTENT_TYPE, type BusProducer } from '@coexist/bus'
import type { Logger } from '@coexist/logger'

export interface OutboxRelayOptions {
  db: Db
  producer: BusProducer
  logger: Logger
  /** Poll interval when nothing kicks the relay, ms. Default 250. */
  intervalMs?: number
  /** Events per round. Default 1000. */
  batchSize?: number
  /** How long a kick waits for more kicks before the round, ms. Default 5. */
  kickDelayMs?: number
}

export interface OutboxRelay {
  /** Starts the loop (polls, and runs at once when kicked). */
  start: () => void
  /** Asks for a round now (consumers call it after a commit). */
  kick: () => void
  /** Runs rounds until the outbox is empty; returns how many events went out. */
  drain: () => Promise<number>
  /** Stops the loop after the current round. */
  stop: () => Promise<void>
}

// One relay at a time per database keeps each number's events in commit order.
const RELAY_LOCK = 0x5359_4e43 // 'SYNC'

/**
 * Publishes the outbox to wa.events.v1: in one transaction it takes the relay lock, reads the
 * oldest events, publishes them (acks=all, the producer batches them into few requests) and
 * deletes them. A crash before the delete publishes them again: events are at-least-once with
 * deterministic ids, never lost.
 */
export function createOutboxRelay (opts: OutboxRelayOptions): OutboxRelay {
  const { db, producer } = opts
  const log = opts.logger.child({ component: 'outbox-relay' })
  const batchSize = opts.batchSize ?? 1000
  const intervalMs = opts.intervalMs ?? 250
  let running = false
  let timer: NodeJS.Timeout | undefined
  let round: Promise<number> | undefined
  let again = false
  let kicked = false
  const kickDelayMs = opts.kickDelayMs ?? 5

  async function once (): Promise<number> {
    return await db.transaction().execute(async (tx) => {
      const lock = await sql<{ ok: boolean }>`SELECT pg_try_advisory_xact_lock(${RELAY_LOCK}) AS ok`.execute(tx)
      if (lock.rows[0]?.ok !== true) return 0
      const rows = (await sql<{ id: number, event_id: string, event_type: string, key: string, tenant_id: string, payload: Buffer }>`
        SELECT id, event_id, event_type, key, tenant_id, payload FROM event_outbox ORDER BY id LIMIT ${batchSize}`.execute(tx)).rows
      if (rows.length === 0) return 0
      await Promise.all(rows.map((r) => producer.publishRaw('events', {
        key: r.key,
        value: r.payload,
        headers: {
          [HEADER.eventType]: r.event_type,
          [HEADER.schema]: 'coexist.events.v1.DomainEvent',
          [HEADER.contentType]: PROTOBUF_CONTENT_TYPE,
          [HEADER.tenantId]: r.tenant_id,
          'event-id': r.event_id
        }
      })))
      // By id list, not range: an id below the last one may belong to a transaction that commits later.
      await sql`DELETE FROM event_outbox WHERE id = ANY(${rows.map((r) => r.id)}::bigint[])`.execute(tx)
      return rows.length
    })
  }

  async function drain (): Promise<number> {
    let total = 0
    for (;;) {
      const n = await once()
      total += n
      if (n < batchSize) return total
    }
  }

  function schedule (ms: number): void {
    if (!running) return
    clearTimeout(timer)
    timer = setTimeout(tick, ms)
  }

  function tick (): void {
    kicked = false
    if (round !== undefined) { again = true; return }
    round = drain().catch((err: unknown) => { log.warn({ err }, 'publishing domain events failed; retrying'); return 0 })
    void round.finally(() => {
      round = undefined
      if (again) { again = false; kicked = true; schedule(kickDelayMs) } else schedule(intervalMs)
    })
  }

  return {
    start () { running = true; schedule(0) },
    // Kicks within a few ms share one round (one transaction, one batch to Kafka).
    kick () {
      if (!running) return
      if (round !== undefined) { again = true; return }
      if (!kicked) { kicked = true; schedule(kickDelayMs) }
    },
    drain,
    async stop () {
      running = false
      clearTimeout(timer)
      await round
    }
  }
}
