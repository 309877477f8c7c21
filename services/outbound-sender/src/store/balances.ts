/** outbound_tenant_balances: each tenant's balance state as billing last announced it. */
import { sql, type DbExecutor } from '@coexist/db'

export type BalanceStateName = 'ok' | 'low' | 'exhausted' | 'unspecified'

export interface BalanceUpdate {
  tenantId: string
  state: BalanceStateName
  balanceMicros: bigint | number
  currency: string | null
  occurredAt: Date
}

/** Stores balance events; an event older than the stored one changes nothing (replays, reordering). */
export async function recordBalances (db: DbExecutor, updates: readonly BalanceUpdate[]): Promise<void> {
  if (updates.length === 0) return
  const latest = new Map<string, BalanceUpdate>()
  for (const u of updates) {
    const prev = latest.get(u.tenantId)
    if (prev === undefined || prev.occurredAt <= u.occurredAt) latest.set(u.tenantId, u)
  }
  const rows = [...latest.values()]
  await sql`
    INSERT INTO outbound_tenant_balances (tenant_id, state, balance_micros, currency, occurred_at)
    SELECT * FROM unnest(${rows.map((r) => r.tenantId)}::uuid[], ${rows.map((r) => r.state)}::text[],
      ${rows.map((r) => String(r.balanceMicros))}::bigint[], ${rows.map((r) => r.currency)}::text[], ${rows.map((r) => r.occurredAt.toISOString())}::timestamptz[])
    ON CONFLICT (tenant_id) DO UPDATE
      SET state = excluded.state, balance_micros = excluded.balance_micros, currency = excluded.currency,
          occurred_at = excluded.occurred_at, updated_at = now()
      WHERE excluded.occurred_at >= outbound_tenant_balances.occurred_at`.execute(db)
}

/** True when billing said the tenant's spend limit is reached. */
export async function isSpendLimitReached (db: DbExecutor, tenantId: string): Promise<boolean> {
  const row = await db.selectFrom('outbound_tenant_balances').select('state').where('tenant_id', '=', tenantId).executeTakeFirst()
  return row?.state === 'exhausted'
}
