import t from 'tap'
import { createTenant, getTenant, listTenants } from '../../src/index.ts'
import { openDb } from '../helpers.ts'

t.test('create, get and list tenants', async (t) => {
  const db = await openDb(t)
  const a = await createTenant(db, { name: '  Acme  ' })
  const b = await createTenant(db, { name: 'Globex' })
  t.equal(a.name, 'Acme', 'trimmed')
  t.type(a.created_at, Date)
  t.same(await getTenant(db, a.id), a)
  t.equal(await getTenant(db, '00000000-0000-4000-8000-000000000000'), undefined)
  t.equal(await getTenant(db, 'not-a-uuid'), undefined, 'a malformed id is not found, not a database error')
  t.same((await listTenants(db)).map((x) => x.id).sort(), [a.id, b.id].sort())
})

t.test('a blank name is refused', async (t) => {
  const db = await openDb(t)
  await t.rejects(createTenant(db, { name: '   ' }), { code: 'DB_INVALID_INPUT', detail: { field: 'name' } })
  t.same(await listTenants(db), [])
})
