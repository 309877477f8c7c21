import t from 'tap'
import { billedPrice, formatMicros, parseDecimalMicros } from '../../src/domain/money.ts'

t.test('decimal text to micros, exactly', async (t) => {
  t.equal(parseDecimalMicros('0.0625'), 62_500)
  t.equal(parseDecimalMicros('586.33'), 586_330_000)
  t.equal(parseDecimalMicros('1,234.5'), 1_234_500_000)
  t.equal(parseDecimalMicros('0.000001'), 1)
  t.equal(parseDecimalMicros('-0.5'), -500_000)
  t.equal(parseDecimalMicros('0.0000001'), undefined, 'more than 6 decimals is refused, not rounded')
  t.equal(parseDecimalMicros('abc'), undefined)
  t.equal(parseDecimalMicros(''), undefined)
})

t.test('micros to decimal text', async (t) => {
  t.equal(formatMicros(62_500), '0.0625')
  t.equal(formatMicros(1_000_000), '1.00')
  t.equal(formatMicros(0), '0.00')
  t.equal(formatMicros(-1_500_000), '-1.50')
  t.equal(formatMicros(1), '0.000001')
})

t.test('markup on charged messages only, half up', async (t) => {
  t.equal(billedPrice(62_500, true, { percentBps: 1500, perMessageMicros: 0 }), 71_875)
  t.equal(billedPrice(3, true, { percentBps: 5000, perMessageMicros: 0 }), 5, '1.5 rounds up to 2')
  t.equal(billedPrice(62_500, true, { percentBps: 0, perMessageMicros: 2_000 }), 64_500)
  t.equal(billedPrice(0, false, { percentBps: 1500, perMessageMicros: 2_000 }), 0, 'free stays free')
})
