import t from 'tap'
import { CoexistError, defineErrors, findCode, findCoexistError, hasCode } from '../src/index.ts'

const E = defineErrors('TST_', {
  TST_NOT_FOUND: { status: 404, message: 'not found' },
  TST_BUSY: { status: 503, message: 'busy', retryable: true, backoffMs: 1000 }
})

t.test('factories create coded errors with behaviour as data', async (t) => {
  const cause = new Error('low level')
  const err = E.TST_BUSY.create({ cause, detail: { id: 1 } })
  t.type(err, CoexistError)
  t.equal(err.code, 'TST_BUSY')
  t.equal(err.status, 503)
  t.equal(err.retryable, true)
  t.equal(err.backoffMs, 1000)
  t.equal(err.cause, cause)
  t.same(err.detail, { id: 1 })
  t.equal(E.TST_NOT_FOUND.create().retryable, false)
})

t.test('codes are found through the cause chain', async (t) => {
  const wrapped = new Error('outer', { cause: E.TST_NOT_FOUND.create() })
  t.ok(E.TST_NOT_FOUND.is(wrapped))
  t.ok(hasCode(wrapped, 'TST_NOT_FOUND'))
  t.notOk(E.TST_BUSY.is(wrapped))
  t.equal(findCode(wrapped), 'TST_NOT_FOUND')
  t.equal(findCoexistError(wrapped)?.status, 404)
  t.equal(findCode('nope'), undefined)
})

t.test('a code without the prefix is refused at definition', async (t) => {
  t.throws(() => defineErrors('TST_', { OTHER_X: { message: 'x' } }), /prefix TST_/)
  t.throws(() => defineErrors('TST_', { TST_lower: { message: 'x' } }), /SCREAMING_SNAKE/)
})
