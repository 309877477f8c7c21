import t from 'tap'
import { IngressErrors } from '../src/errors.ts'

t.test('error codes are unique, prefixed and match their names; statuses are what Meta needs', async (t) => {
  const codes = Object.entries(IngressErrors).map(([name, f]) => { t.equal(f.code, name); return f.code })
  t.equal(new Set(codes).size, codes.length)
  for (const c of codes) t.match(c, /^ING_[A-Z0-9_]+$/)
  t.equal(IngressErrors.ING_SIGNATURE_INVALID.create().status, 401)
  t.equal(IngressErrors.ING_VERIFICATION_FAILED.create().status, 403)
  const unavailable = IngressErrors.ING_KAFKA_UNAVAILABLE.create()
  t.equal(unavailable.status, 503, 'anything but 200 makes Meta retry; 503 says so')
  t.equal(unavailable.retryable, true)
  t.ok(IngressErrors.ING_KAFKA_UNAVAILABLE.is(new Error('wrapped', { cause: unavailable })))
})
