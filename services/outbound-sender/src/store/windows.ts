/**
 * outbound_service_windows: the sender's own view of each customer's 24-hour service window,
 * fed by inbound user messages (never by history or app echoes).
 */
import { sql, type DbExecutor } from '@coexist/db'

/** Meta's customer service window. */
export const SERVICE_WINDOW_MS = 24 * 60 * 60 * 1000

export interface InboundSeen { phoneNumberId: string, customer: string, at: Date }

/** Records user messages; a window only ever moves forward (replays and reordering change nothing). */
export async function recordInbound (db: DbExecutor, seen: readonly InboundSeen[]): Promise<void> {
  if (seen.length === 0) return
  // One row per key per statement: ON CONFLICT cannot touch a row twice.
  const latest = new Map<string, InboundSeen>()
  for (const s of seen) {
    const k = `${s.phoneNumberId}\u0000${s.customer}`
    const prev = latest.get(k)
    if (prev === undefined || prev.at < s.at) latest.set(k, s)
  }
  const rows = [...latest.values()]
  await sql`
    INSERT INTO outbound_service_windows (phone_number_id, customer, last_inbound_at)
    SELECT * FROM unnest(${rows.map((r) => r.phoneNumberId)}::text[], ${rows.map((r) => r.customer)}::text[], ${rows.map((r) => r.at.toISOString())}::timestamptz[])
    ON CONFLICT (phone_number_id, customer) DO UPDATE
      SET last_inbound_at = GREATEST(outbound_service_windows.last_inbound_at, excluded.last_inbound_at), updated_at = now()
      WHERE excluded.last_inbound_at > outbound_service_windows.last_inbound_at`.execute(db)
}

/** The last inbound time per (number, customer) asked; absent = never wrote. */
export async function lastInbound (db: DbExecutor, keys: ReadonlyArray<{ phoneNumberId: string, customer: string }>): Promise<Map<string, Date>> {
  if (keys.length === 0) return new Map()
  const rows = await sql<{ phone_number_id: string, customer: string, last_inbound_at: Date }>`
    SELECT w.phone_number_id, w.customer, w.last_inbound_at FROM outbound_service_windows w
    JOIN unnest(${keys.map((k) => k.phoneNumberId)}::text[], ${keys.map((k) => k.customer)}::text[]) AS k(phone_number_id, customer)
      ON w.phone_number_id = k.phone_number_id AND w.customer = k.customer`.execute(db)
  return new Map(rows.rows.map((r) => [windowKey(r.phone_number_id, r.customer), r.last_inbound_at]))
}

export function windowKey (phoneNumberId: string, customer: string): string {
  return `${phoneNumberId}\u0000${customer}`
}
