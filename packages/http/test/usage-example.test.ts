// How a service uses @coexist/http (mirrors a service's src/app.ts), kept compiling and passing.
import { createLogger, type Logger } from '@coexist/logger'
import { defineErrors } from '@coexist/errors'
import t from 'tap'
import { z } from 'zod'
import { Counter, createHttpApp, requireTenantId, type FastifyPluginAsyncZod, type HttpApp, type ResolvedApiKey } from '../src/index.ts'
import { ADMIN_KEY, bearer, resolveApiKey, TENANT_A_KEY } from './helpers.ts'

const OutErrors = defineErrors('OUT_', { OUT_NUMBER_NOT_FOUND: { status: 404, message: 'phone number not found' } })

const SendBody = z.object({ phone_number_id: z.string(), to: z.string(), text: z.object({ body: z.string().min(1).max(4096) }) })
const Accepted = z.object({ id: z.string(), status: z.literal('accepted') })

interface MessageRoutesOptions { knownNumbers: Set<string>, accepted: Counter }

// routes/messages.ts: one encapsulated plugin per route group; zod types flow into handlers.
const messageRoutes: FastifyPluginAsyncZod<MessageRoutesOptions> = async (app, opts) => {
  app.post('/messages', {
    schema: { tags: ['messages'], querystring: z.object({ tenant_id: z.string().optional() }), body: SendBody, response: { 202: Accepted } }
  }, async (request, reply) => {
    const tenantId = requireTenantId(request, request.query.tenant_id)
    if (!opts.knownNumbers.has(request.body.phone_number_id)) throw OutErrors.OUT_NUMBER_NOT_FOUND.create({ detail: { phoneNumberId: request.body.phone_number_id } })
    opts.accepted.inc({ tenant: tenantId })
    return reply.code(202).send({ id: `msg_${tenantId}`, status: 'accepted' })
  })
}

// app.ts: buildApp(deps) returns the app; main.ts listens and installs graceful shutdown.
async function buildApp (deps: { logger: Logger, adminKey: string, resolveApiKey: (k: string) => Promise<ResolvedApiKey | null>, ping: () => Promise<boolean> }): Promise<HttpApp> {
  const app = await createHttpApp({
    logger: deps.logger,
    service: 'outbound-sender',
    version: '0.1.0',
    readiness: { postgres: deps.ping, kafka: deps.ping },
    auth: { adminKey: deps.adminKey, resolveApiKey: deps.resolveApiKey },
    rateLimit: { max: 1000, timeWindow: '1 second' },
    openapi: { title: 'Coexist outbound-sender', description: 'send API' }
  })
  const accepted = new Counter({ name: 'out_messages_accepted_total', help: 'accepted send requests', labelNames: ['tenant'], registers: [app.metrics] })
  await app.register(messageRoutes, { prefix: '/v1', knownNumbers: new Set(['1001']), accepted })
  return app
}

t.test('a service app built on createHttpApp', async (t) => {
  const app = await buildApp({ logger: createLogger({ level: 'silent' }), adminKey: ADMIN_KEY, resolveApiKey, ping: async () => true })
  t.teardown(() => app.close())
  const send = async (headers: Record<string, string>, payload: unknown, url = '/v1/messages') => await app.inject({ method: 'POST', url, headers, payload: payload as object })
  const ok = await send(bearer(TENANT_A_KEY), { phone_number_id: '1001', to: '49151', text: { body: 'hi' } })
  t.equal(ok.statusCode, 202)
  t.same(ok.json(), { id: 'msg_tenant_a', status: 'accepted' })
  t.equal((await send(bearer(TENANT_A_KEY), { phone_number_id: '9', to: '49151', text: { body: 'hi' } })).json().code, 'OUT_NUMBER_NOT_FOUND')
  t.same((await send(bearer(TENANT_A_KEY), { phone_number_id: '1001', to: '49151', text: { body: '' } })).json().errors.map((e: { path: string }) => e.path), ['body.text.body'])
  t.equal((await send(bearer(ADMIN_KEY), { phone_number_id: '1001', to: '49151', text: { body: 'hi' } })).json().code, 'HTTP_TENANT_REQUIRED')
  t.equal((await send(bearer(ADMIN_KEY), { phone_number_id: '1001', to: '49151', text: { body: 'hi' } }, '/v1/messages?tenant_id=tenant_b')).statusCode, 202)
  t.match((await app.inject({ method: 'GET', url: '/metrics' })).body, /^out_messages_accepted_total\{tenant="tenant_a"\} 1$/m)
  const doc = (await app.inject({ method: 'GET', url: '/v1/openapi.json' })).json()
  t.ok(doc.paths['/v1/messages'].post.requestBody)
  t.equal((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode, 200)
})
