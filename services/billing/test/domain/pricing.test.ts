import t from 'tap'
import { CSW_MS, HOUR_MS, cardFor, classifyOwn, parseTier, settle, unitPrice, windowsAt, type MetaPricing, type RateCard } from '../../src/domain/pricing.ts'

const H = HOUR_MS
const none = { csw: false, fep: false }
const meta = (type: MetaPricing['type'], category: MetaPricing['category'], billable: boolean | null = type === 'regular'): MetaPricing => ({ model: 'PMP', type, category, billable })

t.test('windows: the 24 h service window and the 72 h free entry point window', async (t) => {
  const inbound = [{ ts: 10 * H, entryPoint: false }]
  t.same(windowsAt(inbound, [], 10 * H), { csw: true, fep: false })
  t.same(windowsAt(inbound, [], 10 * H + CSW_MS - 1), { csw: true, fep: false })
  t.same(windowsAt(inbound, [], 10 * H + CSW_MS), { csw: false, fep: false }, 'closes after exactly 24 h')
  t.same(windowsAt(inbound, [], 9 * H), { csw: false, fep: false }, 'a later user message does not open a window in the past')
  const ad = [{ ts: 0, entryPoint: true }]
  t.same(windowsAt(ad, [5 * H], 5 * H), { csw: true, fep: true }, 'the reply within 24 h opens the FEP window and is free')
  t.same(windowsAt(ad, [5 * H], 60 * H), { csw: false, fep: true }, 'FEP runs 72 h from the reply, beyond the CSW')
  t.same(windowsAt(ad, [5 * H], 77 * H), { csw: false, fep: false })
  t.same(windowsAt(ad, [25 * H], 25 * H), { csw: false, fep: false }, 'a reply after 24 h opens no FEP window')
})

t.test('own classification', async (t) => {
  t.same(classifyOwn('business_app', null, null, none), { category: 'service', billable: false, freeReason: 'business_app' })
  t.same(classifyOwn('api', 'marketing', true, { csw: true, fep: false }), { category: 'marketing', billable: true, freeReason: null }, 'marketing is charged even in the window')
  t.same(classifyOwn('api', 'utility', true, { csw: true, fep: false }), { category: 'utility', billable: false, freeReason: 'utility_in_window' })
  t.same(classifyOwn('api', 'utility', true, none), { category: 'utility', billable: true, freeReason: null })
  t.same(classifyOwn('api', 'authentication', true, { csw: true, fep: false }), { category: 'authentication', billable: true, freeReason: null })
  t.same(classifyOwn('api', 'service', false, { csw: true, fep: false }), { category: 'service', billable: false, freeReason: 'service_window' })
  t.same(classifyOwn('api', 'marketing', true, { csw: true, fep: true }), { category: 'referral_conversion', billable: false, freeReason: 'free_entry_point' })
  t.same(classifyOwn('unknown', null, null, none), { category: null, billable: null, freeReason: null })
})

t.test('settlement: charged only when Meta charges, i.e. delivered templates', async (t) => {
  const own = classifyOwn('api', 'marketing', true, none)
  t.match(settle('api', 'pending', own, null), { state: 'pending', category: 'marketing', source: 'own' })
  t.match(settle('api', 'delivered', own, null), { state: 'charged', category: 'marketing', pricingType: 'regular' })
  t.match(settle('api', 'failed', own, null), { state: 'free', freeReason: 'not_delivered' })
  t.match(settle('api', 'delivered', own, meta('free_customer_service', 'utility')), { state: 'free', category: 'utility', freeReason: 'utility_in_window', source: 'meta' }, 'Meta\'s pricing decides')
  t.match(settle('api', 'delivered', classifyOwn('api', 'service', false, none), meta('regular', 'marketing')), { state: 'charged', category: 'marketing', source: 'meta' })
  t.match(settle('api', 'delivered', own, meta('free_entry_point', 'referral_conversion')), { state: 'free', freeReason: 'free_entry_point' })
  t.match(settle('api', 'delivered', own, meta(null, 'marketing', true)), { state: 'charged', source: 'meta' }, 'billable flag when type is missing')
  t.match(settle('api', 'delivered', own, { model: 'CBP', type: null, category: 'marketing', billable: false }), { state: 'charged', source: 'own' }, 'CBP objects are ignored')
  t.match(settle('business_app', 'delivered', own, meta('regular', 'marketing')), { state: 'free', freeReason: 'business_app' }, 'app messages are never charged')
  t.match(settle('unknown', 'delivered', classifyOwn('unknown', null, null, none), null), { state: 'pending', source: 'none' })
})

t.test('rate cards: effective dates and volume bands', async (t) => {
  const card = (id: string, effectiveFrom: string, seq: number, price: number): RateCard => ({
    id,
    version: id,
    currency: 'USD',
    effectiveFrom,
    seq,
    rates: new Map([['India|utility', [{ tierFrom: 1, tierTo: 100, unitPriceMicros: price }, { tierFrom: 101, tierTo: null, unitPriceMicros: price - 1000 }]]])
  })
  const cards = [card('q4', '2025-10-01', 1, 5000), card('q1', '2026-01-01', 2, 4000), card('q1b', '2026-01-01', 3, 3900)]
  t.equal(cardFor(cards, 'USD', '2025-12-31')?.id, 'q4')
  t.equal(cardFor(cards, 'USD', '2026-01-01')?.id, 'q1b', 'the last load of a date wins')
  t.equal(cardFor(cards, 'EUR', '2026-01-01'), undefined)
  t.equal(cardFor(cards, 'USD', '2025-09-30'), undefined)
  const q1 = cards[1]!
  t.same(unitPrice(q1, 'India', 'utility', 100), { unitPriceMicros: 4000, tier: '1:100' })
  t.same(unitPrice(q1, 'India', 'utility', 101), { unitPriceMicros: 3000, tier: '101:MAX' })
  t.equal(unitPrice(q1, 'India', 'marketing', 1), undefined)
  t.same(parseTier('25000001:50000000'), { lower: 25000001, upper: 50000000 })
  t.same(parseTier('0:MAX'), { lower: 1, upper: null })
  t.equal(parseTier('x'), undefined)
})
