import t from 'tap'
import { z } from 'zod'
import { sanitizeUrl } from '../src/index.ts'
import { ADMIN_KEY, buildTestApp, captureLogs, OPS_ADMIN_KEY, TENANT_A_KEY } from './helpers.ts'

t.test('API keys and the Authorization header never reach a log line', async (t) => {
  const logs = captureLogs('trace')
  const a = await buildTestApp(t, { logger: logs.logger, rateLimit: { max: 2, timeWindow: 60_000 } })
  a.post('/v1/messages', { schema: { body: z.object({ to: z.string() }) } }, async () => ({ ok: true }))
  a.get('/v1/boom', async () => { throw new Error('kaput') })
  a.get('/v1/admin/x', { config: { auth: 'admin' } }, async () => ({ ok: true }))

  const secretBody = 'body-secret-should-not-be-logged-77'
  const calls = [
    { method: 'POST' as const, url: '/v1/messages', headers: { authorization: `Bearer ${TENANT_A_KEY}` }, payload: { to: '49123', secretBody } },
    { method: 'POST' as const, url: '/v1/messages', headers: { 'x-api-key': OPS_ADMIN_KEY }, payload: { to: 1 } },
    { method: 'GET' as const, url: '/v1/boom', headers: { authorization: `Bearer ${ADMIN_KEY}` } },
    { method: 'GET' as const, url: '/v1/admin/x', headers: { authorization: `Bearer ${TENANT_A_KEY}` } },
    { method: 'GET' as const, url: '/v1/admin/x', headers: { authorization: 'Bearer ck_unknown_key_abcdefabcdef0123' } },
    { method: 'GET' as const, url: `/v1/nowhere?api_key=${TENANT_A_KEY}&hub.verify_token=vt-secret-123&page=2` },
    { method: 'POST' as const, url: '/v1/messages', headers: { authorization: `Bearer ${TENANT_A_KEY}` }, payload: { to: '1' } }
  ]
  for (const c of calls) await a.inject(c)

  const text = logs.text()
  const lines = logs.lines()
  t.ok(lines.length >= calls.length, 'request lines were written')
  for (const secret of [TENANT_A_KEY, OPS_ADMIN_KEY, ADMIN_KEY, 'ck_unknown_key_abcdefabcdef0123', 'vt-secret-123', secretBody]) {
    t.notOk(text.includes(secret), `${secret.slice(0, 8)}… never logged`)
  }
  t.notMatch(text, /authorization|x-api-key/i, 'no header names either: headers are not logged')

  const completed = lines.filter((l) => l.msg === 'request completed')
  t.equal(completed.length, calls.length, 'one line per request')
  t.match(completed[0], { method: 'POST', url: '/v1/messages', route: '/v1/messages', statusCode: 200, responseTime: Number, reqId: String })
  t.match(completed.find((l) => l.route === undefined), { url: '/v1/nowhere?api_key=[REDACTED]&hub.verify_token=[REDACTED]&page=2', statusCode: 404 })
  t.ok(lines.some((l) => l.msg === 'request failed' && (l.err as { message?: string } | undefined)?.message === 'kaput'), 'errors logged with err')
})

t.test('sanitizeUrl redacts secret-named and token-like query values only', async (t) => {
  t.equal(sanitizeUrl('/v1/messages'), '/v1/messages')
  t.equal(sanitizeUrl('/v1/x?limit=10&tenant_id=t_1'), '/v1/x?limit=10&tenant_id=t_1')
  t.equal(sanitizeUrl('/webhooks?hub.mode=subscribe&hub.verify_token=abc&hub.challenge=123'), '/webhooks?hub.mode=subscribe&hub.verify_token=[REDACTED]&hub.challenge=[REDACTED]')
  t.equal(sanitizeUrl('/cb?code=xyz&state=1'), '/cb?code=[REDACTED]&state=1')
  t.equal(sanitizeUrl('/x?access_token=EAAG&apiKey=1&X-Api-Key=2'), '/x?access_token=[REDACTED]&apiKey=[REDACTED]&X-Api-Key=[REDACTED]')
  t.equal(sanitizeUrl('/x?after=QVFIUmxxYUNtYm9ZAGdUQU5CdWFhbW5TU0pR'), '/x?after=[REDACTED]', 'long token-like values too')
  t.equal(sanitizeUrl('/x?flag&q='), '/x?flag&q=')
})

t.test('the caller request id is kept when plain, replaced when not', async (t) => {
  const a = await buildTestApp(t)
  const kept = await a.inject({ method: 'GET', url: '/health/live', headers: { 'x-request-id': 'req-abc.123' } })
  t.equal(kept.headers['x-request-id'], 'req-abc.123')
  const replaced = await a.inject({ method: 'GET', url: '/health/live', headers: { 'x-request-id': 'bad id\u0000 with spaces' } })
  t.match(replaced.headers['x-request-id'], /^[0-9a-f-]{36}$/)
})
