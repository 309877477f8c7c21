// Tenant plans, balances and top-ups. Every change that can move a balance's state re-evaluates
// it in the same transaction and writes the TenantBalanceEvent to the outbox.
import { sql, type Db } from '@coexist/db'
import { BillErrors } from '../errors.ts'
import type { BalanceStateName } from '../domain/balance.ts'
import { utcMonth } from '../domain/balance.ts'
import { evaluateBalances, insertOutbox, type OutboxRow } from '../ledger/balances.ts'

export interface Plan {
  tenantId: string
  markupPercentBps: number
  markupPerMessageMicros: number
  prepaid: boolean
  lowBalanceMicros: number
}

export interface BalanceView {
  currency: string
  balanceMicros: number
  spendLimitMicros: number | null
  monthSpendMicros: number
  state: BalanceStateName
  updatedAt: string
}

export interface TopUp {
  id: string
  tenantId: string
  currency: string
  amountMicros: number
  idempotencyKey: string
  note: string | null
  createdAt: string
}

const DEFAULT_PLAN = { markupPercentBps: 0, markupPerMessageMicros: 0, prepaid: false, lowBalanceMicros: 0 }

async function tenantExists (db: Db, tenantId: string): Promise<boolean> {
  return (await db.selectFrom('tenants').select('id').where('id', '=', tenantId).executeTakeFirst()) !== undefined
}

/** A tenant's plan (the default when none was set: no markup, postpaid). */
export async function getPlan (db: Db, tenantId: string): Promise<Plan> {
  const r = await db.selectFrom('billing_tenant_plans').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst()
  if (r === undefined) return { tenantId, ...DEFAULT_PLAN }
  return { tenantId, markupPercentBps: r.markup_percent_bps, markupPerMessageMicros: Number(r.markup_per_message_micros), prepaid: r.prepaid, lowBalanceMicros: Number(r.low_balance_micros) }
}

export interface PlanInput {
  markupPercentBps?: number
  markupPerMessageMicros?: number
  prepaid?: boolean
  lowBalanceMicros?: number
  /** Monthly spend limits by currency; null removes one. */
  spendLimits?: Record<string, number | null>
}

/**
 * Sets a tenant's plan (fields left out keep their value) and spend limits, and re-evaluates
 * its balances at `now`. New markups apply to messages priced from now on.
 */
export async function setPlan (db: Db, tenantId: string, input: PlanInput, now: number): Promise<{ plan: Plan, outbox: number }> {
  if (!await tenantExists(db, tenantId)) throw BillErrors.BILL_TENANT_NOT_FOUND.create()
  const outbox: OutboxRow[] = []
  await db.transaction().execute(async (tx) => {
    const current = await tx.selectFrom('billing_tenant_plans').selectAll().where('tenant_id', '=', tenantId).forUpdate().executeTakeFirst()
    const next = {
      markup_percent_bps: input.markupPercentBps ?? current?.markup_percent_bps ?? 0,
      markup_per_message_micros: input.markupPerMessageMicros ?? Number(current?.markup_per_message_micros ?? 0),
      prepaid: input.prepaid ?? current?.prepaid ?? false,
      low_balance_micros: input.lowBalanceMicros ?? Number(current?.low_balance_micros ?? 0)
    }
    await tx.insertInto('billing_tenant_plans').values({ tenant_id: tenantId, ...next, updated_at: sql`now()` })
      .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ ...next, updated_at: sql`now()` })).execute()
    for (const [currency, limit] of Object.entries(input.spendLimits ?? {})) {
      await tx.insertInto('billing_balances').values({ tenant_id: tenantId, currency, spend_limit_micros: limit })
        .onConflict((oc) => oc.columns(['tenant_id', 'currency']).doUpdateSet({ spend_limit_micros: limit, updated_at: sql`now()` })).execute()
    }
    const keys = await tx.selectFrom('billing_balances').select(['tenant_id', 'currency']).where('tenant_id', '=', tenantId).execute()
    await evaluateBalances(tx, keys.map((k) => ({ tenantId: k.tenant_id, currency: k.currency })), now, outbox)
    await insertOutbox(tx, outbox)
  })
  return { plan: await getPlan(db, tenantId), outbox: outbox.length }
}

/** Balances of a tenant, one per currency, with this month's (UTC) spend. */
export async function getBalances (db: Db, tenantId: string, now: number): Promise<BalanceView[]> {
  const { rows } = await sql<{ currency: string, balance_micros: number, spend_limit_micros: number | null, state: BalanceStateName, updated_at: Date, month_spend: number | null }>`
    SELECT b.currency, b.balance_micros, b.spend_limit_micros, b.state, b.updated_at, s.spend_micros AS month_spend
    FROM billing_balances b
    LEFT JOIN billing_monthly_spend s ON s.tenant_id = b.tenant_id AND s.currency = b.currency AND s.month = ${utcMonth(now)}
    WHERE b.tenant_id = ${tenantId}::uuid ORDER BY b.currency`.execute(db)
  return rows.map((r) => ({
    currency: r.currency,
    balanceMicros: Number(r.balance_micros),
    spendLimitMicros: r.spend_limit_micros === null ? null : Number(r.spend_limit_micros),
    monthSpendMicros: Number(r.month_spend ?? 0),
    state: r.state,
    updatedAt: r.updated_at.toISOString()
  }))
}

/**
 * Credits a tenant's balance once per idempotency key: the same key again returns the first
 * top-up (created false); with another amount or currency it is refused (409).
 */
export async function topUp (db: Db, input: { tenantId: string, currency: string, amountMicros: number, idempotencyKey: string, note?: string | null }, now: number): Promise<{ topUp: TopUp, created: boolean }> {
  if (!await tenantExists(db, input.tenantId)) throw BillErrors.BILL_TENANT_NOT_FOUND.create()
  if (!Number.isSafeInteger(input.amountMicros) || input.amountMicros <= 0) throw BillErrors.BILL_INVALID_REQUEST.create({ message: 'a top-up must be a positive amount' })
  return await db.transaction().execute(async (tx) => {
    const row = await tx.insertInto('billing_topups')
      .values({ tenant_id: input.tenantId, currency: input.currency, amount_micros: input.amountMicros, idempotency_key: input.idempotencyKey, note: input.note ?? null })
      .onConflict((oc) => oc.constraint('billing_topups_idempotency_key').doNothing())
      .returningAll().executeTakeFirst()
    if (row === undefined) {
      const first = await tx.selectFrom('billing_topups').selectAll().where('tenant_id', '=', input.tenantId).where('idempotency_key', '=', input.idempotencyKey).executeTakeFirstOrThrow()
      if (first.currency !== input.currency || Number(first.amount_micros) !== input.amountMicros) throw BillErrors.BILL_TOPUP_CONFLICT.create()
      return { topUp: toTopUp(first), created: false }
    }
    await tx.insertInto('billing_balances').values({ tenant_id: input.tenantId, currency: input.currency, balance_micros: input.amountMicros })
      .onConflict((oc) => oc.columns(['tenant_id', 'currency']).doUpdateSet({ balance_micros: sql`billing_balances.balance_micros + excluded.balance_micros`, updated_at: sql`now()` }))
      .execute()
    const outbox: OutboxRow[] = []
    await evaluateBalances(tx, [{ tenantId: input.tenantId, currency: input.currency }], now, outbox)
    await insertOutbox(tx, outbox)
    return { topUp: toTopUp(row), created: true }
  })
}

/** A tenant's top-ups, newest first. */
export async function listTopUps (db: Db, tenantId: string, limit = 100): Promise<TopUp[]> {
  const rows = await db.selectFrom('billing_topups').selectAll().where('tenant_id', '=', tenantId).orderBy('created_at', 'desc').limit(limit).execute()
  return rows.map(toTopUp)
}

function toTopUp (r: { id: string, tenant_id: string, currency: string, amount_micros: number | string, idempotency_key: string, note: string | null, created_at: Date }): TopUp {
  return { id: r.id, tenantId: r.tenant_id, currency: r.currency, amountMicros: Number(r.amount_micros), idempotencyKey: r.idempotency_key, note: r.note, createdAt: r.created_at.toISOString() }
}

/**
 * Re-evaluates every balance not in state OK (e.g. a spend limit reached last month, now a new
 * month). Returns how many changed.
 */
export async function reevaluateBalances (db: Db, now: number): Promise<number> {
  return await db.transaction().execute(async (tx) => {
    const keys = await tx.selectFrom('billing_balances').select(['tenant_id', 'currency']).where('state', '<>', 'OK').execute()
    const outbox: OutboxRow[] = []
    const changed = await evaluateBalances(tx, keys.map((k) => ({ tenantId: k.tenant_id, currency: k.currency })), now, outbox)
    await insertOutbox(tx, outbox)
    return changed.length
  })
}
