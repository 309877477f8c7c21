import t from 'tap'
import { CoexistError, hasCode } from '@coexist/errors'
import { DbErrors, MigrationError } from '../src/index.ts'

t.test('codes are unique, prefixed DB_ and match their names', async (t) => {
  const entries = Object.entries(DbErrors)
  t.ok(entries.length > 0)
  const codes = new Set<string>()
  for (const [name, factory] of entries) {
    t.equal(factory.code, name, `${name} carries its own name as code`)
    t.match(factory.code, /^DB_[A-Z0-9_]+$/)
    t.notOk(codes.has(factory.code), `${name} is unique`)
    codes.add(factory.code)
    const err = factory.create()
    t.type(err, CoexistError)
    t.equal(err.code, name)
    t.ok(err.status >= 400 && err.status < 600)
  }
})

t.test('a migration failure is coded DB_MIGRATION_FAILED and keeps its cause', async (t) => {
  const cause = new Error('relation exists')
  const err = new MigrationError('migration 0001 failed', { cause })
  t.type(err, CoexistError)
  t.equal(err.code, 'DB_MIGRATION_FAILED')
  t.equal(err.cause, cause)
  t.ok(hasCode(new Error('outer', { cause: err }), 'DB_MIGRATION_FAILED'))
})
