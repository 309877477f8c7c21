// Publishes what the pricing transactions wrote to billing_outbox, in id order, and deletes it in
// the same transaction as the publish succeeded: at least once (a crash after Kafka acknowledged
// and before the delete publishes again; consumers dedupe UsageRecord by usage_id + revision).
// Rows are claimed with SKIP LOCKED, so several replicas can relay side by side.
import type { BusProducer } from '@coexist/bus'
import { unframeEvents } from './balances.ts'
import { HEADER, PROTOBUF_CONTENT_TYPE, newTraceId } from '@coexist/bus'
import { sql, type Db } from '@coexist/db'
import type { Logger } from '@coexist/logger'

export interface OutboxRelayOptions {
  db: Db
  producer: Pick<BusProducer, 'publishRaw'>
  logger: Logger
  /** Rows per transaction (a row may hold up to 1,000 batched events). Default 5. */
  batchSize?: number
  /** Poll interval when idle, ms (kick() runs it at once). Default 1000. */
  intervalMs?: number
}

export interface OutboxRelay {
  /** Publish now (after a commit). */
  kick: () => void
  /** Publishes until the outbox is empty; returns how many events went out. */
  drain: () => Promise<number>
  stop: () => Promise<void>
}

interface Row { id: number, topic: string, key: string, keys: string | null, event_type: string, schema: string, tenant_id: string | null, payload: Buffer }

export function createOutboxRelay (opts: OutboxRelayOptions): OutboxRelay {
  const batchSize = opts.batchSize ?? 5
  const log = opts.logger.child({ component: 'outbox-relay' })
  let stopped = false
  let running: Promise<number> | undefined
  let again = false
  let timer: NodeJS.Timeout | undefined

  async function once (): Promise<number> {
    return await opts.db.transaction().execute(async (tx) => {
      const { rows } = await sql<Row>`
        DELETE FROM billing_outbox WHERE id IN (SELECT id FROM billing_outbox ORDER BY id LIMIT ${batchSize} FOR UPDATE SKIP LOCKED)
        RETURNING id, topic, key, array_to_string(keys, chr(31)) AS keys, event_type, schema, tenant_id, payload`.execute(tx)
      if (rows.length === 0) return 0
      rows.sort((a, b) => a.id - b.id)
      const jobs: Promise<void>[] = []
      let events = 0
      for (const r of rows) {
        // One trace id per row: the events of one pricing transaction share it (a random id per
        // event cost as much as encoding the event).
        const base = { [HEADER.eventType]: r.event_type, [HEADER.schema]: r.schema, [HEADER.contentType]: PROTOBUF_CONTENT_TYPE, [HEADER.traceId]: newTraceId() }
        // The producer copies the headers it is given, so one object per tenant serves the row.
        const byTenant = new Map<string, Record<string, string>>()
        const headersFor = (tenantId: string | null): Record<string, string> => {
          if (tenantId === null || tenantId === '') return base
          let h = byTenant.get(tenantId)
          if (h === undefined) { h = { ...base, [HEADER.tenantId]: tenantId }; byTenant.set(tenantId, h) }
          return h
        }
        const topic = r.topic as 'billing.usage'
        if (r.keys === null) { jobs.push(opts.producer.publishRaw(topic, { key: r.key, value: r.payload, headers: headersFor(r.tenant_id) })); events++; continue }
        const values = unframeEvents(r.payload)
        // A row's keys come back as one text, split here (as insertOutbox wrote them): a text[]
        // of a thousand keys costs an array literal's parse in JavaScript.
        const keys = r.keys.split('\u001f')
        for (let i = 0; i < values.length; i++) {
          const k = keys[i] ?? ''
          jobs.push(opts.producer.publishRaw(topic, { key: k, value: values[i]!, headers: headersFor(k) }))
        }
        events += values.length
      }
      await Promise.all(jobs)
      return events
    })
  }

  async function drain (): Promise<number> {
    let total = 0
    for (;;) {
      const n = await once()
      total += n
      if (n === 0) return total
    }
  }

  function run (): void {
    if (stopped) return
    if (running !== undefined) { again = true; return }
    running = drain()
      .catch((err: unknown) => { log.warn({ err }, 'outbox publish failed; will retry'); return 0 })
      .finally(() => {
        running = undefined
        if (again) { again = false; run() }
      })
  }

  const tick = (): void => {
    run()
    timer = setTimeout(tick, opts.intervalMs ?? 1000)
    timer.unref()
  }
  tick()

  return {
    kick: run,
    drain: async () => { await running; return await drain() },
    stop: async () => {
      stopped = true
      clearTimeout(timer)
      await running
    }
  }
}
