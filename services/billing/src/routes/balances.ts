/**
 * Balances, top-ups and plans. Tenants read their own balance, top-ups and plan; top-ups, plans
 * and spend limits are set with an admin key. A change that exhausts (or restores) a balance
 * publishes a TenantBalanceEvent.
 */
import { z } from 'zod'
import type { Db } from '@coexist/db'
import type { FastifyPluginAsyncZod } from '@coexist/http'
import { BillErrors } from '../errors.ts'
import { formatMicros, parseDecimalMicros } from '../domain/money.ts'
import { getBalances, getPlan, listTopUps, setPlan, topUp, type Plan, type TopUp } from '../store/balances.ts'
import { oneTenant } from './scope.ts'

export interface BalanceRoutesOptions { db: Db, clock: () => number, afterCommit: () => void }

const Currency = z.string().regex(/^[A-Z]{3}$/)
const Amount = z.union([
  z.string().regex(/^\d{1,12}(\.\d{1,6})?$/).describe('decimal amount in currency units, e.g. "25.50"'),
  z.number().int().positive().describe('amount in micros')
])
const toMicros = (a: string | number): number => typeof a === 'number' ? a : parseDecimalMicros(a) ?? NaN

const planView = (p: Plan) => ({
  tenant_id: p.tenantId,
  markup_percent_bps: p.markupPercentBps,
  markup_per_message_micros: p.markupPerMessageMicros,
  prepaid: p.prepaid,
  low_balance_micros: p.lowBalanceMicros
})
const topUpView = (t: TopUp) => ({ id: t.id, tenant_id: t.tenantId, currency: t.currency, amount_micros: t.amountMicros, amount: formatMicros(t.amountMicros), idempotency_key: t.idempotencyKey, note: t.note, created_at: t.createdAt })

export const balanceRoutes: FastifyPluginAsyncZod<BalanceRoutesOptions> = async (app, opts) => {
  const { db, clock } = opts
  const TenantQuery = z.object({ tenant_id: z.uuid().optional() })

  app.get('/v1/billing/balance', {
    schema: { tags: ['billing'], summary: 'Balances (one per currency), spend this month, state', querystring: TenantQuery }
  }, async (request) => {
    const tenantId = oneTenant(request, request.query.tenant_id)
    const plan = await getPlan(db, tenantId)
    const balances = await getBalances(db, tenantId, clock())
    return {
      tenant_id: tenantId,
      prepaid: plan.prepaid,
      data: balances.map((b) => ({
        currency: b.currency,
        balance_micros: b.balanceMicros,
        balance: formatMicros(b.balanceMicros),
        state: b.state,
        spend_limit_micros: b.spendLimitMicros,
        month_spend_micros: b.monthSpendMicros,
        month_spend: formatMicros(b.monthSpendMicros),
        updated_at: b.updatedAt
      }))
    }
  })

  app.get('/v1/billing/topups', {
    schema: { tags: ['billing'], summary: 'Top-ups, newest first', querystring: TenantQuery }
  }, async (request) => ({ data: (await listTopUps(db, oneTenant(request, request.query.tenant_id))).map(topUpView) }))

  app.post('/v1/billing/topups', {
    config: { auth: 'admin' },
    schema: {
      tags: ['billing'],
      summary: 'Credit a tenant\'s prepaid balance (idempotent by Idempotency-Key or idempotency_key)',
      body: z.object({
        tenant_id: z.uuid(),
        currency: Currency,
        amount: Amount,
        idempotency_key: z.string().min(1).max(200).optional(),
        note: z.string().max(500).optional()
      })
    }
  }, async (request, reply) => {
    const b = request.body
    const header = request.headers['idempotency-key']
    const key = b.idempotency_key ?? (typeof header === 'string' && header !== '' ? header : undefined)
    if (key === undefined) throw BillErrors.BILL_INVALID_REQUEST.create({ message: 'a top-up needs an Idempotency-Key header or idempotency_key' })
    const amountMicros = toMicros(b.amount)
    const r = await topUp(db, { tenantId: b.tenant_id, currency: b.currency, amountMicros, idempotencyKey: key, note: b.note }, clock())
    opts.afterCommit()
    const balances = await getBalances(db, b.tenant_id, clock())
    const bal = balances.find((x) => x.currency === b.currency)
    return reply.code(r.created ? 201 : 200).send({ ...topUpView(r.topUp), balance_micros: bal?.balanceMicros ?? 0, balance: formatMicros(bal?.balanceMicros ?? 0), state: bal?.state ?? 'OK' })
  })

  app.get('/v1/billing/plan', {
    schema: { tags: ['billing'], summary: 'The tenant\'s plan: markup, prepaid, low-balance threshold', querystring: TenantQuery }
  }, async (request) => planView(await getPlan(db, oneTenant(request, request.query.tenant_id))))

  app.put('/v1/billing/tenants/:tenantId/plan', {
    config: { auth: 'admin' },
    schema: {
      tags: ['billing'],
      summary: 'Set a tenant\'s plan and monthly spend limits',
      params: z.object({ tenantId: z.uuid() }),
      body: z.object({
        markup_percent_bps: z.number().int().min(0).max(1_000_000).optional().describe('1 bp = 0.01 %'),
        markup_per_message_micros: z.number().int().min(0).optional(),
        prepaid: z.boolean().optional(),
        low_balance_micros: z.number().int().min(0).optional(),
        spend_limits: z.record(Currency, z.number().int().min(0).nullable()).optional().describe('monthly spend limit per currency, micros; null removes it')
      })
    }
  }, async (request) => {
    const b = request.body
    const r = await setPlan(db, request.params.tenantId, {
      markupPercentBps: b.markup_percent_bps, markupPerMessageMicros: b.markup_per_message_micros, prepaid: b.prepaid, lowBalanceMicros: b.low_balance_micros, spendLimits: b.spend_limits
    }, clock())
    if (r.outbox > 0) opts.afterCommit()
    return planView(r.plan)
  })
}
