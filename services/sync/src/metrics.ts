/**
 * The sync service's Prometheus metrics, on the app's registry (`GET /metrics`): consumer
 * outcomes and handler time from the bus's diagnostics channels, rows stored per webhook field
 * from sync's own channel, and on each scrape the outbox depth, onboardings by state and the
 * sync requests still open.
 */
import diagnostics from 'node:diagnostics_channel'
import { BUS_CHANNELS, type DeadLetterDiagnostic, type HandleDiagnostic } from '@coexist/bus'
import { sql, type Db } from '@coexist/db'
import { Counter, Gauge, Histogram, type Registry } from '@coexist/http'

/** Published after each committed write: `{ field, messages }` (messages newly stored). */
const SYNC_STORED_CHANNEL = 'coexist:sync:stored'
interface StoredDiagnostic { field: string, messages: number }
const stored = diagnostics.channel(SYNC_STORED_CHANNEL)

/** Reports rows stored by a consumer (no-op without subscribers). */
export function reportStored (field: string, messages: number): void {
  if (stored.hasSubscribers) stored.publish({ field, messages } satisfies StoredDiagnostic)
}

/** Registers the metrics; returns a function that unsubscribes from the channels. */
export function registerSyncMetrics (registry: Registry, db: Db): () => void {
  const records = new Counter({ name: 'sync_consumer_records_total', help: 'Records handled by the sync consumers, by topic and outcome', labelNames: ['topic', 'outcome'], registers: [registry] })
  const handleSeconds = new Histogram({ name: 'sync_consumer_handle_seconds', help: 'Handler time per record attempt', labelNames: ['topic'], buckets: [0.001, 0.005, 0.02, 0.05, 0.2, 1, 5], registers: [registry] })
  const deadLetters = new Counter({ name: 'sync_dead_letters_total', help: 'Records sent to the dead-letter topic', labelNames: ['topic', 'reason'], registers: [registry] })
  const messages = new Counter({ name: 'sync_messages_stored_total', help: 'Messages newly stored (duplicates excluded), by webhook field', labelNames: ['field'], registers: [registry] })
  // Gauges read on scrape (collect): registered by their constructor, nothing else holds them.
  /* eslint-disable no-new */
  new Gauge({
    name: 'sync_outbox_pending',
    help: 'Domain events written but not yet published to wa.events.v1',
    registers: [registry],
    async collect () { this.set((await sql<{ n: number }>`SELECT count(*)::int AS n FROM event_outbox`.execute(db)).rows[0]?.n ?? 0) }
  })
  new Gauge({
    name: 'sync_onboardings',
    help: 'Latest onboarding of each number, by state',
    registers: [registry],
    labelNames: ['state'],
    async collect () {
      this.reset()
      const rows = (await sql<{ state: string, n: number }>`
        SELECT state, count(*)::int AS n FROM (SELECT DISTINCT ON (phone_number_id) state FROM onboardings ORDER BY phone_number_id, generation DESC) o GROUP BY state`.execute(db)).rows
      for (const r of rows) this.set({ state: r.state }, r.n)
    }
  })
  new Gauge({
    name: 'sync_requests_open',
    help: 'smb_app_data requests pending or in flight',
    registers: [registry],
    async collect () { this.set((await sql<{ n: number }>`SELECT count(*)::int AS n FROM sync_requests WHERE state IN ('pending', 'in_flight')`.execute(db)).rows[0]?.n ?? 0) }
  })
  /* eslint-enable no-new */

  const onHandle = (m: unknown): void => {
    const d = m as HandleDiagnostic
    records.inc({ topic: d.topic, outcome: d.outcome })
    handleSeconds.observe({ topic: d.topic }, d.durationMs / 1000)
  }
  const onDead = (m: unknown): void => { const d = m as DeadLetterDiagnostic; deadLetters.inc({ topic: d.topic, reason: d.reason }) }
  const onStored = (m: unknown): void => { const d = m as StoredDiagnostic; if (d.messages > 0) messages.inc({ field: d.field }, d.messages) }
  diagnostics.subscribe(BUS_CHANNELS.handle, onHandle)
  diagnostics.subscribe(BUS_CHANNELS.deadLetter, onDead)
  diagnostics.subscribe(SYNC_STORED_CHANNEL, onStored)
  return () => {
    diagnostics.unsubscribe(BUS_CHANNELS.handle, onHandle)
    diagnostics.unsubscribe(BUS_CHANNELS.deadLetter, onDead)
    diagnostics.unsubscribe(SYNC_STORED_CHANNEL, onStored)
  }
}
