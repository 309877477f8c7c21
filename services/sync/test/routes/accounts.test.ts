import t from 'tap'
import { sql } from '@coexist/db'
import { ADMIN_KEY, bearer, syncEnv } from '../harness.ts'

const WABA = '310000000000101'
const TOKEN = 'EAAGtestSECRETtoken000000000000000001'

t.test('accounts: tenant, key shown once, WABA subscribed, coexistence number with encrypted token and onboarding', async (t) => {
  const env = await syncEnv(t, { runtime: false })
  const { app } = env
  env.sim.control.configureNumber({ phoneNumberId: '620000000000101', wabaId: WABA, displayPhoneNumber: '5511999990101', mode: 'coexistence', accessToken: TOKEN })

  const noKey = await app.inject({ method: 'POST', url: '/v1/tenants', payload: { name: 'x' } })
  t.equal(noKey.statusCode, 401)
  const tenant = await app.inject({ method: 'POST', url: '/v1/tenants', headers: bearer(ADMIN_KEY), payload: { name: 'Loja Azul' } })
  t.equal(tenant.statusCode, 201)
  const tenantId = tenant.json().id as string

  const key = await app.inject({ method: 'POST', url: `/v1/tenants/${tenantId}/api-keys`, headers: bearer(ADMIN_KEY), payload: { name: 'ops', roles: ['manage', 'read'] } })
  t.equal(key.statusCode, 201)
  const plain = key.json().key as string
  t.ok(plain.length > 20, 'the plain key is returned once')
  const stored = await env.db.selectFrom('api_keys').selectAll().where('id', '=', key.json().id).executeTakeFirstOrThrow()
  t.notOk(stored.key_hash.toString('utf8').includes(plain), 'stored hashed')

  const waba = await app.inject({ method: 'POST', url: '/v1/wabas', headers: bearer(plain), payload: { id: WABA, name: 'Azul', access_token: TOKEN } })
  t.equal(waba.statusCode, 201)
  t.equal(waba.json().subscribed, true, 'our app subscribed to the WABA through the Graph API')

  const bad = await app.inject({ method: 'POST', url: '/v1/numbers', headers: bearer(plain), payload: { id: '620000000000101', waba_id: WABA, mode: 'coexistence', access_token: TOKEN } })
  t.equal(bad.statusCode, 400)
  t.match(JSON.stringify(bad.json()), /display_phone_number/, '400 names the missing field')

  const n = await app.inject({
    method: 'POST',
    url: '/v1/numbers',
    headers: bearer(plain),
    payload: { id: '620000000000101', waba_id: WABA, display_phone_number: '+55 11 99999-0101', mode: 'coexistence', access_token: TOKEN }
  })
  t.equal(n.statusCode, 201, n.body)
  const body = n.json()
  t.equal(body.throughput_mps, 20, 'coexistence defaults to 20 MPS')
  t.equal(body.status, 'active')
  t.equal(body.onboarding.state, 'onboarded')
  t.ok(Date.parse(body.onboarding.deadline_at) - Date.parse(body.onboarding.onboarded_at) === 24 * 3600 * 1000, 'deadline = onboarded + 24 h')
  t.notOk(n.body.includes(TOKEN), 'the token is never returned')
  const row = await env.db.selectFrom('phone_numbers').select(['access_token_enc']).where('id', '=', '620000000000101').executeTakeFirstOrThrow()
  t.ok(row.access_token_enc !== null && !row.access_token_enc.toString('latin1').includes(TOKEN), 'the token is encrypted at rest')

  const five = await app.inject({ method: 'PATCH', url: '/v1/numbers/620000000000101', headers: bearer(plain), payload: { throughput_mps: 5 } })
  t.equal(five.json().throughput_mps, 5, '5 MPS is settable')
  const ten = await app.inject({ method: 'PATCH', url: '/v1/numbers/620000000000101', headers: bearer(plain), payload: { throughput_mps: 10 } })
  t.equal(ten.statusCode, 422)
  t.equal(ten.json().code, 'SYNC_THROUGHPUT_INVALID')

  for (const [display, country] of [['+234 803 555 0100', 'NG'], ['27825550100', 'ZA']] as const) {
    const refused = await app.inject({
      method: 'POST',
      url: '/v1/numbers',
      headers: bearer(plain),
      payload: { id: '620000000000199', waba_id: WABA, display_phone_number: display, mode: 'coexistence', access_token: TOKEN }
    })
    t.equal(refused.statusCode, 422)
    t.equal(refused.json().code, 'SYNC_COUNTRY_UNSUPPORTED')
    t.equal(refused.json().country, country)
    t.match(refused.json().detail, /not available/)
  }
  const none = await sql<{ n: number }>`SELECT count(*)::int AS n FROM phone_numbers WHERE id = '620000000000199'`.execute(env.db)
  t.equal(none.rows[0]?.n, 0, 'a refused number is not registered')

  const events = await env.db.selectFrom('event_outbox').select(['event_type']).execute()
  t.ok(events.some((e) => e.event_type === 'onboarding_state_changed'), 'OnboardingStateChanged written with the change')
})

t.test('tenant walls: another tenant gets 404, never 403, on every resource', async (t) => {
  const env = await syncEnv(t, { runtime: false })
  const { app } = env
  const mk = async (name: string): Promise<{ id: string, key: string }> => {
    const tn = (await app.inject({ method: 'POST', url: '/v1/tenants', headers: bearer(ADMIN_KEY), payload: { name } })).json()
    const k = (await app.inject({ method: 'POST', url: `/v1/tenants/${tn.id as string}/api-keys`, headers: bearer(ADMIN_KEY), payload: { name: 'k', roles: ['manage', 'read', 'send'] } })).json()
    return { id: tn.id, key: k.key }
  }
  const a = await mk('A')
  const b = await mk('B')
  env.sim.control.configureNumber({ phoneNumberId: '620000000000201', wabaId: '310000000000201', displayPhoneNumber: '5511999990201', mode: 'coexistence' })
  await app.inject({ method: 'POST', url: '/v1/wabas', headers: bearer(a.key), payload: { id: '310000000000201' } })
  const n = await app.inject({ method: 'POST', url: '/v1/numbers', headers: bearer(a.key), payload: { id: '620000000000201', waba_id: '310000000000201', display_phone_number: '5511999990201', mode: 'coexistence', access_token: 'sim-token-620000000000201' } })
  t.equal(n.statusCode, 201)
  // A conversation of tenant A.
  const { insertMessages } = await import('../../src/store/messages.ts')
  await insertMessages(env.db, { tenantId: a.id, phoneNumberId: '620000000000201', wabaId: '310000000000201' }, [{
    wamid: 'wamid.A1',
    direction: 'inbound',
    source: 'customer',
    type: 'text',
    text: 'olá',
    content: {},
    mediaId: null,
    mediaMimeType: null,
    mediaPending: false,
    contextWamid: null,
    referral: null,
    fromId: '5511988880000',
    toId: null,
    sentAt: new Date(),
    historyStatus: null,
    requestId: null,
    customer: { waId: '5511988880000', userId: null }
  }])
  const convs = (await app.inject({ method: 'GET', url: '/v1/conversations', headers: bearer(a.key) })).json()
  t.equal(convs.data.length, 1)
  const convId = convs.data[0].id as string
  t.equal((await app.inject({ method: 'GET', url: '/v1/conversations', headers: bearer(b.key) })).json().data.length, 0, 'B lists nothing of A')
  t.equal((await app.inject({ method: 'GET', url: '/v1/contacts', headers: bearer(b.key) })).json().data.length, 0)
  for (const url of ['/v1/numbers/620000000000201', '/v1/numbers/620000000000201/sync', `/v1/conversations/${convId}/messages`]) {
    const own = await app.inject({ method: 'GET', url, headers: bearer(a.key) })
    t.equal(own.statusCode, 200, `A reads ${url}`)
    const other = await app.inject({ method: 'GET', url, headers: bearer(b.key) })
    t.equal(other.statusCode, 404, `B gets 404 on ${url}`)
  }
  const patch = await app.inject({ method: 'PATCH', url: '/v1/numbers/620000000000201', headers: bearer(b.key), payload: { throughput_mps: 5 } })
  t.equal(patch.statusCode, 404)
  const own = await app.inject({ method: 'POST', url: `/v1/conversations/${convId}/owner`, headers: bearer(b.key), payload: { owner: 'app' } })
  t.equal(own.statusCode, 404)
  const badCursor = await app.inject({ method: 'GET', url: '/v1/conversations?cursor=zzz', headers: bearer(a.key) })
  t.equal(badCursor.statusCode, 400)
  const badLimit = await app.inject({ method: 'GET', url: '/v1/conversations?limit=0', headers: bearer(a.key) })
  t.equal(badLimit.statusCode, 400)
  t.match(badLimit.body, /limit/)
})
