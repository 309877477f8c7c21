import { defineErrors } from '@coexist/errors'
import t, { type Test } from 'tap'
import { z } from 'zod'
import { PROBLEM_CONTENT_TYPE, type FastifyPluginAsyncZod, type HttpApp } from '../src/index.ts'
import { buildTestApp, captureLogs, TENANT_A_KEY } from './helpers.ts'

const TestErrors = defineErrors('TST_', {
  TST_NUMBER_NOT_FOUND: { status: 404, message: 'phone number not found' },
  TST_UPSTREAM_DOWN: { status: 503, message: 'upstream unavailable', retryable: true }
})

const Template = z.object({
  template: z.object({
    name: z.string().min(1),
    language: z.object({ code: z.string().length(2) })
  }),
  to: z.string().regex(/^\d+$/)
})

const routes: FastifyPluginAsyncZod = async (app) => {
  app.post('/echo', { config: { auth: 'none' }, schema: { body: Template, response: { 200: z.object({ to: z.string() }) } } }, async (request) => ({ to: request.body.to }))
  app.get('/list', { config: { auth: 'none' }, schema: { querystring: z.object({ limit: z.coerce.number().int().max(100) }) } }, async (request) => ({ limit: request.query.limit }))
  app.get('/coded', { config: { auth: 'none' } }, async () => { throw TestErrors.TST_NUMBER_NOT_FOUND.create({ detail: { phoneNumberId: '123' } }) })
  app.get('/wrapped', { config: { auth: 'none' } }, async () => { throw new Error('repository failed', { cause: TestErrors.TST_UPSTREAM_DOWN.create() }) })
  app.get('/boom', { config: { auth: 'none' } }, async () => { throw new Error('password=hunter2 at db.internal:5432') })
  app.get('/bad-response', { config: { auth: 'none' }, schema: { response: { 200: z.object({ id: z.string() }) } } }, async () => ({ id: 42 }) as never)
}

async function app (t: Test, logger = captureLogs()): Promise<HttpApp> {
  const a = await buildTestApp(t, { logger: logger.logger, bodyLimit: 1024 })
  await a.register(routes)
  return a
}

t.test('a zod failure answers 400 HTTP_VALIDATION naming each bad field by path', async (t) => {
  const a = await app(t)
  const res = await a.inject({ method: 'POST', url: '/echo', payload: { template: { name: '', language: { code: 'eng' } }, to: 12 } })
  t.equal(res.statusCode, 400)
  t.match(res.headers['content-type'], PROBLEM_CONTENT_TYPE)
  const body = res.json()
  t.equal(body.code, 'HTTP_VALIDATION')
  t.equal(body.status, 400)
  t.equal(body.type, 'urn:coexist:problem:HTTP_VALIDATION')
  t.equal(body.title, 'Bad Request')
  t.type(body.requestId, 'string')
  const paths = (body.errors as { path: string, message: string }[]).map((e) => e.path).sort()
  t.same(paths, ['body.template.language.code', 'body.template.name', 'body.to'])
  for (const e of body.errors) t.ok(e.message.length > 0, `message for ${e.path}`)
})

t.test('query fields are named query.<field>; a valid request passes', async (t) => {
  const a = await app(t)
  const bad = await a.inject({ method: 'GET', url: '/list?limit=1000' })
  t.equal(bad.statusCode, 400)
  t.same(bad.json().errors.map((e: { path: string }) => e.path), ['query.limit'])
  const ok = await a.inject({ method: 'GET', url: '/list?limit=10' })
  t.equal(ok.statusCode, 200)
  t.same(ok.json(), { limit: 10 })
  const good = await a.inject({ method: 'POST', url: '/echo', payload: { template: { name: 'hello', language: { code: 'en' } }, to: '4912345' } })
  t.equal(good.statusCode, 200)
  t.same(good.json(), { to: '4912345' })
})

t.test('malformed and empty JSON bodies answer 400 HTTP_INVALID_JSON', async (t) => {
  const a = await app(t)
  const res = await a.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '{"template": {' })
  t.equal(res.statusCode, 400)
  t.equal(res.json().code, 'HTTP_INVALID_JSON')
  const empty = await a.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '' })
  t.equal(empty.statusCode, 400)
  t.equal(empty.json().code, 'HTTP_INVALID_JSON')
})

t.test('a body over the limit answers 413 HTTP_PAYLOAD_TOO_LARGE', async (t) => {
  const a = await app(t)
  const res = await a.inject({ method: 'POST', url: '/echo', payload: { template: { name: 'x'.repeat(2048), language: { code: 'en' } }, to: '1' } })
  t.equal(res.statusCode, 413)
  t.match(res.headers['content-type'], PROBLEM_CONTENT_TYPE)
  t.equal(res.json().code, 'HTTP_PAYLOAD_TOO_LARGE')
})

t.test('an unsupported content type answers 415', async (t) => {
  const a = await app(t)
  const res = await a.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/xml' }, payload: '<a/>' })
  t.equal(res.statusCode, 415)
  t.equal(res.json().code, 'HTTP_UNSUPPORTED_MEDIA_TYPE')
})

t.test('an unknown route answers 404 HTTP_NOT_FOUND', async (t) => {
  const a = await app(t)
  for (const url of ['/nope', '/v1/nope']) {
    const res = await a.inject({ method: 'GET', url })
    t.equal(res.statusCode, 404, url)
    t.match(res.headers['content-type'], PROBLEM_CONTENT_TYPE)
    t.equal(res.json().code, 'HTTP_NOT_FOUND')
  }
})

t.test('a CoexistError answers with its status, code, message and detail members', async (t) => {
  const a = await app(t)
  const res = await a.inject({ method: 'GET', url: '/coded' })
  t.equal(res.statusCode, 404)
  t.match(res.json(), { code: 'TST_NUMBER_NOT_FOUND', status: 404, title: 'Not Found', detail: 'phone number not found', phoneNumberId: '123' })
  const wrapped = await a.inject({ method: 'GET', url: '/wrapped' })
  t.equal(wrapped.statusCode, 503, 'found through the cause chain')
  t.equal(wrapped.json().code, 'TST_UPSTREAM_DOWN')
})

t.test('an unknown error answers 500 HTTP_INTERNAL without internals and is logged with err', async (t) => {
  const logs = captureLogs()
  const a = await app(t, logs)
  const res = await a.inject({ method: 'GET', url: '/boom', headers: { authorization: `Bearer ${TENANT_A_KEY}` } })
  t.equal(res.statusCode, 500)
  const body = res.json()
  t.equal(body.code, 'HTTP_INTERNAL')
  t.notMatch(res.body, /hunter2|db\.internal|stack|Error:/)
  const failed = logs.lines().find((l) => l.msg === 'request failed')
  t.ok(failed, 'the failure is logged')
  t.match(failed, { level: 50, err: { message: /db\.internal/ } })
})

t.test('a response that breaks its schema is a 500, not a leak', async (t) => {
  const a = await app(t)
  const res = await a.inject({ method: 'GET', url: '/bad-response' })
  t.equal(res.statusCode, 500)
  t.equal(res.json().code, 'HTTP_INTERNAL')
})
