import t from 'tap'
import { BillErrors } from '../src/errors.ts'

t.test('error codes are unique, prefixed and match their names', async (t) => {
  const codes = Object.entries(BillErrors).map(([name, f]) => { t.equal(f.code, name); return f.code })
  t.equal(new Set(codes).size, codes.length)
  for (const c of codes) t.match(c, /^BILL_[A-Z0-9_]+$/)
  const err = BillErrors.BILL_NOT_FOUND.create()
  t.equal(err.status, 404)
  t.ok(BillErrors.BILL_NOT_FOUND.is(new Error('wrapped', { cause: err })))
})
