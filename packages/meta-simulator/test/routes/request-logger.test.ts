import { Writable } from 'node:stream'
import t from 'tap'
import { createLogger } from '@coexist/logger'
import { buildApp, Simulator } from '../../src/index.ts'
import { PNID, TOKEN, templateTo } from '../helpers.ts'

t.test('a silent logger serves every request itself: no per-request child', async (t) => {
  const logger = createLogger({ level: 'silent' })
  const app = buildApp({ sim: new Simulator(), logger })
  app.get('/_probe', async (request) => ({ own: request.log === app.log }))
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/_probe' })
  t.same(res.json(), { own: true })
})

t.test('a logger that writes still gets a child per request: error lines carry the reqId', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({ write (chunk: Buffer, _enc, done) { lines.push(JSON.parse(chunk.toString())); done() } })
  const logger = createLogger({ level: 'error' }, sink)
  const sim = new Simulator()
  sim.handleMessages = () => { throw new Error('boom') }
  const app = buildApp({ sim, logger })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'POST', url: `/v24.0/${PNID}/messages`, headers: { authorization: `Bearer ${TOKEN}` }, payload: templateTo('5511988887777') })
  t.equal(res.json().error.code, 131000)
  t.match(lines, [{ msg: 'simulator graph route failed', reqId: /^req-/ }])
})

t.test('POST under /_sim to an unknown path is the control API 404, not a Graph answer', async (t) => {
  const app = buildApp({ sim: new Simulator() })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'POST', url: '/_sim/x/messages', payload: {} })
  t.equal(res.statusCode, 404)
  t.match(res.json(), { code: 'SIM_NOT_FOUND' })
})
