import { parse } from 'csv-parse/sync'
import t from 'tap'
import { applyFacts } from '../../src/ledger/pricer.ts'
import type { Fact } from '../../src/ledger/facts.ts'
import { at } from '../helpers.ts'
import { ADMIN_KEY, appEnv, bearer, type AppEnv } from '../harness.ts'

async function traffic (env: AppEnv): Promise<void> {
  const T = at('2026-01-10T10:00:00Z')
  const msg = (wamid: string, pn: string, tenantId: string, to: string, category: string, ts: number): Fact[] => [
    { kind: 'send', wamid, tenantId, phoneNumberId: pn, recipient: to, categoryHint: category as never, isTemplate: category !== 'service', sentAt: ts },
    { kind: 'status', wamid, phoneNumberId: pn, wabaId: null, status: 'delivered', ts: ts + 1000, recipient: to, pricing: null }
  ]
  await env.db.insertInto('billing_tenant_plans').values({ tenant_id: env.tenantId, markup_percent_bps: 2000, markup_per_message_micros: 1000 }).execute()
  await applyFacts(env.pricer, [
    ...msg('wamid.A1', env.pn, env.tenantId, '5511988887777', 'marketing', T),
    ...msg('wamid.A2', env.pn2, env.tenantId, '919876543210', 'authentication', T + 60_000),
    ...msg('wamid.A3', env.pn, env.tenantId, '5511988887777', 'service', T + 120_000),
    ...msg('wamid.B1', env.otherPn, env.otherTenantId, '16505551234', 'marketing', T),
    ...msg('wamid.A4', env.pn, env.tenantId, '5511988887777', 'marketing', at('2026-02-02T10:00:00Z'))
  ])
}

t.test('tenants see their own usage and lines only; another tenant\'s is not found', async (t) => {
  const env = await appEnv(t)
  await traffic(env)
  const q = 'from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z'
  const mine = await env.inject({ method: 'GET', url: `/v1/billing/usage?${q}&group_by=phone_number,category,market`, headers: bearer(env.tenantKey) })
  t.equal(mine.statusCode, 200, mine.body)
  t.same(mine.json().data.map((r: Record<string, unknown>) => [r.phone_number, r.category, r.market, r.messages, r.charged, r.free, r.meta_cost, r.billed]), [
    [env.pn, 'marketing', 'Brazil', 1, 1, 0, '0.057', '0.0694'],
    [env.pn, 'service', 'Brazil', 1, 0, 1, '0.00', '0.00'],
    [env.pn2, 'authentication', 'India', 1, 1, 0, '0.006', '0.0082']
  ], 'Meta cost and billed price (+20 % and 0.001 per charged message)')
  const other = await env.inject({ method: 'GET', url: `/v1/billing/usage?${q}`, headers: bearer(env.otherTenantKey) })
  t.same(other.json().data.map((r: Record<string, unknown>) => [r.category, r.messages]), [['marketing', 1]])

  t.equal((await env.inject({ method: 'GET', url: '/v1/billing/ledger/wamid.B1', headers: bearer(env.tenantKey) })).statusCode, 404, 'another tenant\'s line is not found')
  t.equal((await env.inject({ method: 'GET', url: '/v1/billing/ledger/wamid.B1', headers: bearer(env.otherTenantKey) })).statusCode, 200)
  t.equal((await env.inject({ method: 'GET', url: `/v1/billing/usage?${q}&tenant_id=${env.otherTenantId}`, headers: bearer(env.tenantKey) })).statusCode, 404, 'naming another tenant is not found')
  t.equal((await env.inject({ method: 'GET', url: `/v1/billing/invoices/2026-01?tenant_id=${env.otherTenantId}`, headers: bearer(env.tenantKey) })).statusCode, 404)
  t.equal((await env.inject({ method: 'GET', url: `/v1/billing/balance?tenant_id=${env.otherTenantId}`, headers: bearer(env.tenantKey) })).statusCode, 404)
  t.equal((await env.inject({ method: 'GET', url: `/v1/billing/usage?${q}` })).statusCode, 401)

  const all = await env.inject({ method: 'GET', url: `/v1/billing/usage?${q}&group_by=tenant`, headers: bearer(ADMIN_KEY) })
  t.same(all.json().data.map((r: Record<string, unknown>) => [r.tenant, r.messages]).sort(), [[env.otherTenantId, 1], [env.tenantId, 3]].sort(), 'admin sees every tenant')

  const lines = await env.inject({ method: 'GET', url: `/v1/billing/ledger?${q}&limit=2`, headers: bearer(env.tenantKey) })
  t.same(lines.json().data.map((l: { wamid: string }) => l.wamid), ['wamid.A1', 'wamid.A2'])
  const next = await env.inject({ method: 'GET', url: `/v1/billing/ledger?${q}&limit=2&cursor=${lines.json().next_cursor as string}`, headers: bearer(env.tenantKey) })
  t.same(next.json().data.map((l: { wamid: string }) => l.wamid), ['wamid.A3'])
  t.equal(next.json().next_cursor, null)
})

t.test('invoice for a month as JSON and CSV', async (t) => {
  const env = await appEnv(t)
  await traffic(env)
  const json = await env.inject({ method: 'GET', url: '/v1/billing/invoices/2026-01', headers: bearer(env.tenantKey) })
  t.equal(json.statusCode, 200, json.body)
  const inv = json.json()
  t.match(inv, { tenant_id: env.tenantId, period: '2026-01', from: '2026-01-01T00:00:00.000Z', to: '2026-02-01T00:00:00.000Z', pending: 0, unpriced: 0 })
  t.same(inv.totals, [{ currency: 'USD', messages: 3, charged: 2, free: 1, meta_cost_micros: 63_000, billed_micros: 77_600, meta_cost: '0.063', billed: '0.0776' }])
  t.equal(inv.lines.length, 3)

  const csv = await env.inject({ method: 'GET', url: '/v1/billing/invoices/2026-01', headers: { ...bearer(env.tenantKey), accept: 'text/csv' } })
  t.match(csv.headers['content-type'], /^text\/csv/)
  t.match(csv.headers['content-disposition'], /invoice-.*-2026-01\.csv/)
  const rows = parse(csv.body, { columns: true }) as Record<string, string>[]
  t.equal(rows.length, 4)
  t.same(rows.at(-1), { tenant_id: env.tenantId, period: '2026-01', phone_number_id: 'TOTAL', category: '', market: '', currency: 'USD', messages: '3', charged: '2', free: '1', meta_cost: '0.063', billed: '0.0776' })
  const admin = await env.inject({ method: 'GET', url: '/v1/billing/invoices/2026-01?format=csv', headers: bearer(ADMIN_KEY) })
  t.equal(admin.statusCode, 400, 'an admin names the tenant')
})

t.test('top-ups are idempotent and admin-only; plans set markup and limits', async (t) => {
  const env = await appEnv(t)
  const body = { tenant_id: env.tenantId, currency: 'USD', amount: '25.50' }
  const first = await env.inject({ method: 'POST', url: '/v1/billing/topups', headers: { ...bearer(ADMIN_KEY), 'idempotency-key': 'k1' }, payload: body })
  t.equal(first.statusCode, 201, first.body)
  t.match(first.json(), { amount_micros: 25_500_000, amount: '25.50', balance: '25.50', state: 'OK' })
  const again = await env.inject({ method: 'POST', url: '/v1/billing/topups', headers: { ...bearer(ADMIN_KEY), 'idempotency-key': 'k1' }, payload: body })
  t.equal(again.statusCode, 200)
  t.equal(again.json().balance, '25.50', 'credited once')
  const conflict = await env.inject({ method: 'POST', url: '/v1/billing/topups', headers: { ...bearer(ADMIN_KEY), 'idempotency-key': 'k1' }, payload: { ...body, amount: '30' } })
  t.equal(conflict.statusCode, 409)
  t.equal((await env.inject({ method: 'POST', url: '/v1/billing/topups', headers: { ...bearer(env.tenantKey), 'idempotency-key': 'k2' }, payload: body })).statusCode, 403)

  const plan = await env.inject({ method: 'PUT', url: `/v1/billing/tenants/${env.tenantId}/plan`, headers: bearer(ADMIN_KEY), payload: { prepaid: true, markup_percent_bps: 1500, low_balance_micros: 30_000_000, spend_limits: { USD: 100_000_000 } } })
  t.equal(plan.statusCode, 200, plan.body)
  const bal = await env.inject({ method: 'GET', url: '/v1/billing/balance', headers: bearer(env.tenantKey) })
  t.match(bal.json(), { prepaid: true, data: [{ currency: 'USD', balance: '25.50', state: 'LOW', spend_limit_micros: 100_000_000, month_spend: '0.00' }] })
  const topups = await env.inject({ method: 'GET', url: '/v1/billing/topups', headers: bearer(env.tenantKey) })
  t.equal(topups.json().data.length, 1)
  const events = await env.db.selectFrom('billing_outbox').select(['topic', 'event_type']).execute()
  t.equal(events.length, 2, 'OK → LOW published (usage and balance topics)')
})
