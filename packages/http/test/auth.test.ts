import { createLogger } from '@coexist/logger'
import t, { type Test } from 'tap'
import { z } from 'zod'
import { createHttpApp, extractApiKey, requireRole, requireTenantId, type FastifyPluginAsyncZod, type HttpApp } from '../src/index.ts'
import { ADMIN_KEY, bearer, buildTestApp, OPS_ADMIN_KEY, TENANT_A_KEY, TENANT_B_KEY } from './helpers.ts'

const routes: FastifyPluginAsyncZod = async (app) => {
  // Under /v1 the default is 'tenant'.
  app.get('/v1/whoami', { schema: { querystring: z.object({ tenant_id: z.string().optional() }) } }, async (request) => ({
    principal: request.principal,
    tenantId: requireTenantId(request, request.query.tenant_id)
  }))
  app.post('/v1/admin/tenants', { config: { auth: 'admin' } }, async (request) => ({ by: request.principal?.keyId }))
  app.post('/v1/messages', {}, async (request) => ({ principal: requireRole(request, 'messages:send').keyId }))
  app.get('/v1/public', { config: { auth: 'none' } }, async (request) => ({ principal: request.principal }))
}

async function app (t: Test): Promise<HttpApp> {
  const a = await buildTestApp(t)
  await a.register(routes)
  return a
}

t.test('no key: 401 HTTP_UNAUTHENTICATED with a Bearer challenge', async (t) => {
  const a = await app(t)
  const res = await a.inject({ method: 'GET', url: '/v1/whoami' })
  t.equal(res.statusCode, 401)
  t.equal(res.json().code, 'HTTP_UNAUTHENTICATED')
  t.equal(res.headers['www-authenticate'], 'Bearer realm="coexist"')
})

t.test('an unknown or malformed key: 401 with error="invalid_token"', async (t) => {
  const a = await app(t)
  for (const headers of [bearer('ck_not_a_key_0000000000000000'), { 'x-api-key': 'ck_wrong' }, { authorization: 'Basic dXNlcjpwYXNz' }, bearer(ADMIN_KEY.slice(0, -1))]) {
    const res = await a.inject({ method: 'GET', url: '/v1/whoami', headers })
    t.equal(res.statusCode, 401, JSON.stringify(headers))
    t.equal(res.json().code, 'HTTP_UNAUTHENTICATED')
    t.match(res.headers['www-authenticate'], /error="invalid_token"/)
  }
})

t.test('a tenant key acts for its own tenant, by either header', async (t) => {
  const a = await app(t)
  for (const headers of [bearer(TENANT_A_KEY), { 'x-api-key': TENANT_A_KEY }, { authorization: `bearer   ${TENANT_A_KEY}` }]) {
    const res = await a.inject({ method: 'GET', url: '/v1/whoami', headers })
    t.equal(res.statusCode, 200)
    t.same(res.json(), { principal: { keyId: 'key_a', tenantId: 'tenant_a', roles: ['messages:send'], isAdmin: false }, tenantId: 'tenant_a' })
  }
})

t.test('a tenant key may not name another tenant (403), may name its own', async (t) => {
  const a = await app(t)
  const other = await a.inject({ method: 'GET', url: '/v1/whoami?tenant_id=tenant_b', headers: bearer(TENANT_A_KEY) })
  t.equal(other.statusCode, 403)
  t.equal(other.json().code, 'HTTP_FORBIDDEN')
  const own = await a.inject({ method: 'GET', url: '/v1/whoami?tenant_id=tenant_a', headers: bearer(TENANT_A_KEY) })
  t.equal(own.json().tenantId, 'tenant_a')
})

t.test('a tenant key on an admin route: 403 HTTP_FORBIDDEN', async (t) => {
  const a = await app(t)
  const res = await a.inject({ method: 'POST', url: '/v1/admin/tenants', headers: bearer(TENANT_A_KEY), payload: {} })
  t.equal(res.statusCode, 403)
  t.equal(res.json().code, 'HTTP_FORBIDDEN')
})

t.test('the bootstrap admin key and admin-role keys pass admin routes', async (t) => {
  const a = await app(t)
  const boot = await a.inject({ method: 'POST', url: '/v1/admin/tenants', headers: bearer(ADMIN_KEY), payload: {} })
  t.equal(boot.statusCode, 200)
  t.same(boot.json(), { by: 'admin:bootstrap' })
  const ops = await a.inject({ method: 'POST', url: '/v1/admin/tenants', headers: { 'x-api-key': OPS_ADMIN_KEY }, payload: {} })
  t.equal(ops.statusCode, 200)
  t.same(ops.json(), { by: 'key_ops' })
})

t.test('an admin must name the tenant explicitly (400 HTTP_TENANT_REQUIRED)', async (t) => {
  const a = await app(t)
  const without = await a.inject({ method: 'GET', url: '/v1/whoami', headers: bearer(ADMIN_KEY) })
  t.equal(without.statusCode, 400)
  t.equal(without.json().code, 'HTTP_TENANT_REQUIRED')
  const named = await a.inject({ method: 'GET', url: '/v1/whoami?tenant_id=tenant_b', headers: bearer(ADMIN_KEY) })
  t.equal(named.statusCode, 200)
  t.equal(named.json().tenantId, 'tenant_b')
  t.equal(named.json().principal.isAdmin, true)
})

t.test('requireRole: the role or admin passes, else 403', async (t) => {
  const a = await app(t)
  t.equal((await a.inject({ method: 'POST', url: '/v1/messages', headers: bearer(TENANT_A_KEY), payload: {} })).json().principal, 'key_a')
  const lacking = await a.inject({ method: 'POST', url: '/v1/messages', headers: bearer(TENANT_B_KEY), payload: {} })
  t.equal(lacking.statusCode, 403)
  t.equal(lacking.json().code, 'HTTP_FORBIDDEN')
  t.equal(lacking.json().role, 'messages:send')
  t.equal((await a.inject({ method: 'POST', url: '/v1/messages', headers: bearer(ADMIN_KEY), payload: {} })).statusCode, 200)
})

t.test('public routes ignore keys, good or bad', async (t) => {
  const a = await app(t)
  for (const headers of [{}, bearer('ck_garbage_xxxxxxxxxxxxxxxx'), bearer(TENANT_A_KEY)]) {
    const res = await a.inject({ method: 'GET', url: '/v1/public', headers })
    t.equal(res.statusCode, 200)
    t.same(res.json(), { principal: null })
  }
  t.equal((await a.inject({ method: 'GET', url: '/health/live', headers: bearer('nope') })).statusCode, 200)
})

t.test('the verdict comes before the body is read: no key + bad JSON is 401, not 400', async (t) => {
  const a = await app(t)
  const res = await a.inject({ method: 'POST', url: '/v1/messages', headers: { 'content-type': 'application/json' }, payload: '{not json' })
  t.equal(res.statusCode, 401)
})

t.test('the /v1 default applies to routes registered under a /v1 prefix', async (t) => {
  const a = await buildTestApp(t)
  await a.register(async (scoped) => {
    scoped.get('/things', async (request) => ({ tenant: requireTenantId(request) }))
    scoped.get('/open', { config: { auth: 'none' } }, async () => ({ ok: true }))
  }, { prefix: '/v1' })
  t.equal((await a.inject({ method: 'GET', url: '/v1/things' })).statusCode, 401)
  t.same((await a.inject({ method: 'GET', url: '/v1/things', headers: bearer(TENANT_A_KEY) })).json(), { tenant: 'tenant_a' })
  t.equal((await a.inject({ method: 'GET', url: '/v1/open' })).statusCode, 200)
})

t.test('a protected route without the auth option is refused at registration', async (t) => {
  const a = await createHttpApp({ logger: createLogger({ level: 'silent' }), service: 'x', readiness: {} })
  t.teardown(() => a.close())
  t.throws(() => a.get('/v1/things', async () => ({})), /requires auth 'tenant' but createHttpApp got no auth option/)
  t.doesNotThrow(() => a.get('/v1/open', { config: { auth: 'none' } }, async () => ({})))
})

t.test('a short admin key is refused', async (t) => {
  await t.rejects(createHttpApp({ logger: createLogger({ level: 'silent' }), service: 'x', readiness: {}, auth: { adminKey: 'short', resolveApiKey: async () => null } }), /at least 16/)
})

t.test('extractApiKey', async (t) => {
  t.equal(extractApiKey({}), undefined)
  t.equal(extractApiKey({ authorization: 'Bearer abc.def' }), 'abc.def')
  t.equal(extractApiKey({ 'x-api-key': ' abc ' }), 'abc')
  t.equal(extractApiKey({ authorization: 'Bearer abc', 'x-api-key': 'other' }), 'abc', 'Authorization wins')
  t.equal(extractApiKey({ authorization: 'Bearer a b' }), null)
  t.equal(extractApiKey({ authorization: 'Token abc' }), null)
  t.equal(extractApiKey({ 'x-api-key': 'a'.repeat(513) }), null)
  t.equal(extractApiKey({ 'x-api-key': 'käy' }), null)
})
