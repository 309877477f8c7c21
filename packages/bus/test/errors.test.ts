import t from 'tap'
import { CoexistError } from '@coexist/errors'
import { BusErrors } from '../src/index.ts'

t.test('BUS_ codes are unique, prefixed and match their names', async (t) => {
  const codes = Object.values(BusErrors).map((f) => f.code)
  t.equal(new Set(codes).size, codes.length, 'unique')
  for (const [name, f] of Object.entries(BusErrors)) {
    t.equal(f.code, name)
    t.match(f.code, /^BUS_[A-Z0-9_]+$/)
    const err = f.create()
    t.type(err, CoexistError)
    t.equal(err.code, name)
    t.ok(f.spec.message.length > 0)
  }
})

t.test('publish failures are retryable, bad records are not', async (t) => {
  t.equal(BusErrors.BUS_PUBLISH_TIMEOUT.create().retryable, true)
  t.equal(BusErrors.BUS_PUBLISH_TIMEOUT.create().status, 503)
  t.equal(BusErrors.BUS_PUBLISH_FAILED.create().retryable, true)
  t.equal(BusErrors.BUS_RECORD_TOO_LARGE.create().retryable, false)
  t.equal(BusErrors.BUS_DECODE_FAILED.create().retryable, false)
})
