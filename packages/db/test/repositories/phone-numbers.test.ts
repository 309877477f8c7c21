import { inspect } from 'node:util'
import t from 'tap'
import {
  createPhoneNumber, createTenant, createTokenCipher, getAccessToken, getPhoneNumber, getTenantPhoneNumber, listPhoneNumbers,
  sql, updatePhoneNumber, upsertWaba, type Db, type TokenCipher
} from '../../src/index.ts'
import { metaId, newKey, openDb } from '../helpers.ts'

const TOKEN = 'EAAGsecretMetaAccessToken0123456789'

async function setup (db: Db): Promise<{ cipher: TokenCipher, a: string, b: string, wabaA: string, wabaB: string }> {
  const cipher = createTokenCipher({ current: newKey() })
  const a = (await createTenant(db, { name: 'a' })).id
  const b = (await createTenant(db, { name: 'b' })).id
  const wabaA = (await upsertWaba(db, { id: metaId(), tenantId: a })).id
  const wabaB = (await upsertWaba(db, { id: metaId(), tenantId: b })).id
  return { cipher, a, b, wabaA, wabaB }
}

t.test('default throughput per mode; valid range enforced', async (t) => {
  const db = await openDb(t)
  const { cipher, a, wabaA } = await setup(db)
  const base = { tenantId: a, wabaId: wabaA, displayPhoneNumber: '+1 555 0100' }
  const cloud = await createPhoneNumber(db, cipher, { ...base, id: metaId(), mode: 'cloud_api' })
  const coex = await createPhoneNumber(db, cipher, { ...base, id: metaId(), mode: 'coexistence' })
  t.match(cloud, { throughput_mps: 80, mode: 'cloud_api', status: 'active', has_access_token: false })
  t.match(coex, { throughput_mps: 20, mode: 'coexistence' })
  t.equal((await createPhoneNumber(db, cipher, { ...base, id: metaId(), mode: 'cloud_api', throughputMps: 1000 })).throughput_mps, 1000)
  t.equal((await createPhoneNumber(db, cipher, { ...base, id: metaId(), mode: 'coexistence', throughputMps: 5 })).throughput_mps, 5)
  for (const throughputMps of [0, 1001, 1.5, -1, Number.NaN]) {
    await t.rejects(createPhoneNumber(db, cipher, { ...base, id: metaId(), mode: 'cloud_api', throughputMps }),
      { code: 'DB_INVALID_INPUT', detail: { field: 'throughputMps' } }, `${throughputMps} refused`)
  }
  await t.rejects(createPhoneNumber(db, cipher, { ...base, id: metaId(), mode: 'coexistence', throughputMps: 21 }),
    { code: 'DB_INVALID_INPUT', detail: { field: 'throughputMps' } }, 'coexistence is capped at 20')
  // Updates: the range in the repository, the coexistence cap in the schema.
  await t.rejects(updatePhoneNumber(db, cipher, a, coex.id, { throughputMps: 80 }), { code: 'DB_INVALID_INPUT', detail: { field: 'throughputMps' } })
  await t.rejects(updatePhoneNumber(db, cipher, a, cloud.id, { throughputMps: 1001 }), { code: 'DB_INVALID_INPUT' })
  t.match(await updatePhoneNumber(db, cipher, a, cloud.id, { throughputMps: 1000 }), { throughput_mps: 1000 })
  await t.rejects(updatePhoneNumber(db, cipher, a, cloud.id, { status: 'gone' as 'active' }), { code: 'DB_INVALID_INPUT', detail: { field: 'status' } })
  t.match(await updatePhoneNumber(db, cipher, a, cloud.id, { status: 'suspended' }), { status: 'suspended', throughput_mps: 1000 })
  await t.rejects(createPhoneNumber(db, cipher, { ...base, id: metaId(), mode: 'business_app' as 'cloud_api' }), { code: 'DB_INVALID_INPUT', detail: { field: 'mode' } })
})

t.test('tenants are walled: B cannot see, list or change A\'s number', async (t) => {
  const db = await openDb(t)
  const { cipher, a, b, wabaA, wabaB } = await setup(db)
  const id = metaId()
  const mine = await createPhoneNumber(db, cipher, { id, tenantId: a, wabaId: wabaA, displayPhoneNumber: '+1 555 0100', mode: 'cloud_api', accessToken: TOKEN })
  await createPhoneNumber(db, cipher, { id: metaId(), tenantId: b, wabaId: wabaB, displayPhoneNumber: '+1 555 0200', mode: 'cloud_api' })

  t.same(await getTenantPhoneNumber(db, a, id), mine)
  t.equal(await getTenantPhoneNumber(db, b, id), undefined)
  t.equal(await getTenantPhoneNumber(db, 'not-a-uuid', id), undefined)
  t.same((await listPhoneNumbers(db, a)).map((p) => p.id), [id])
  t.notOk((await listPhoneNumbers(db, b)).some((p) => p.id === id))
  t.same((await listPhoneNumbers(db, a, { wabaId: wabaB })), [])

  t.equal(await updatePhoneNumber(db, cipher, b, id, { throughputMps: 1, status: 'disconnected', accessToken: 'stolen' }), undefined)
  t.equal(await updatePhoneNumber(db, cipher, b, id, {}), undefined)
  t.same(await getPhoneNumber(db, id), mine, 'unchanged')
  t.equal(await getAccessToken(db, cipher, id), TOKEN)

  // Registering A's number under B, or A's number under B's WABA, is refused.
  await t.rejects(createPhoneNumber(db, cipher, { id, tenantId: b, wabaId: wabaB, displayPhoneNumber: 'x', mode: 'cloud_api', accessToken: 'stolen' }),
    { code: 'DB_PHONE_NUMBER_TENANT_CONFLICT', status: 409 })
  await t.rejects(createPhoneNumber(db, cipher, { id: metaId(), tenantId: a, wabaId: wabaB, displayPhoneNumber: 'x', mode: 'cloud_api' }),
    { code: 'DB_WABA_NOT_FOUND' }, 'a number cannot hang under another tenant\'s WABA')
  await t.rejects(createPhoneNumber(db, cipher, { id: metaId(), tenantId: a, wabaId: 'missing', displayPhoneNumber: 'x', mode: 'cloud_api' }),
    { code: 'DB_WABA_NOT_FOUND' })
  await t.rejects(createPhoneNumber(db, cipher, { id: metaId(), tenantId: '00000000-0000-4000-8000-000000000000', wabaId: wabaA, displayPhoneNumber: 'x', mode: 'cloud_api' }),
    { code: /^DB_(TENANT|WABA)_NOT_FOUND$/ })
  t.same(await getPhoneNumber(db, id), mine, 'still unchanged')
  t.equal(await getAccessToken(db, cipher, id), TOKEN)
})

t.test('creating again is idempotent and keeps what was not given', async (t) => {
  const db = await openDb(t)
  const { cipher, a, wabaA } = await setup(db)
  const id = metaId()
  const input = { id, tenantId: a, wabaId: wabaA, displayPhoneNumber: '+1 555 0100', mode: 'cloud_api' as const }
  await createPhoneNumber(db, cipher, { ...input, accessToken: TOKEN })
  await updatePhoneNumber(db, cipher, a, id, { throughputMps: 1000 })
  const again = await createPhoneNumber(db, cipher, { ...input, displayPhoneNumber: '+1 (555) 0100' })
  t.match(again, { throughput_mps: 1000, display_phone_number: '+1 (555) 0100', has_access_token: true })
  t.equal(await getAccessToken(db, cipher, id), TOKEN, 'token kept')
  t.equal((await listPhoneNumbers(db, a)).length, 1)
  const twice = await Promise.all([createPhoneNumber(db, cipher, input), createPhoneNumber(db, cipher, input)])
  t.same(twice.map((p) => p.id), [id, id], 'concurrent duplicates both succeed')
  t.equal((await listPhoneNumbers(db, a)).length, 1)
  const coex = await createPhoneNumber(db, cipher, { ...input, mode: 'coexistence' })
  t.match(coex, { mode: 'coexistence', throughput_mps: 20 }, 'a new mode takes its default')
  const rotatedToken = await createPhoneNumber(db, cipher, { ...input, mode: 'coexistence', accessToken: 'new-token' })
  t.match(rotatedToken, { throughput_mps: 20, has_access_token: true })
  t.equal(await getAccessToken(db, cipher, id), 'new-token')
})

t.test('the token is stored encrypted, bound to its row, and never returned', async (t) => {
  const db = await openDb(t)
  const { cipher, a, wabaA } = await setup(db)
  const id = metaId()
  const other = metaId()
  const returned: unknown[] = []
  returned.push(await createPhoneNumber(db, cipher, { id, tenantId: a, wabaId: wabaA, displayPhoneNumber: '+1 555 0100', mode: 'coexistence', accessToken: TOKEN }))
  returned.push(await createPhoneNumber(db, cipher, { id: other, tenantId: a, wabaId: wabaA, displayPhoneNumber: '+1 555 0101', mode: 'cloud_api', accessToken: 'other-token' }))
  returned.push(await getPhoneNumber(db, id), await getTenantPhoneNumber(db, a, id), await listPhoneNumbers(db, a))
  returned.push(await updatePhoneNumber(db, cipher, a, id, { accessToken: TOKEN + '2' }), await updatePhoneNumber(db, cipher, a, id, { status: 'pending' }))

  const stored = await db.selectFrom('phone_numbers').select(['access_token_enc', 'token_key_id']).where('id', '=', id).executeTakeFirstOrThrow()
  t.equal(stored.token_key_id, cipher.currentKeyId)
  t.ok(stored.access_token_enc !== null && !stored.access_token_enc.includes(Buffer.from(TOKEN)), 'not in clear at rest')

  const text = inspect(returned, { depth: 10 }) + JSON.stringify(returned)
  t.notOk(text.includes(TOKEN), 'no token in any returned row')
  t.notOk(text.includes('other-token'))
  t.notOk(text.includes('access_token_enc') || text.includes('token_key_id'), 'no ciphertext column either')
  t.notOk(text.includes(stored.access_token_enc?.toString('hex') ?? '-') || text.includes(stored.access_token_enc?.toString('base64') ?? '-'))
  t.equal(await getAccessToken(db, cipher, id), TOKEN + '2')

  // A ciphertext copied onto another row does not decrypt there (the row id is authenticated).
  await sql`update phone_numbers set access_token_enc = ${stored.access_token_enc}, token_key_id = ${stored.token_key_id} where id = ${other}`.execute(db)
  const err = await t.rejects(getAccessToken(db, cipher, other), { code: 'DB_TOKEN_DECRYPT_FAILED', detail: { phoneNumberId: other } })
  t.notOk(inspect(err, { depth: 10 }).includes(TOKEN))

  // null removes the token.
  t.match(await updatePhoneNumber(db, cipher, a, id, { accessToken: null }), { has_access_token: false })
  t.equal(await getAccessToken(db, cipher, id), undefined)
  t.equal(await getAccessToken(db, cipher, 'no-such-number'), undefined)
  await t.rejects(updatePhoneNumber(db, cipher, a, id, { accessToken: '' }), { code: 'DB_INVALID_INPUT', detail: { field: 'accessToken' } })
})
