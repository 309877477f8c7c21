// Balances move in the same transaction as the ledger lines that charge them (or the top-up that
// credits them), so a redelivered record can never charge twice: the line's row lock and its
// stored billed price make every delta exactly once. A state change (OK/LOW/EXHAUSTED) is
// written to the outbox in that transaction and published after it commits.
import { create, toBinary } from '@bufbuild/protobuf'
import { BalanceState, TenantBalanceEventSchema } from '@coexist/contracts'
import { sql, type Transaction, type Database } from '@coexist/db'
import { balanceState, utcMonth, type BalanceStateName } from '../domain/balance.ts'

export type Tx = Transaction<Database>

/**
 * An event to publish after commit (a row of billing_outbox): one event, or with `keys` a batch
 * of events framed by {@link frameEvents} (keys[i] is the record key of event i).
 */
export interface OutboxRow {
  topic: 'billing.usage' | 'billing.balance'
  key: string
  keys?: string[]
  eventType: string
  schema: string
  tenantId: string | null
  payload: Uint8Array
}

/** Frames encoded events as [4-byte big-endian length][bytes]… (one outbox row for many events). */
export function frameEvents (events: readonly Uint8Array[]): Buffer {
  const out = Buffer.allocUnsafe(events.reduce((n, e) => n + 4 + e.byteLength, 0))
  let at = 0
  for (const e of events) {
    out.writeUInt32BE(e.byteLength, at)
    out.set(e, at + 4)
    at += 4 + e.byteLength
  }
  return out
}

/** The events of a framed payload, as views into it. */
export function unframeEvents (payload: Uint8Array): Uint8Array[] {
  const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
  const out: Uint8Array[] = []
  for (let at = 0; at < buf.length;) {
    const n = buf.readUInt32BE(at)
    out.push(buf.subarray(at + 4, at + 4 + n))
    at += 4 + n
  }
  return out
}

const BALANCE_EVENT_TYPE = 'billing.balance_changed'
const BALANCE_SCHEMA = 'coexist.billing.v1.TenantBalanceEvent'

const STATE_ENUM: Record<BalanceStateName, BalanceState> = { OK: BalanceState.OK, LOW: BalanceState.LOW, EXHAUSTED: BalanceState.EXHAUSTED }

export interface BalanceDelta {
  tenantId: string
  currency: string
  /** Added to the balance (negative for charges). */
  balanceMicros: number
  /** Billed spend per UTC month of the messages' send time. */
  spend: Map<string, number>
}

/**
 * Applies balance and spend deltas, then re-evaluates the state of every touched balance at
 * `now`, writing state changes and their events. Rows are locked in (tenant, currency) order.
 */
export async function applyBalanceDeltas (tx: Tx, deltas: readonly BalanceDelta[], now: number, outbox: OutboxRow[]): Promise<void> {
  const sorted = [...deltas].sort((a, b) => a.tenantId < b.tenantId ? -1 : a.tenantId > b.tenantId ? 1 : a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : 0)
  if (sorted.length === 0) return
  await sql`
    INSERT INTO billing_balances (tenant_id, currency, balance_micros)
    SELECT * FROM unnest(${sorted.map((d) => d.tenantId)}::uuid[], ${sorted.map((d) => d.currency)}::text[], ${sorted.map((d) => d.balanceMicros)}::bigint[]) ORDER BY 1, 2
    ON CONFLICT (tenant_id, currency) DO UPDATE SET balance_micros = billing_balances.balance_micros + excluded.balance_micros, updated_at = now()`.execute(tx)
  const spend = sorted.flatMap((d) => [...d.spend].filter(([, v]) => v !== 0).map(([month, v]) => ({ t: d.tenantId, c: d.currency, month, v })))
  if (spend.length > 0) {
    await sql`
      INSERT INTO billing_monthly_spend (tenant_id, currency, month, spend_micros)
      SELECT * FROM unnest(${spend.map((s) => s.t)}::uuid[], ${spend.map((s) => s.c)}::text[], ${spend.map((s) => s.month)}::text[], ${spend.map((s) => s.v)}::bigint[]) ORDER BY 1, 2, 3
      ON CONFLICT (tenant_id, currency, month) DO UPDATE SET spend_micros = billing_monthly_spend.spend_micros + excluded.spend_micros`.execute(tx)
  }
  await evaluateBalances(tx, sorted.map((d) => ({ tenantId: d.tenantId, currency: d.currency })), now, outbox)
}

/**
 * Recomputes the state of the given balances at `now` (plan, balance, this month's spend) and
 * records each change: the new state on the row and a TenantBalanceEvent in the outbox.
 * Returns the balances whose state changed.
 */
export async function evaluateBalances (tx: Tx, keys: readonly { tenantId: string, currency: string }[], now: number, outbox: OutboxRow[]): Promise<{ tenantId: string, currency: string, state: BalanceStateName, previous: BalanceStateName }[]> {
  if (keys.length === 0) return []
  const month = utcMonth(now)
  const { rows } = await sql<{ tenant_id: string, currency: string, balance_micros: number, spend_limit_micros: number | null, state: BalanceStateName, prepaid: boolean | null, low_balance_micros: number | null, month_spend: number | null }>`
    SELECT b.tenant_id, b.currency, b.balance_micros, b.spend_limit_micros, b.state, p.prepaid, p.low_balance_micros, s.spend_micros AS month_spend
    FROM billing_balances b
    JOIN unnest(${keys.map((k) => k.tenantId)}::uuid[], ${keys.map((k) => k.currency)}::text[]) AS k(t, c) ON b.tenant_id = k.t AND b.currency = k.c
    LEFT JOIN billing_tenant_plans p ON p.tenant_id = b.tenant_id
    LEFT JOIN billing_monthly_spend s ON s.tenant_id = b.tenant_id AND s.currency = b.currency AND s.month = ${month}
    ORDER BY b.tenant_id, b.currency
    FOR UPDATE OF b`.execute(tx)
  const changed: { tenantId: string, currency: string, state: BalanceStateName, previous: BalanceStateName }[] = []
  for (const r of rows) {
    const state = balanceState({
      prepaid: r.prepaid ?? false,
      balanceMicros: Number(r.balance_micros),
      lowBalanceMicros: Number(r.low_balance_micros ?? 0),
      spendLimitMicros: r.spend_limit_micros === null ? null : Number(r.spend_limit_micros),
      monthSpendMicros: Number(r.month_spend ?? 0)
    })
    if (state === r.state) continue
    changed.push({ tenantId: r.tenant_id, currency: r.currency, state, previous: r.state })
    const payload = toBinary(TenantBalanceEventSchema, create(TenantBalanceEventSchema, {
      tenantId: r.tenant_id,
      balanceMicros: BigInt(r.balance_micros),
      state: STATE_ENUM[state],
      previousState: STATE_ENUM[r.state],
      currency: r.currency,
      occurredAt: BigInt(now)
    }))
    // ARCHITECTURE.md names wa.billing.usage.v1 as billing's topic; the bus registry also has
    // wa.billing.balance.v1 for balances. The event goes to both until that is settled.
    for (const topic of ['billing.usage', 'billing.balance'] as const) {
      outbox.push({ topic, key: r.tenant_id, eventType: BALANCE_EVENT_TYPE, schema: BALANCE_SCHEMA, tenantId: r.tenant_id, payload })
    }
  }
  if (changed.length > 0) {
    await sql`
      UPDATE billing_balances b SET state = v.s, updated_at = now()
      FROM unnest(${changed.map((c) => c.tenantId)}::uuid[], ${changed.map((c) => c.currency)}::text[], ${changed.map((c) => c.state)}::text[]) AS v(t, c, s)
      WHERE b.tenant_id = v.t AND b.currency = v.c`.execute(tx)
  }
  return changed
}

/**
 * Writes events to the outbox (in the caller's transaction). Each payload is its own bytea
 * parameter, which pg sends in binary: in a bytea[] array every payload was written out as an
 * escaped hex literal (twice its size) in JavaScript and decoded again by Postgres.
 */
export async function insertOutbox (tx: Tx, rows: readonly OutboxRow[]): Promise<void> {
  if (rows.length === 0) return
  await tx.insertInto('billing_outbox').values(rows.map((r) => ({
    topic: r.topic,
    key: r.key,
    // Thousands of keys as one text parameter split by Postgres (string_to_array), not an array literal.
    keys: r.keys === undefined ? null : sql<string[]>`string_to_array(${r.keys.join('\u001f')}, chr(31))`,
    event_type: r.eventType,
    schema: r.schema,
    tenant_id: r.tenantId,
    payload: Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength)
  }))).execute()
}
