import t from 'tap'
import { Writable } from 'node:stream'
import { createLogger, REDACTED } from '../src/index.ts'

function capture () {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write (chunk, _enc, cb) { for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l)); cb() }
  })
  return { lines, stream }
}

t.test('redacts secrets at any depth, in bindings and in messages', async (t) => {
  const { lines, stream } = capture()
  const log = createLogger({ level: 'info', name: 'test' }, stream)
  const token = 'EAAG' + 'x'.repeat(40)
  log.child({ accessToken: token }).info({
    request: { headers: { Authorization: 'Bearer abcdefghijkl', 'x-api-key': 'ck_live_123', 'X-Hub-Signature-256': 'sha256=ab' } },
    numbers: [{ access_token: token, id: '1' }],
    app_secret: 's3cret',
    note: `token ${token} seen`
  }, `sending with Bearer ${'y'.repeat(20)}`)
  const [line] = lines
  t.ok(line)
  const text = JSON.stringify(line)
  t.notMatch(text, token)
  t.notMatch(text, 'abcdefghijkl')
  t.notMatch(text, 'ck_live_123')
  t.notMatch(text, 's3cret')
  t.notMatch(text, 'y'.repeat(20))
  t.equal(line?.accessToken, REDACTED)
  t.equal((line?.request as any).headers.Authorization, REDACTED)
  t.equal((line?.numbers as any)[0].id, '1', 'non-secret fields stay')
  t.equal(line?.service, 'test')
})

t.test('errors keep their message and stack but lose secrets', async (t) => {
  const { lines, stream } = capture()
  const log = createLogger({}, stream)
  const err = Object.assign(new Error('graph call failed for Bearer zzzzzzzzzzzzzz'), { code: 'META_TOKEN_EXPIRED' })
  log.error({ err }, 'boom')
  const e = lines[0]?.err as Record<string, unknown>
  t.equal(e.code, 'META_TOKEN_EXPIRED')
  t.notMatch(String(e.message), 'zzzzzzzzzzzzzz')
  t.match(String(e.stack), /Error/)
})

t.test('the level is honoured', async (t) => {
  const { lines, stream } = capture()
  const log = createLogger({ level: 'warn' }, stream)
  log.info('hidden')
  log.warn('shown')
  t.same(lines.map((l) => l.msg), ['shown'])
})
