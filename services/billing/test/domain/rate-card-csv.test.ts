import { readFileSync } from 'node:fs'
import t from 'tap'
import { hasCode } from '@coexist/errors'
import { mergeTiers, parseRateCardCsv, parseVolumeTiersCsv } from '../../src/domain/rate-card-csv.ts'

const sample = readFileSync(new URL('../../rate-cards/sample-usd-2026-01-01.csv', import.meta.url), 'utf8')
const sampleTiers = readFileSync(new URL('../../rate-cards/sample-usd-2026-01-01-tiers.csv', import.meta.url), 'utf8')

t.test('the shipped sample card parses in Meta\'s layout (preamble, multi-line header cell, n/a, Free)', async (t) => {
  const card = parseRateCardCsv(sample, 'USD')
  t.equal(card.currency, 'USD')
  const get = (m: string, c: string) => card.rates.find((r) => r.market === m && r.category === c)
  t.same(get('Brazil', 'marketing'), { market: 'Brazil', category: 'marketing', tierFrom: 1, tierTo: null, unitPriceMicros: 57_000 })
  t.equal(get('Brazil', 'marketing_lite')?.unitPriceMicros, 57_000, 'marketing_lite takes the marketing rate')
  t.equal(get('Brazil', 'service')?.unitPriceMicros, 0)
  t.equal(get('Brazil', 'authentication_international'), undefined, 'n/a: no rate')
  t.equal(get('India', 'authentication_international')?.unitPriceMicros, 34_000)
  t.equal(get('Rest of Central & Eastern Europe', 'utility') !== undefined, true)
  t.equal(new Set(card.rates.map((r) => r.market)).size, 32)
})

t.test('volume tiers merge over the list rates', async (t) => {
  const card = mergeTiers(parseRateCardCsv(sample), parseVolumeTiersCsv(sampleTiers))
  const bands = card.rates.filter((r) => r.market === 'India' && r.category === 'utility').sort((a, b) => a.tierFrom - b.tierFrom)
  t.same(bands.map((b) => [b.tierFrom, b.tierTo, b.unitPriceMicros]), [[1, 100, 5_000], [101, 1000, 4_500], [1001, null, 3_700]])
  t.equal(card.rates.filter((r) => r.market === 'India' && r.category === 'authentication_international').length, 3)
  t.equal(card.rates.filter((r) => r.market === 'Brazil' && r.category === 'marketing').length, 1, 'untiered categories keep their list rate')
  t.same(card.warnings, [])
})

t.test('Meta-style card with $US currency and CRLF', async (t) => {
  const csv = 'Cost per message in USD,,,,,,\r\nMarket,Currency,Marketing,Utility,Authentication,Authentication-International,Service\r\nIndonesia,$US,0.0411,0.0200,0.0300,0.1360,0.0190\r\nOther,$US,0.0604,0.0338,0.0304,n/a,0.0145\r\n'
  const card = parseRateCardCsv(csv)
  t.equal(card.currency, 'USD')
  t.equal(card.rates.find((r) => r.market === 'Indonesia' && r.category === 'service')?.unitPriceMicros, 19_000)
})

t.test('bad cards are refused with the line named', async (t) => {
  const bad = (csv: string, cur?: string) => { try { parseRateCardCsv(csv, cur); return undefined } catch (err) { return err as Error & { detail?: { line?: number } } } }
  const noHeader = bad('a,b\n1,2\n')
  t.ok(hasCode(noHeader, 'BILL_RATE_CARD_INVALID'))
  const unknown = bad('Market,Currency,Marketing,Utility\nAtlantis,USD,0.1,0.2\n')
  t.match(unknown?.message, /unknown market "Atlantis"/)
  t.equal(unknown?.detail?.line, 2)
  t.match(bad('Market,Currency,Marketing,Utility\nBrazil,EUR,0.1,0.2\n', 'USD')?.message, /currency EUR in a USD card/)
  t.match(bad('Market,Currency,Marketing,Utility\nBrazil,USD,zero,0.2\n')?.message, /is not a price/)
  t.match(bad('Market,Currency,Marketing,Utility\nBrazil,USD,0.1,0.2\nBrazil,USD,0.1,0.2\n')?.message, /appears twice/)
  t.match(bad('Market,Currency,Marketing,Utility\nBrazil,USD,0.1234567,0.2\n')?.message, /is not a price/, 'no silent rounding')
})

t.test('overlapping tiers are refused', async (t) => {
  const csv = 'Market,,Utility,,,,Authentication,,,\n,Currency,From,To,Rate type,Rate,From,To,Rate type,Rate\nBrazil,USD,0,100,List,0.01,0,100,List,0.02\n,USD,90,--,Tier,0.009,101,--,Tier,0.019\n'
  t.throws(() => parseVolumeTiersCsv(csv), /overlapping volume tiers for Brazil utility/)
})
