import t from 'tap'
import { CoexistError } from '@coexist/errors'
import { httpErrors } from '../src/index.ts'

t.test('HTTP_ codes are unique, prefixed, named after their key, with a client-facing status', async (t) => {
  const entries = Object.entries(httpErrors)
  t.ok(entries.length > 0)
  const codes = entries.map(([, f]) => f.code)
  t.equal(new Set(codes).size, codes.length, 'unique')
  for (const [name, factory] of entries) {
    t.equal(factory.code, name, `${name} carries its own name`)
    t.match(name, /^HTTP_[A-Z0-9_]+$/)
    t.ok(factory.spec.status !== undefined && factory.spec.status >= 400 && factory.spec.status <= 599, `${name} has an HTTP status`)
    t.ok(factory.spec.message.length > 0)
    const err = factory.create()
    t.type(err, CoexistError)
    t.equal(err.status, factory.spec.status)
  }
})

t.test('the codes the bootstrap answers with exist', async (t) => {
  for (const code of ['HTTP_VALIDATION', 'HTTP_INVALID_JSON', 'HTTP_PAYLOAD_TOO_LARGE', 'HTTP_UNSUPPORTED_MEDIA_TYPE', 'HTTP_NOT_FOUND',
    'HTTP_UNAUTHENTICATED', 'HTTP_FORBIDDEN', 'HTTP_TENANT_REQUIRED', 'HTTP_RATE_LIMITED', 'HTTP_INTERNAL']) {
    t.ok(code in httpErrors, code)
  }
  t.equal(httpErrors.HTTP_RATE_LIMITED.spec.retryable, true)
})
