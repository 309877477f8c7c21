import t from 'tap'
import { createTenant, DbErrors, getTenantWaba, getWaba, listWabas, sql, upsertWaba } from '../../src/index.ts'
import { metaId, openDb } from '../helpers.ts'

t.test('upsert creates, then updates only the given fields', async (t) => {
  const db = await openDb(t)
  const tenant = await createTenant(db, { name: 'acme' })
  const id = metaId()
  const created = await upsertWaba(db, { id, tenantId: tenant.id, name: 'Acme WA', currency: 'USD', timezone: 'America/New_York' })
  t.match(created, { id, tenant_id: tenant.id, name: 'Acme WA', currency: 'USD', timezone: 'America/New_York' })

  // Compared in SQL: microseconds, where a JS Date keeps milliseconds.
  const moved = async (): Promise<boolean | undefined> =>
    (await sql<{ moved: boolean }>`select updated_at > created_at as moved from wabas where id = ${id}`.execute(db)).rows[0]?.moved
  const replay = await upsertWaba(db, { id, tenantId: tenant.id, name: 'Acme WA' })
  t.same(replay, created, 'a replay changes nothing')
  t.equal(await moved(), false, 'updated_at included')

  const renamed = await upsertWaba(db, { id, tenantId: tenant.id, name: 'Acme Brasil', timezone: null })
  t.match(renamed, { name: 'Acme Brasil', currency: 'USD', timezone: null })
  t.equal(await moved(), true, 'a change moves updated_at')
  t.same(renamed.created_at, created.created_at)
  t.same(await getWaba(db, id), renamed)
})

t.test('a WABA of another tenant is refused and left unchanged', async (t) => {
  const db = await openDb(t)
  const a = await createTenant(db, { name: 'a' })
  const b = await createTenant(db, { name: 'b' })
  const id = metaId()
  const original = await upsertWaba(db, { id, tenantId: a.id, name: 'A' })
  const err = await t.rejects(upsertWaba(db, { id, tenantId: b.id, name: 'B' }), { code: 'DB_WABA_TENANT_CONFLICT', status: 409 })
  t.ok(DbErrors.DB_WABA_TENANT_CONFLICT.is(err))
  t.notOk(String((err as Error).message).includes(a.id), 'the owner is not named')
  t.same(await getWaba(db, id), original)
  t.equal(await getTenantWaba(db, b.id, id), undefined, 'walled')
  t.same(await getTenantWaba(db, a.id, id), original)
  t.same(await listWabas(db, b.id), [])
  t.same((await listWabas(db, a.id)).map((w) => w.id), [id])
})

t.test('bad input: unknown tenant, malformed currency', async (t) => {
  const db = await openDb(t)
  const tenant = await createTenant(db, { name: 'acme' })
  await t.rejects(upsertWaba(db, { id: metaId(), tenantId: '00000000-0000-4000-8000-000000000000' }), { code: 'DB_TENANT_NOT_FOUND' })
  await t.rejects(upsertWaba(db, { id: metaId(), tenantId: 'nope' }), { code: 'DB_TENANT_NOT_FOUND' })
  await t.rejects(upsertWaba(db, { id: metaId(), tenantId: tenant.id, currency: 'usd' }), { code: 'DB_INVALID_INPUT', detail: { field: 'currency' } })
  await t.rejects(upsertWaba(db, { id: ' ', tenantId: tenant.id }), { code: 'DB_INVALID_INPUT', detail: { field: 'id' } })
  t.same(await listWabas(db, tenant.id), [])
})

t.test('two tenants racing for one WABA: exactly one wins', async (t) => {
  const db = await openDb(t)
  const a = await createTenant(db, { name: 'a' })
  const b = await createTenant(db, { name: 'b' })
  const id = metaId()
  const results = await Promise.allSettled([upsertWaba(db, { id, tenantId: a.id }), upsertWaba(db, { id, tenantId: b.id })])
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
  const lost = results.find((r) => r.status === 'rejected')
  t.ok(DbErrors.DB_WABA_TENANT_CONFLICT.is(lost?.reason))
  const winner = results.find((r) => r.status === 'fulfilled')?.value.tenant_id
  t.equal((await getWaba(db, id))?.tenant_id, winner)
})

t.test('repositories join a transaction and roll back with it', async (t) => {
  const db = await openDb(t)
  const id = metaId()
  await t.rejects(db.transaction().execute(async (trx) => {
    const tenant = await createTenant(trx, { name: 'acme' })
    await upsertWaba(trx, { id, tenantId: tenant.id })
    t.ok(await getWaba(trx, id), 'visible inside')
    throw new Error('abort')
  }), { message: 'abort' })
  t.equal(await getWaba(db, id), undefined)
})
