import { sql, type Kysely } from 'kysely'

// Numbers whose backlog the send worker keeps in Postgres instead of memory ("parked"): a row
// here says "this number has accepted requests whose Kafka records are already committed; load
// them from outbound_messages". The worker that owns `partition` of the requests topic resumes
// them after a restart or a rebalance. `token` names the parking episode, so a worker only ever
// removes the marker it wrote.
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createTable('outbound_parked')
    .addColumn('phone_number_id', 'text', (c) => c.primaryKey())
    .addColumn('partition', 'integer', (c) => c.notNull())
    .addColumn('token', 'uuid', (c) => c.notNull())
    .addColumn('parked_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
  await db.schema.createIndex('outbound_parked_partition_idx').on('outbound_parked').column('partition').execute()
  // Loading a parked backlog: a number's accepted requests, oldest first.
  await db.schema.createIndex('outbound_messages_accepted_idx').on('outbound_messages')
    .columns(['phone_number_id', 'accepted_at', 'id']).where(sql.ref('state'), '=', 'accepted').execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('outbound_messages_accepted_idx').execute()
  await db.schema.dropTable('outbound_parked').execute()
}
