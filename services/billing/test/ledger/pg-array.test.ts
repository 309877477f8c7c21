import t from 'tap'
import pg from 'pg'
import { testDatabase } from '@coexist/testkit'
import { PgArrayWriter, type PgArrayType } from '../../src/ledger/pg-array.ts'

const array = (type: PgArrayType, values: Array<string | number | boolean | null>): Buffer => {
  const w = new PgArrayWriter(type, 1) // grows past its first guess
  for (const v of values) w.push(v)
  return w.finish()
}

t.test('binary arrays read back by Postgres as the values written, NULLs included', async (t) => {
  const { url } = await testDatabase(t)
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  t.teardown(() => c.end())
  const text = ['wamid.HBgM', '', null, 'São Paulo ✓ 𝄞', 'x'.repeat(300)]
  const uuid = ['0b7e3a1c-5f2d-4c8e-9a61-3d2f1e0c9b8a', null, 'ABCDEF01-2345-6789-ABCD-EF0123456789', null, '00000000-0000-0000-0000-000000000000']
  const bool = [true, false, null, true, false]
  const int2 = [0, 2, -1, null, 32767]
  const int4 = [1, -2_147_483_648, null, 2_147_483_647, 40]
  const int8 = [0, 62_700, -1, 9_007_199_254_740_991, null]
  const ms = [Date.parse('2026-01-15T12:00:00.123Z'), null, Date.parse('1999-12-31T23:59:59.999Z'), 0, Date.parse('2026-07-01T03:00:00Z')]
  const { rows } = await c.query(
    'SELECT a, b::text AS b, c, d, e, f::text AS f, g FROM unnest($1::text[], $2::uuid[], $3::bool[], $4::int2[], $5::int4[], $6::int8[], $7::timestamptz[]) AS u(a, b, c, d, e, f, g)',
    [array('text', text), array('uuid', uuid), array('bool', bool), array('int2', int2), array('int4', int4), array('int8', int8), array('timestamptz', ms)])
  t.same(rows.map((r) => r.a), text)
  t.same(rows.map((r) => r.b), uuid.map((u) => u?.toLowerCase() ?? null))
  t.same(rows.map((r) => r.c), bool)
  t.same(rows.map((r) => r.d), int2)
  t.same(rows.map((r) => r.e), int4)
  t.same(rows.map((r) => r.f), int8.map((n) => n === null ? null : String(n)))
  t.same(rows.map((r) => (r.g as Date | null)?.getTime() ?? null), ms)
  const empty = await c.query('SELECT count(*)::int AS n FROM unnest($1::text[])', [array('text', [])])
  t.equal(empty.rows[0].n, 0, 'an empty array')
})

t.test('a value without an exact binary form is refused, not written wrong', async (t) => {
  t.throws(() => array('uuid', ['not-a-uuid']), { name: 'PgArrayValueError' })
  t.throws(() => array('int8', [2 ** 60]), { name: 'PgArrayValueError' })
  t.throws(() => array('int4', [1.5]), { name: 'PgArrayValueError' })
  t.throws(() => array('int2', [40_000]), { name: 'PgArrayValueError' })
})
