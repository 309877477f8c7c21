import { sql, type Kysely } from 'kysely'

// A mark-as-read request is "sent" without a wamid (Meta answers `{ success: true }`).
export async function up (db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE outbound_messages DROP CONSTRAINT outbound_messages_sent_has_wamid`.execute(db)
  await sql`ALTER TABLE outbound_messages ADD CONSTRAINT outbound_messages_sent_has_wamid
    CHECK (state <> 'sent' OR wamid IS NOT NULL OR message_type = 'mark_as_read')`.execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE outbound_messages DROP CONSTRAINT outbound_messages_sent_has_wamid`.execute(db)
  await sql`ALTER TABLE outbound_messages ADD CONSTRAINT outbound_messages_sent_has_wamid CHECK (state <> 'sent' OR wamid IS NOT NULL)`.execute(db)
}
