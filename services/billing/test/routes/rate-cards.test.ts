import t from 'tap'
import { applyFacts } from '../../src/ledger/pricer.ts'
import { SAMPLE_CSV, SAMPLE_TIERS_CSV, at } from '../helpers.ts'
import { ADMIN_KEY, appEnv, bearer } from '../harness.ts'

t.test('a rate card loads from Meta\'s CSV layout through the API, once per version', async (t) => {
  const env = await appEnv(t, { sampleCard: false })
  // A message delivered before any card exists waits as unpriced; loading the card prices it.
  const T = at('2026-01-10T10:00:00Z')
  await applyFacts(env.pricer, [
    { kind: 'send', wamid: 'wamid.A', tenantId: env.tenantId, phoneNumberId: env.pn, recipient: '5511988887777', categoryHint: 'marketing', isTemplate: true, sentAt: T },
    { kind: 'status', wamid: 'wamid.A', phoneNumberId: env.pn, wabaId: null, status: 'delivered', ts: T + 1000, recipient: '5511988887777', pricing: null }
  ])
  const load = await env.inject({
    method: 'POST',
    url: '/v1/billing/rate-cards',
    headers: bearer(ADMIN_KEY),
    payload: { version: 'sample-2026q1', effective_from: '2026-01-01', is_sample: true, rates_csv: SAMPLE_CSV, tiers_csv: SAMPLE_TIERS_CSV }
  })
  t.equal(load.statusCode, 201, load.body)
  const card = load.json()
  t.match(card, { version: 'sample-2026q1', currency: 'USD', effectiveFrom: '2026-01-01', isSample: true, created: true, repriced: 1, warnings: [] })
  const line = await env.inject({ method: 'GET', url: '/v1/billing/ledger/wamid.A', headers: bearer(env.tenantKey) })
  t.match(line.json(), { state: 'charged', unit_price: '0.057', rate_card_version: 'sample-2026q1' })

  const again = await env.inject({
    method: 'POST',
    url: '/v1/billing/rate-cards',
    headers: bearer(ADMIN_KEY),
    payload: { version: 'sample-2026q1', effective_from: '2026-01-01', is_sample: true, rates_csv: SAMPLE_CSV, tiers_csv: SAMPLE_TIERS_CSV }
  })
  t.equal(again.statusCode, 200, 'the same card again is a no-op')
  t.equal(again.json().id, card.id)

  const changed = await env.inject({
    method: 'POST',
    url: '/v1/billing/rate-cards',
    headers: bearer(ADMIN_KEY),
    payload: { version: 'sample-2026q1', effective_from: '2026-01-01', rates_csv: SAMPLE_CSV.replace('Brazil,USD,0.0570', 'Brazil,USD,0.0571') }
  })
  t.equal(changed.statusCode, 409, 'a version is immutable')
  t.equal(changed.json().code, 'BILL_RATE_CARD_CONFLICT')

  const csv = await env.inject({
    method: 'POST',
    url: '/v1/billing/rate-cards/csv?version=sample-2026q2&effective_from=2026-04-01&is_sample=true',
    headers: { ...bearer(ADMIN_KEY), 'content-type': 'text/csv' },
    payload: SAMPLE_CSV
  })
  t.equal(csv.statusCode, 201, csv.body)
  t.match(csv.json(), { version: 'sample-2026q2', effectiveFrom: '2026-04-01', rates: 32 * 6 + 9 })

  const list = await env.inject({ method: 'GET', url: '/v1/billing/rate-cards', headers: bearer(ADMIN_KEY) })
  t.same(list.json().data.map((c: { version: string }) => c.version), ['sample-2026q2', 'sample-2026q1'])
  const one = await env.inject({ method: 'GET', url: `/v1/billing/rate-cards/${card.id as string}`, headers: bearer(ADMIN_KEY) })
  t.match(one.json().rates.find((r: { market: string, category: string, tier_from: number }) => r.market === 'India' && r.category === 'utility' && r.tier_from === 101), { tier_to: 1000, unit_price: '0.0045' })
})

t.test('bad cards and callers are refused with a reason', async (t) => {
  const env = await appEnv(t, { sampleCard: false })
  const bad = await env.inject({
    method: 'POST',
    url: '/v1/billing/rate-cards/csv?version=v1&effective_from=2026-01-01',
    headers: { ...bearer(ADMIN_KEY), 'content-type': 'text/csv' },
    payload: 'Market,Currency,Marketing,Utility\nAtlantis,USD,0.1,0.2\n'
  })
  t.equal(bad.statusCode, 400)
  t.match(bad.headers['content-type'], /application\/problem\+json/)
  t.match(bad.json(), { code: 'BILL_RATE_CARD_INVALID' })
  t.match(bad.json().detail ?? bad.json(), /line|Atlantis/)
  const tenant = await env.inject({
    method: 'POST', url: '/v1/billing/rate-cards', headers: bearer(env.tenantKey), payload: { version: 'x', effective_from: '2026-01-01', rates_csv: SAMPLE_CSV }
  })
  t.equal(tenant.statusCode, 403, 'rate cards are admin-only')
  const json = await env.inject({
    method: 'POST',
    url: '/v1/billing/rate-cards',
    headers: bearer(ADMIN_KEY),
    payload: { version: 'json-1', currency: 'EUR', effective_from: '2026-02-15', rates: [{ market: 'Germany', category: 'marketing', unit_price: '0.1' }] }
  })
  t.equal(json.statusCode, 201)
  t.match(json.json().warnings, [/not a quarter start/, /no utility rates/, /no authentication rates/])
})
