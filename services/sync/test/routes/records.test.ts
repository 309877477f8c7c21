import t from 'tap'
import { insertMessages, type MessageInput } from '../../src/store/messages.ts'
import { ADMIN_KEY, bearer, syncEnv } from '../harness.ts'
import { seedNumber } from '../helpers.ts'

const msg = (wamid: string, waId: string, at: number, over: Partial<MessageInput> = {}): MessageInput => ({
  wamid,
  direction: 'inbound',
  source: 'customer',
  type: 'text',
  text: `hello ${wamid}`,
  content: { type: 'text' },
  mediaId: null,
  mediaMimeType: null,
  mediaPending: false,
  contextWamid: null,
  referral: null,
  fromId: waId,
  toId: null,
  sentAt: new Date(at * 1000),
  historyStatus: null,
  requestId: null,
  customer: { waId, userId: null, profileName: `Name ${waId.slice(-3)}` },
  ...over
})

t.test('query API: conversations newest first with a cursor and a number filter, messages, contacts search, handover', async (t) => {
  const env = await syncEnv(t, { runtime: false })
  const { app, db } = env
  const tn = (await app.inject({ method: 'POST', url: '/v1/tenants', headers: bearer(ADMIN_KEY), payload: { name: 'A' } })).json()
  const key = (await app.inject({ method: 'POST', url: `/v1/tenants/${tn.id as string}/api-keys`, headers: bearer(ADMIN_KEY), payload: { name: 'r', roles: ['read', 'send'] } })).json().key as string
  const readOnly = (await app.inject({ method: 'POST', url: `/v1/tenants/${tn.id as string}/api-keys`, headers: bearer(ADMIN_KEY), payload: { name: 'ro', roles: ['read'] } })).json().key as string
  const n1 = await seedNumber(db, { tenantId: tn.id })
  const n2 = await seedNumber(db, { tenantId: tn.id })
  const base = 1751400000
  for (let i = 0; i < 7; i++) await insertMessages(db, n1, [msg(`wamid.N1_${i}`, `5511900000${100 + i}`, base + i)])
  for (let i = 0; i < 3; i++) await insertMessages(db, n2, [msg(`wamid.N2_${i}`, `5511900000${200 + i}`, base + 100 + i)])
  for (let i = 0; i < 4; i++) await insertMessages(db, n1, [msg(`wamid.T_${i}`, '5511900000100', base + 1000 + i)])

  const seen: string[] = []
  let cursor: string | null = null
  do {
    const page: { data: Array<{ last_message: { wamid: string } }>, next_cursor: string | null } = (await app.inject({ method: 'GET', url: `/v1/conversations?limit=3${cursor !== null ? `&cursor=${cursor}` : ''}`, headers: bearer(key) })).json()
    seen.push(...page.data.map((c) => c.last_message.wamid))
    cursor = page.next_cursor
  } while (cursor !== null)
  t.same(seen, ['wamid.T_3', 'wamid.N2_2', 'wamid.N2_1', 'wamid.N2_0', 'wamid.N1_6', 'wamid.N1_5', 'wamid.N1_4', 'wamid.N1_3', 'wamid.N1_2', 'wamid.N1_1'],
    'every conversation once, newest first, across pages')
  const only2 = (await app.inject({ method: 'GET', url: `/v1/conversations?phone_number_id=${n2.phoneNumberId}`, headers: bearer(key) })).json()
  t.equal(only2.data.length, 3, 'filter by number')
  t.equal(only2.data[0].service_window_open, false, 'the window is long closed for a 2025 message')

  const top = (await app.inject({ method: 'GET', url: '/v1/conversations?limit=1', headers: bearer(key) })).json().data[0]
  t.equal(top.message_count, 5)
  const p1 = (await app.inject({ method: 'GET', url: `/v1/conversations/${top.id as string}/messages?limit=2`, headers: bearer(key) })).json()
  t.same(p1.data.map((m: { wamid: string }) => m.wamid), ['wamid.T_3', 'wamid.T_2'])
  const p2 = (await app.inject({ method: 'GET', url: `/v1/conversations/${top.id as string}/messages?limit=10&cursor=${p1.next_cursor as string}`, headers: bearer(key) })).json()
  t.same(p2.data.map((m: { wamid: string }) => m.wamid), ['wamid.T_1', 'wamid.T_0', 'wamid.N1_0'])
  t.equal(p2.next_cursor, null)

  const search = (await app.inject({ method: 'GET', url: '/v1/contacts?q=name%20102', headers: bearer(key) })).json()
  t.same(search.data.map((c: { wa_id: string }) => c.wa_id), ['5511900000102'], 'search by name')
  const byPhone = (await app.inject({ method: 'GET', url: '/v1/contacts?q=900000201', headers: bearer(key) })).json()
  t.same(byPhone.data.map((c: { wa_id: string }) => c.wa_id), ['5511900000201'], 'search by phone')
  const wild = (await app.inject({ method: 'GET', url: '/v1/contacts?q=%25', headers: bearer(key) })).json()
  t.equal(wild.data.length, 0, 'a % in the query is a literal, not a wildcard')

  const denied = await app.inject({ method: 'POST', url: `/v1/conversations/${top.id as string}/owner`, headers: bearer(readOnly), payload: { owner: 'app' } })
  t.equal(denied.statusCode, 403, 'a read-only key cannot hand over')
  const handed = await app.inject({ method: 'POST', url: `/v1/conversations/${top.id as string}/owner`, headers: bearer(key), payload: { owner: 'app' } })
  t.equal(handed.json().owner, 'app')
  const appOwned = (await app.inject({ method: 'GET', url: '/v1/conversations?owner=app', headers: bearer(key) })).json()
  t.equal(appOwned.data.length, 1)
  const ev = await db.selectFrom('event_outbox').select('event_type').where('event_type', '=', 'conversation_handover').execute()
  t.equal(ev.length, 1, 'the handover is announced')

  const numbers = (await app.inject({ method: 'GET', url: '/v1/numbers', headers: bearer(key) })).json()
  t.equal(numbers.data.length, 2)
  const admin = await app.inject({ method: 'GET', url: '/v1/conversations', headers: bearer(ADMIN_KEY) })
  t.equal(admin.statusCode, 400, 'an admin key must name the tenant')
  const adminOk = await app.inject({ method: 'GET', url: `/v1/conversations?tenant_id=${tn.id as string}&limit=1`, headers: bearer(ADMIN_KEY) })
  t.equal(adminOk.json().data.length, 1)
  const openapi = (await app.inject({ method: 'GET', url: '/v1/openapi.json' })).json()
  t.ok(['/v1/numbers/{id}/sync', '/v1/conversations', '/v1/contacts', '/v1/numbers', '/v1/tenants'].every((p) => p in openapi.paths), 'routes in the OpenAPI document')
})
