import { sql, type Kysely } from 'kysely'

// Which worker process recorded a request's outcome. A process that meets one of its own finished
// requests again (its record read after the row was sent from a parked backlog) knows the result
// is published or being published by itself, and does not publish it a second time.
export async function up (db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE outbound_messages ADD COLUMN finished_by uuid`.execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE outbound_messages DROP COLUMN finished_by`.execute(db)
}
