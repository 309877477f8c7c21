import t from 'tap'
import { buildTestApp } from './helpers.ts'

t.test('live is 200 while serving; ready is 200 with each check when all pass', async (t) => {
  const a = await buildTestApp(t, { readiness: { postgres: async () => true, kafka: async () => true } })
  const live = await a.inject({ method: 'GET', url: '/health/live' })
  t.equal(live.statusCode, 200)
  t.equal(live.headers['cache-control'], 'no-store')
  t.not(live.headers.connection, 'close')
  const ready = await a.inject({ method: 'GET', url: '/health/ready' })
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ready', checks: { postgres: 'ok', kafka: 'ok' } })
})

t.test('ready follows its checks: false, a throw and a timeout are failures, named', async (t) => {
  let kafkaUp = false
  const a = await buildTestApp(t, {
    readinessTimeoutMs: 50,
    readiness: {
      postgres: async () => true,
      kafka: async () => kafkaUp,
      redis: async () => { throw new Error('ECONNREFUSED') },
      slow: async () => await new Promise<boolean>(() => {})
    }
  })
  const down = await a.inject({ method: 'GET', url: '/health/ready' })
  t.equal(down.statusCode, 503)
  t.same(down.json(), { status: 'not_ready', checks: { postgres: 'ok', kafka: 'failed', redis: 'failed', slow: 'timeout' }, failed: ['kafka', 'redis', 'slow'] })
  kafkaUp = true
  t.same((await a.inject({ method: 'GET', url: '/health/ready' })).json().failed, ['redis', 'slow'])
})

t.test('a failed check recovers: 503 then 200', async (t) => {
  let up = false
  const a = await buildTestApp(t, { readiness: { postgres: async () => up } })
  t.equal((await a.inject({ method: 'GET', url: '/health/ready' })).statusCode, 503)
  up = true
  t.equal((await a.inject({ method: 'GET', url: '/health/ready' })).statusCode, 200)
})

t.test('markNotReady: ready answers 503 shutting_down for good, live stays 200', async (t) => {
  let calls = 0
  const a = await buildTestApp(t, { readiness: { postgres: async () => { calls++; return true } } })
  t.equal((await a.inject({ method: 'GET', url: '/health/ready' })).statusCode, 200)
  a.markNotReady()
  const res = await a.inject({ method: 'GET', url: '/health/ready' })
  t.equal(res.statusCode, 503)
  t.same(res.json(), { status: 'shutting_down', checks: {} })
  t.equal(calls, 1, 'checks no longer run')
  const live = await a.inject({ method: 'GET', url: '/health/live' })
  t.equal(live.statusCode, 200)
  t.equal(live.headers.connection, 'close', 'keep-alive clients are told to go')
})

t.test('health needs no key and is not rate limited', async (t) => {
  const a = await buildTestApp(t, { rateLimit: { max: 1, timeWindow: 60_000 } })
  for (let i = 0; i < 5; i++) {
    t.equal((await a.inject({ method: 'GET', url: '/health/live' })).statusCode, 200)
    t.equal((await a.inject({ method: 'GET', url: '/health/ready' })).statusCode, 200)
  }
})
