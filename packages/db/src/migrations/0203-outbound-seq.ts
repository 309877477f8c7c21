import { sql, type Kysely } from 'kysely'

// Acceptance order of requests: `accepted_at` ties within a millisecond (a batch shares it), so a
// parked backlog is read back by this sequence instead.
export async function up (db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE outbound_messages ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY`.execute(db)
  await db.schema.dropIndex('outbound_messages_accepted_idx').execute()
  await db.schema.createIndex('outbound_messages_accepted_seq_idx').on('outbound_messages')
    .columns(['phone_number_id', 'seq']).where(sql.ref('state'), '=', 'accepted').execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('outbound_messages_accepted_seq_idx').execute()
  await db.schema.createIndex('outbound_messages_accepted_idx').on('outbound_messages')
    .columns(['phone_number_id', 'accepted_at', 'id']).where(sql.ref('state'), '=', 'accepted').execute()
  await sql`ALTER TABLE outbound_messages DROP COLUMN seq`.execute(db)
}
