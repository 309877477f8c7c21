import t from 'tap'
import {
  apiKeyAllows, createApiKey, createTenant, ensureApiKey, hashApiKey, listApiKeys, resolveApiKey, revokeApiKey, sql
} from '../../src/index.ts'
import { openDb } from '../helpers.ts'

t.test('a created key resolves to its tenant and roles; only its hash is stored', async (t) => {
  const db = await openDb(t)
  const tenant = await createTenant(db, { name: 'acme' })
  const created = await createApiKey(db, { tenantId: tenant.id, name: 'crm', roles: ['send', 'read', 'send'] })
  t.match(created.key, /^cx_[0-9A-Za-z]{8}_[0-9A-Za-z]{32}$/)
  t.equal(created.prefix, created.key.slice(0, 11))

  t.same(await resolveApiKey(db, created.key), { keyId: created.id, tenantId: tenant.id, roles: ['send', 'read'] })

  const { rows } = await sql<Record<string, unknown>>`select * from api_keys`.execute(db)
  t.equal(rows.length, 1)
  const row = rows[0] as { key_hash: Buffer, key_prefix: string }
  t.ok(row.key_hash.equals(hashApiKey(created.key)), 'SHA-256 of the key')
  t.equal(row.key_hash.length, 32)
  t.equal(row.key_prefix, created.prefix)
  const secret = created.key.slice(12)
  t.notOk(JSON.stringify(rows).includes(secret) || row.key_hash.includes(Buffer.from(secret)), 'the secret part is stored nowhere')

  const listed = await listApiKeys(db, tenant.id)
  t.equal(listed.length, 1)
  t.notOk('key_hash' in (listed[0] as object), 'listing never returns the hash')
  t.notOk(JSON.stringify(listed).includes(secret))
  t.match(listed[0], { id: created.id, tenant_id: tenant.id, name: 'crm', key_prefix: created.prefix, roles: ['send', 'read'], revoked_at: null })
})

t.test('unknown, malformed and revoked keys resolve to null', async (t) => {
  const db = await openDb(t)
  const a = await createTenant(db, { name: 'a' })
  const b = await createTenant(db, { name: 'b' })
  const key = await createApiKey(db, { tenantId: a.id, name: 'k', roles: ['read'] })
  t.equal(await resolveApiKey(db, key.key.slice(0, -1) + (key.key.endsWith('A') ? 'B' : 'A')), null)
  t.equal(await resolveApiKey(db, ''), null)
  t.equal(await resolveApiKey(db, 'x'.repeat(10_000)), null)

  t.equal(await revokeApiKey(db, b.id, key.id), false, 'another tenant cannot revoke it')
  t.equal(await revokeApiKey(db, a.id, 'not-a-uuid'), false)
  t.not(await resolveApiKey(db, key.key), null)
  t.equal(await revokeApiKey(db, a.id, key.id), true)
  t.equal(await resolveApiKey(db, key.key), null)
  const [first] = await listApiKeys(db, a.id)
  t.type(first?.revoked_at, Date)
  t.equal(await revokeApiKey(db, a.id, key.id), true, 'revoking twice is fine')
  const [second] = await listApiKeys(db, a.id)
  t.same(second?.revoked_at, first?.revoked_at, 'and keeps the first revocation time')
  t.same(await listApiKeys(db, b.id), [])
})

t.test('last_used_at moves at most once a minute', async (t) => {
  const db = await openDb(t)
  const tenant = await createTenant(db, { name: 'acme' })
  const key = await createApiKey(db, { tenantId: tenant.id, name: 'k', roles: ['send'] })
  const lastUsed = async (): Promise<Date | null> =>
    (await db.selectFrom('api_keys').select('last_used_at').where('id', '=', key.id).executeTakeFirstOrThrow()).last_used_at
  t.equal(await lastUsed(), null)
  await resolveApiKey(db, key.key)
  const first = await lastUsed()
  t.type(first, Date)
  await resolveApiKey(db, key.key)
  t.same(await lastUsed(), first, 'a second use within the minute writes nothing')
  // Age the stamp instead of waiting: the rule is evaluated by the database's clock.
  await db.updateTable('api_keys').set({ last_used_at: sql`now() - interval '61 seconds'` }).where('id', '=', key.id).execute()
  const aged = await lastUsed()
  await resolveApiKey(db, key.key)
  const bumped = await lastUsed()
  t.ok(bumped !== null && aged !== null && bumped > aged, 'bumped after a minute')
})

t.test('roles: known only, at least one, no tenant only for admin (also in the schema)', async (t) => {
  const db = await openDb(t)
  const tenant = await createTenant(db, { name: 'acme' })
  await t.rejects(createApiKey(db, { tenantId: tenant.id, name: 'k', roles: ['root'] }), { code: 'DB_INVALID_INPUT', detail: { field: 'roles' } })
  await t.rejects(createApiKey(db, { tenantId: tenant.id, name: 'k', roles: [] }), { code: 'DB_INVALID_INPUT' })
  await t.rejects(createApiKey(db, { tenantId: null, name: 'k', roles: ['read', 'send', 'manage'] }), { code: 'DB_INVALID_INPUT', detail: { field: 'tenantId' } })
  await t.rejects(createApiKey(db, { tenantId: '00000000-0000-4000-8000-000000000000', name: 'k', roles: ['read'] }), { code: 'DB_TENANT_NOT_FOUND' })
  await t.rejects(createApiKey(db, { tenantId: 'nope', name: 'k', roles: ['read'] }), { code: 'DB_TENANT_NOT_FOUND' })

  const admin = await createApiKey(db, { tenantId: null, name: 'platform', roles: ['admin'] })
  t.same(await resolveApiKey(db, admin.key), { keyId: admin.id, tenantId: null, roles: ['admin'] })
  t.same((await listApiKeys(db, null)).map((k) => k.id), [admin.id])
  t.same(await listApiKeys(db, tenant.id), [])

  // The schema refuses what the repository refuses, for writers that bypass it.
  const raw = (tenantId: string | null, roles: string[]) => db.insertInto('api_keys')
    .values({ tenant_id: tenantId, name: 'raw', key_hash: hashApiKey(Math.random().toString()), key_prefix: 'raw', roles }).execute()
  await t.rejects(raw(null, ['read']), { code: '23514', constraint: 'api_keys_tenant_or_admin' })
  await t.rejects(raw(tenant.id, ['root']), { code: '23514', constraint: 'api_keys_roles_known' })
  await t.rejects(raw(tenant.id, []), { code: '23514', constraint: 'api_keys_roles_known' })

  t.ok(apiKeyAllows(['admin'], 'send'))
  t.ok(apiKeyAllows(['read', 'send'], 'send'))
  t.notOk(apiKeyAllows(['read'], 'manage'))
})

t.test('ensureApiKey registers a chosen key once', async (t) => {
  const db = await openDb(t)
  const key = 'cx_admin_' + 'Z'.repeat(32)
  const first = await ensureApiKey(db, { key, tenantId: null, name: 'bootstrap', roles: ['admin'] })
  const again = await ensureApiKey(db, { key, tenantId: null, name: 'bootstrap', roles: ['admin'] })
  t.equal(first.created, true)
  t.same(again, { id: first.id, created: false })
  t.same(await resolveApiKey(db, key), { keyId: first.id, tenantId: null, roles: ['admin'] })
  const [listed] = await listApiKeys(db, null)
  t.equal(listed?.key_prefix, 'cx_admin_Z', 'a quarter of a chosen key at most')
  await t.rejects(ensureApiKey(db, { key: 'short', tenantId: null, name: 'x', roles: ['admin'] }), { code: 'DB_INVALID_INPUT' })
})
