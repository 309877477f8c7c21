import t from 'tap'
import { Counter, HTTP_DURATION_METRIC, Registry } from '../src/index.ts'
import { bearer, buildTestApp, TENANT_A_KEY } from './helpers.ts'

t.test('GET /metrics: process metrics and request durations by route pattern, method and status', async (t) => {
  const a = await buildTestApp(t)
  a.get('/v1/items/:id', async () => ({ ok: true }))
  await a.inject({ method: 'GET', url: '/v1/items/1', headers: bearer(TENANT_A_KEY) })
  await a.inject({ method: 'GET', url: '/v1/items/2', headers: bearer(TENANT_A_KEY) })
  await a.inject({ method: 'GET', url: '/v1/items/3' })
  await a.inject({ method: 'GET', url: '/no/such/route/abc123' })

  const res = await a.inject({ method: 'GET', url: '/metrics' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const text = res.body
  t.match(text, /^process_cpu_user_seconds_total \d/m)
  t.match(text, /^nodejs_eventloop_lag_seconds /m)
  t.match(text, new RegExp(`^# TYPE ${HTTP_DURATION_METRIC} histogram`, 'm'))
  t.match(text, new RegExp(`^${HTTP_DURATION_METRIC}_count\\{method="GET",route="/v1/items/:id",status_code="200"\\} 2$`, 'm'))
  t.match(text, new RegExp(`^${HTTP_DURATION_METRIC}_count\\{method="GET",route="/v1/items/:id",status_code="401"\\} 1$`, 'm'))
  t.match(text, new RegExp(`^${HTTP_DURATION_METRIC}_count\\{method="GET",route="unmatched",status_code="404"\\} 1$`, 'm'))
  t.notMatch(text, /abc123|\/v1\/items\/1/, 'raw URLs never become label values')
})

t.test('app.metrics takes service metrics; a registry can be passed in and reused', async (t) => {
  const registry = new Registry()
  const a = await buildTestApp(t, { metrics: registry })
  t.equal(a.metrics, registry)
  const sent = new Counter({ name: 'coexist_test_sent_total', help: 'test counter', registers: [a.metrics] })
  sent.inc(3)
  t.match((await a.inject({ method: 'GET', url: '/metrics' })).body, /^coexist_test_sent_total 3$/m)
  // A second app on the same registry (tests, or two listeners) must not throw on duplicates.
  const b = await buildTestApp(t, { metrics: registry })
  t.equal((await b.inject({ method: 'GET', url: '/metrics' })).statusCode, 200)
})
