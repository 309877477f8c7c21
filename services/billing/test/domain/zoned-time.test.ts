import t from 'tap'
import { isTimeZone, localDate, localMonth } from '../../src/domain/zoned-time.ts'

t.test('dates and months in the WABA timezone', async (t) => {
  const ms = Date.UTC(2026, 0, 1, 2, 30) // 2026-01-01 02:30 UTC
  t.equal(localDate(ms), '2026-01-01')
  t.equal(localDate(ms, 'America/Sao_Paulo'), '2025-12-31', 'still December in São Paulo (UTC-3)')
  t.equal(localMonth(ms, 'America/Sao_Paulo'), '2025-12')
  t.equal(localDate(ms, 'Asia/Kolkata'), '2026-01-01')
  t.equal(localDate(Date.UTC(2025, 11, 31, 19, 0), 'Asia/Kolkata'), '2026-01-01', '00:30 on New Year in India')
  t.ok(isTimeZone('Asia/Kolkata'))
  t.notOk(isTimeZone('Mars/Olympus'))
})
