import t from 'tap'
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { UsageRecordSchema } from '@coexist/contracts'
import { encodeUsageRecord, type UsageRecordFields } from '../../src/ledger/usage-record.ts'

const charged: UsageRecordFields = {
  usageId: '0f5c1d7e9a2b4c6d8e0f1a2b3c4d5e6f',
  tenantId: '6f1c2f3e-1111-2222-3333-444455556666',
  phoneNumberId: '629000000000001',
  wamid: 'wamid.HBgLMTY1MDM4NzgyNjkVAgARGBI2QTlDNDhBNTRBRUE1QkU1NjAA',
  category: 'marketing',
  market: 'Brazil',
  pricingType: 'regular',
  billable: true,
  freeReason: '',
  currency: 'USD',
  metaCostMicros: 57_000,
  billedPriceMicros: 62_700,
  rateCardVersion: 'sample-2026q1',
  pricedAt: 1_768_910_400_000,
  wabaId: '319000000000001',
  messageSentAt: 1_768_478_400_000,
  revision: 1,
  tier: '101:1000',
  origin: 'api',
  country: 'BR'
}

const cases: Array<[string, UsageRecordFields]> = [
  ['a charged line', charged],
  ['a free line (defaults omitted)', { ...charged, billable: false, freeReason: 'service_window', metaCostMicros: 0, billedPriceMicros: 0, rateCardVersion: '', tier: '', country: '' }],
  ['every field at its default', { usageId: '', tenantId: '', phoneNumberId: '', wamid: '', category: '', market: '', pricingType: '', billable: false, freeReason: '', currency: '', metaCostMicros: 0, billedPriceMicros: 0, rateCardVersion: '', pricedAt: 0, wabaId: '', messageSentAt: 0, revision: 0, tier: '', origin: '', country: '' }],
  ['non-ASCII and long strings', { ...charged, market: 'Rest of Latin América ✓', rateCardVersion: 'ü'.repeat(70), wamid: 'w'.repeat(300), revision: 300 }],
  ['a negative price (a discount as markup) and large numbers', { ...charged, billedPriceMicros: -1_500, metaCostMicros: Number.MAX_SAFE_INTEGER, revision: 4_294_967_295 }]
]

for (const [name, r] of cases) {
  t.test(`${name}: the bytes of toBinary, and they decode to the same record`, async (t) => {
    const expected = toBinary(UsageRecordSchema, create(UsageRecordSchema, {
      ...r, metaCostMicros: BigInt(r.metaCostMicros), billedPriceMicros: BigInt(r.billedPriceMicros), pricedAt: BigInt(r.pricedAt), messageSentAt: BigInt(r.messageSentAt)
    }))
    const got = encodeUsageRecord(r)
    t.same(Buffer.from(got).toString('hex'), Buffer.from(expected).toString('hex'))
    const back = fromBinary(UsageRecordSchema, got)
    t.match(back, { ...r, metaCostMicros: BigInt(r.metaCostMicros), billedPriceMicros: BigInt(r.billedPriceMicros), pricedAt: BigInt(r.pricedAt), messageSentAt: BigInt(r.messageSentAt) })
  })
}

t.test('each record owns its bytes (the encoder reuses a scratch buffer)', async (t) => {
  const a = encodeUsageRecord(charged)
  const copy = Buffer.from(a)
  encodeUsageRecord({ ...charged, wamid: 'wamid.other', market: 'India' })
  t.same(a, copy)
})
