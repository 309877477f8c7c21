import t from 'tap'
import { PROBLEM_CONTENT_TYPE } from '../src/index.ts'
import { bearer, buildTestApp, TENANT_A_KEY, TENANT_B_KEY } from './helpers.ts'

t.test('over max: 429 HTTP_RATE_LIMITED as problem+json with Retry-After', async (t) => {
  const a = await buildTestApp(t, { rateLimit: { max: 3, timeWindow: '1 minute' } })
  a.get('/v1/things', async () => ({ ok: true }))
  for (let i = 0; i < 3; i++) {
    const res = await a.inject({ method: 'GET', url: '/v1/things', headers: bearer(TENANT_A_KEY) })
    t.equal(res.statusCode, 200, `request ${i + 1}`)
    t.equal(res.headers['x-ratelimit-remaining'], String(2 - i))
  }
  const res = await a.inject({ method: 'GET', url: '/v1/things', headers: bearer(TENANT_A_KEY) })
  t.equal(res.statusCode, 429)
  t.match(res.headers['content-type'], PROBLEM_CONTENT_TYPE)
  t.match(res.json(), { code: 'HTTP_RATE_LIMITED', status: 429, limit: 3 })
  t.ok(Number(res.headers['retry-after']) > 0)
  t.equal(res.json().retryAfterSeconds, Number(res.headers['retry-after']))
})

t.test('limits are per API key when authenticated, per IP otherwise', async (t) => {
  const a = await buildTestApp(t, { rateLimit: { max: 2, timeWindow: 60_000 } })
  a.get('/v1/things', async () => ({ ok: true }))
  a.get('/v1/open', { config: { auth: 'none' } }, async () => ({ ok: true }))
  const get = async (headers: Record<string, string>, url = '/v1/things', remoteAddress = '10.0.0.1'): Promise<number> =>
    (await a.inject({ method: 'GET', url, headers, remoteAddress })).statusCode
  t.same([await get(bearer(TENANT_A_KEY)), await get(bearer(TENANT_A_KEY)), await get(bearer(TENANT_A_KEY))], [200, 200, 429])
  // Another key from the same address has its own budget.
  t.same([await get(bearer(TENANT_B_KEY)), await get(bearer(TENANT_B_KEY)), await get(bearer(TENANT_B_KEY))], [200, 200, 429])
  // Anonymous requests (and key guessing) count by IP.
  t.same([await get({}, '/v1/open'), await get({}, '/v1/open'), await get({}, '/v1/open')], [200, 200, 429])
  t.same([await get(bearer('ck_guess_00000000000000000'), '/v1/things', '10.0.0.2'), await get(bearer('ck_guess_1111111111111'), '/v1/things', '10.0.0.2'), await get(bearer('ck_guess_2222222222'), '/v1/things', '10.0.0.2')], [401, 401, 429])
  t.equal(await get({}, '/v1/open', '10.0.0.3'), 200, 'another address is unaffected')
})

t.test('health and metrics are exempt; rateLimit: false disables it', async (t) => {
  const limited = await buildTestApp(t, { rateLimit: { max: 1, timeWindow: 60_000 } })
  for (let i = 0; i < 3; i++) t.equal((await limited.inject({ method: 'GET', url: '/metrics' })).statusCode, 200)
  const open = await buildTestApp(t, { rateLimit: false })
  open.get('/v1/things', async () => ({ ok: true }))
  for (let i = 0; i < 10; i++) t.equal((await open.inject({ method: 'GET', url: '/v1/things', headers: bearer(TENANT_A_KEY) })).statusCode, 200)
})
