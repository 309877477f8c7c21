/**
 * A prepaid tenant running out: billing publishes TenantBalanceEvent EXHAUSTED on
 * wa.billing.usage.v1 (and wa.billing.balance.v1) for the outbound sender, which then refuses the
 * tenant's paid sends with 402. Service replies inside the window are free, so they are never
 * what exhausts a balance, stay allowed, and move nothing here. A top-up restores OK.
 */
import t from 'tap'
import { BalanceState } from '@coexist/contracts'
import { inboundTextWebhook, pricing, statusWebhook } from '@coexist/meta/fixtures'
import { ADMIN_KEY, bearer, billingEnv, type BillingEnv } from './harness.ts'

const BR = '5511988887777'
const sec = (iso: string): string => String(Math.floor(Date.parse(iso) / 1000))

async function deliver (env: BillingEnv, wamid: string, category: string, at: string, meta?: [string, string]): Promise<void> {
  const scope = { phoneNumberId: env.pn, wabaId: env.wabaId }
  await env.publishResult({ wamid, tenantId: env.tenantId, phoneNumberId: env.pn, recipient: BR, category, sentAt: Date.parse(at) })
  await env.publishBody(statusWebhook({ ...scope, wamid, status: 'delivered', recipientId: BR, timestamp: sec(at), pricing: meta === undefined ? undefined : pricing(meta[1], meta[0]) }))
}

t.test('zero balance: EXHAUSTED is published; free service replies stay free; a top-up restores OK', async (t) => {
  const env = await billingEnv(t, { now: Date.parse('2026-01-10T12:00:00Z') })
  t.equal((await env.inject({ method: 'PUT', url: `/v1/billing/tenants/${env.tenantId}/plan`, headers: bearer(ADMIN_KEY), payload: { prepaid: true } })).statusCode, 200)
  const topup = await env.inject({ method: 'POST', url: '/v1/billing/topups', headers: { ...bearer(ADMIN_KEY), 'idempotency-key': 'first' }, payload: { tenant_id: env.tenantId, currency: 'USD', amount: '0.10' } })
  t.equal(topup.json().state, 'OK')

  await deliver(env, 'wamid.P1', 'marketing', '2026-01-10T10:00:00Z', ['regular', 'marketing'])
  await env.caughtUp()
  t.match((await env.inject({ method: 'GET', url: '/v1/billing/balance', headers: bearer(env.tenantKey) })).json().data, [{ balance: '0.043', state: 'OK' }])
  await deliver(env, 'wamid.P2', 'marketing', '2026-01-10T10:05:00Z', ['regular', 'marketing'])
  await env.caughtUp()
  t.match((await env.inject({ method: 'GET', url: '/v1/billing/balance', headers: bearer(env.tenantKey) })).json().data, [{ balance_micros: -14_000, state: 'EXHAUSTED' }])

  const events = (await env.published('billing.usage')).filter((e) => e.eventType === 'billing.balance_changed')
  t.equal(events.length, 1)
  t.equal(events[0]?.key, env.tenantId, 'keyed by tenant')
  t.match(events[0]?.balance, { tenantId: env.tenantId, state: BalanceState.EXHAUSTED, previousState: BalanceState.OK, currency: 'USD', balanceMicros: -14_000n })
  const onBalanceTopic = await env.published('billing.balance')
  t.equal(onBalanceTopic.length, 1, 'also on wa.billing.balance.v1')

  // The customer writes; the reply inside the window is free and moves nothing.
  await env.publishBody(inboundTextWebhook({ phoneNumberId: env.pn, wabaId: env.wabaId, from: BR, wamid: 'wamid.IN', timestamp: sec('2026-01-10T11:00:00Z') }))
  await env.caughtUp()
  await deliver(env, 'wamid.S1', 'service', '2026-01-10T11:01:00Z')
  await env.caughtUp()
  const s1 = (await env.inject({ method: 'GET', url: '/v1/billing/ledger/wamid.S1', headers: bearer(env.tenantKey) })).json()
  t.match(s1, { state: 'free', free_reason: 'service_window', billed_price_micros: 0 })
  t.match((await env.inject({ method: 'GET', url: '/v1/billing/balance', headers: bearer(env.tenantKey) })).json().data, [{ balance_micros: -14_000, state: 'EXHAUSTED' }])

  const again = await env.inject({ method: 'POST', url: '/v1/billing/topups', headers: { ...bearer(ADMIN_KEY), 'idempotency-key': 'second' }, payload: { tenant_id: env.tenantId, currency: 'USD', amount: '5' } })
  t.match(again.json(), { balance: '4.986', state: 'OK' })
  await env.runtime.relay.drain()
  const all = (await env.published('billing.balance')).map((e) => e.balance?.state)
  t.same(all, [BalanceState.EXHAUSTED, BalanceState.OK])
})

t.test('a monthly spend limit exhausts a postpaid tenant', async (t) => {
  const env = await billingEnv(t, { now: Date.parse('2026-01-10T12:00:00Z') })
  await env.inject({ method: 'PUT', url: `/v1/billing/tenants/${env.tenantId}/plan`, headers: bearer(ADMIN_KEY), payload: { spend_limits: { USD: 100_000 } } })
  await deliver(env, 'wamid.L1', 'marketing', '2026-01-10T10:00:00Z', ['regular', 'marketing'])
  await deliver(env, 'wamid.L2', 'marketing', '2026-01-10T10:01:00Z', ['regular', 'marketing'])
  await env.caughtUp()
  t.match((await env.inject({ method: 'GET', url: '/v1/billing/balance', headers: bearer(env.tenantKey) })).json().data, [{ state: 'EXHAUSTED', month_spend_micros: 114_000, spend_limit_micros: 100_000 }])
  const events = await env.published('billing.balance')
  t.same(events.map((e) => e.balance?.state), [BalanceState.EXHAUSTED])
})
