/**
 * Reconciliation in totals with Meta's pricing_analytics. The simulator has no pricing_analytics
 * endpoint yet, so Meta is stood in for here by a local HTTP server answering that one call in
 * Meta's documented shape; the Graph client is the real one.
 */
import { once } from 'node:events'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { createGraphClient } from '@coexist/meta'
import { applyFacts } from '../../src/ledger/pricer.ts'
import type { Fact } from '../../src/ledger/facts.ts'
import { at } from '../helpers.ts'
import { ADMIN_KEY, appEnv, bearer } from '../harness.ts'

async function metaStandIn (t: Test, answer: (req: IncomingMessage) => [number, unknown]): Promise<{ url: string, seen: IncomingMessage[] }> {
  const seen: IncomingMessage[] = []
  const server = createServer((req, res) => {
    seen.push(req)
    const [status, body] = answer(req)
    const text = JSON.stringify(body)
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}

const POINTS = [
  { start: 1767225600, end: 1767312000, pricing_type: 'REGULAR', pricing_category: 'MARKETING', tier: '0:MAX', volume: 2, cost: 0.114 },
  { start: 1767225600, end: 1767312000, pricing_type: 'FREE_CUSTOMER_SERVICE', pricing_category: 'UTILITY', volume: 1, cost: 0 },
  // Meta counts one authentication message more than we saw.
  { start: 1767225600, end: 1767312000, pricing_type: 'REGULAR', pricing_category: 'AUTHENTICATION', tier: '0:250000', volume: 2, cost: 0.012 }
]

t.test('Meta\'s pricing analytics compared with the ledger in totals', async (t) => {
  let refuse = false
  const meta = await metaStandIn(t, () => refuse
    ? [400, { error: { message: 'Cost not available', type: 'OAuthException', code: 100, fbtrace_id: 'A1' } }]
    : [200, { id: 'x', pricing_analytics: { data: [{ data_points: POINTS }] } }])
  const graph = createGraphClient({ baseUrl: meta.url, version: 'v24.0', timeoutMs: 2000 })
  t.teardown(() => graph.close())
  const env = await appEnv(t, { graph })
  const T = at('2026-01-05T10:00:00Z')
  const BR = '5511988887777'
  const msg = (wamid: string, category: string, ts: number, type: string): Fact[] => [
    { kind: 'send', wamid, tenantId: env.tenantId, phoneNumberId: env.pn, recipient: BR, categoryHint: category as never, isTemplate: true, sentAt: ts },
    { kind: 'status', wamid, phoneNumberId: env.pn, wabaId: env.wabaId, status: 'delivered', ts: ts + 1000, recipient: BR, pricing: { model: 'PMP', type: type as never, category: category as never, billable: type === 'regular' } }
  ]
  await applyFacts(env.pricer, [
    ...msg('wamid.1', 'marketing', T, 'regular'), ...msg('wamid.2', 'marketing', T + 60_000, 'regular'),
    ...msg('wamid.3', 'utility', T + 120_000, 'free_customer_service'), ...msg('wamid.4', 'authentication', T + 180_000, 'regular')
  ])

  const body = { waba_id: env.wabaId, from: '2026-01-01T00:00:00Z', to: '2026-02-01T00:00:00Z', granularity: 'DAILY' }
  const r = await env.inject({ method: 'POST', url: '/v1/billing/reconciliation/analytics', headers: bearer(env.tenantKey), payload: body })
  t.equal(r.statusCode, 200, r.body)
  const c = r.json()
  t.same(c.rows.map((x: { pricing_type: string, category: string, meta: { volume: number, cost: string }, ours: { volume: number, cost: string } }) =>
    [x.pricing_type, x.category, x.meta.volume, x.meta.cost, x.ours.volume, x.ours.cost]), [
    ['free_customer_service', '*', 1, '0.00', 1, '0.00'],
    ['regular', 'authentication', 2, '0.012', 1, '0.018'],
    ['regular', 'marketing', 2, '0.114', 2, '0.114']
  ])
  t.equal(c.mismatches, 1, 'the authentication volume differs')
  t.match(c.totals, { meta: { volume: 5, cost: '0.126' }, ours: { volume: 4, cost: '0.132' }, diff: { volume: -1 } })
  const url = decodeURIComponent(meta.seen[0]?.url ?? '')
  t.equal(url, `/v24.0/${env.wabaId}?fields=pricing_analytics.start(1767225600).end(1769904000).granularity(DAILY).dimensions(PRICING_CATEGORY,PRICING_TYPE)`)
  t.equal(meta.seen[0]?.headers.authorization, 'Bearer EAAtesttokenaaaaaaaaaaaaaaaaaaaaa', 'the stored token of a number of the WABA')
  const runs = await env.db.selectFrom('billing_analytics_runs').select(['waba_id', 'tenant_id']).execute()
  t.same(runs, [{ waba_id: env.wabaId, tenant_id: env.tenantId }], 'the run is kept')

  t.equal((await env.inject({ method: 'POST', url: '/v1/billing/reconciliation/analytics', headers: bearer(env.otherTenantKey), payload: body })).statusCode, 404, 'another tenant\'s WABA')
  const noToken = await env.inject({ method: 'POST', url: '/v1/billing/reconciliation/analytics', headers: bearer(ADMIN_KEY), payload: { ...body, waba_id: env.otherWabaId } })
  t.equal(noToken.statusCode, 422)
  t.equal(noToken.json().code, 'BILL_NO_TOKEN')
  refuse = true
  const refused = await env.inject({ method: 'POST', url: '/v1/billing/reconciliation/analytics', headers: bearer(env.tenantKey), payload: body })
  t.equal(refused.statusCode, 502)
  t.equal(refused.json().code, 'BILL_ANALYTICS_FAILED')
})
