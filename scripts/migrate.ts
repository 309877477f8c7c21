/** `npm run migrate`: runs pending migrations against DATABASE_URL. */
import { createDb, migrateToLatest } from '@coexist/db'

const url = process.env.DATABASE_URL
if (url === undefined || url === '') {
  console.error('DATABASE_URL: is required (postgres://user@host:5432/db)')
  process.exit(1)
}
const db = createDb(url, { max: 1 })
try {
  const { results } = await migrateToLatest(db)
  for (const r of results ?? []) console.log(`${r.status.padEnd(8)} ${r.migrationName}`)
  if ((results ?? []).length === 0) console.log('database is up to date')
} finally {
  await db.destroy()
}
