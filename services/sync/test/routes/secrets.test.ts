import t from 'tap'
import { Writable } from 'node:stream'
import { randomBytes } from 'node:crypto'
import { createDb, createTokenCipher } from '@coexist/db'
import { createLogger } from '@coexist/logger'
import { createGraphClient } from '@coexist/meta'
import { startSimulator } from '@coexist/meta-simulator'
import { testDatabase } from '@coexist/testkit'
import { buildApp } from '../../src/app.ts'
import { ADMIN_KEY, bearer } from '../harness.ts'

t.test('access tokens are never logged, even at trace level, and never returned', async (t) => {
  const lines: string[] = []
  const sink = new Writable({ write (chunk: Buffer, _enc, cb) { lines.push(chunk.toString('utf8')); cb() } })
  const logger = createLogger({ level: 'trace', name: 'sync' }, sink)
  const { url } = await testDatabase(t)
  const db = createDb(url, { max: 2 })
  t.teardown(() => db.destroy())
  const sim = await startSimulator({ port: 0 })
  t.teardown(() => sim.close())
  const graph = createGraphClient({ baseUrl: sim.graphUrl, version: sim.graphVersion, logger })
  t.teardown(() => graph.close())
  const token = 'EAAG' + randomBytes(24).toString('hex')
  sim.control.configureNumber({ phoneNumberId: '620000000000701', wabaId: '310000000000701', displayPhoneNumber: '5511999990701', mode: 'coexistence', accessToken: token })
  const app = await buildApp({ db, logger, adminKey: ADMIN_KEY, cipher: createTokenCipher({ current: randomBytes(32) }), graph, rateLimit: false })
  t.teardown(() => app.close())
  const tenant = (await app.inject({ method: 'POST', url: '/v1/tenants', headers: bearer(ADMIN_KEY), payload: { name: 'x' } })).json()
  const q = `?tenant_id=${tenant.id as string}`
  await app.inject({ method: 'POST', url: `/v1/wabas${q}`, headers: bearer(ADMIN_KEY), payload: { id: '310000000000701', access_token: token } })
  const res = await app.inject({ method: 'POST', url: `/v1/numbers${q}`, headers: bearer(ADMIN_KEY), payload: { id: '620000000000701', waba_id: '310000000000701', display_phone_number: '5511999990701', mode: 'coexistence', access_token: token } })
  t.equal(res.statusCode, 201)
  const bad = await app.inject({ method: 'POST', url: `/v1/numbers${q}`, headers: bearer(ADMIN_KEY), payload: { id: 'x', access_token: token } })
  t.equal(bad.statusCode, 400)
  t.notOk(res.body.includes(token) || bad.body.includes(token), 'not in any answer')
  t.ok(lines.length > 0, 'the app did log')
  t.notOk(lines.some((l) => l.includes(token)), 'not in any log line')
})
