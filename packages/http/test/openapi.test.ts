import t from 'tap'
import { z } from 'zod'
import { OPENAPI_PATH, type FastifyPluginAsyncZod } from '../src/index.ts'
import { buildTestApp } from './helpers.ts'

const SendMessage = z.object({
  to: z.string().describe('recipient phone number in E.164 without +'),
  template: z.object({ name: z.string(), language: z.object({ code: z.string() }) })
})

const routes: FastifyPluginAsyncZod = async (app) => {
  app.post('/v1/messages', {
    schema: { tags: ['messages'], summary: 'Send a message', body: SendMessage, response: { 202: z.object({ id: z.string() }) } }
  }, async (_request, reply) => reply.code(202).send({ id: 'm1' }))
  app.get('/v1/status', { config: { auth: 'none' }, schema: { response: { 200: z.object({ ok: z.boolean() }) } } }, async () => ({ ok: true }))
}

t.test('GET /v1/openapi.json lists the routes with their zod schemas and the key security scheme', async (t) => {
  const a = await buildTestApp(t, { version: '1.2.3', openapi: { title: 'Coexist outbound', description: 'send API' } })
  await a.register(routes)
  const res = await a.inject({ method: 'GET', url: OPENAPI_PATH })
  t.equal(res.statusCode, 200, 'public: no key needed')
  const doc = res.json()
  t.match(doc.openapi, /^3\.1/)
  t.same(doc.info, { title: 'Coexist outbound', description: 'send API', version: '1.2.3' })
  t.same(doc.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', description: 'API key as a bearer token: `Authorization: Bearer <key>`' })
  t.match(doc.components.securitySchemes.apiKeyHeader, { type: 'apiKey', in: 'header', name: 'X-API-Key' })

  const send = doc.paths['/v1/messages'].post
  t.equal(send.summary, 'Send a message')
  t.same(send.tags, ['messages'])
  t.same(send.security, [{ bearerAuth: [] }, { apiKeyHeader: [] }])
  const body = send.requestBody.content['application/json'].schema
  t.same(body.required, ['to', 'template'])
  t.match(body.properties.to, { type: 'string', description: 'recipient phone number in E.164 without +' })
  t.match(body.properties.template.properties.language.properties.code, { type: 'string' })
  t.match(send.responses['202'].content['application/json'].schema.properties.id, { type: 'string' })
  const problem = send.responses.default.content['application/problem+json'].schema
  t.same(problem.required, ['type', 'title', 'status', 'code', 'detail'], 'errors are documented as problem+json')

  t.notOk(doc.paths['/v1/status'].get.security, 'public routes carry no security requirement')
  for (const hidden of ['/health/live', '/health/ready', '/metrics', OPENAPI_PATH]) t.notOk(doc.paths[hidden], `${hidden} is left out`)
})

t.test('defaults: title is the service name', async (t) => {
  const a = await buildTestApp(t)
  const doc = (await a.inject({ method: 'GET', url: OPENAPI_PATH })).json()
  t.same(doc.info, { title: 'http-test', version: '0.0.0' })
})
