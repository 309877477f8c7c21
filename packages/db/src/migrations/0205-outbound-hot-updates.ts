import { sql, type Kysely } from 'kysely'

// The worker's two updates per request (the claim accepted → sending, the outcome with its wamid)
// become HOT: no index of outbound_messages references a column they change, and pages keep room
// for the new versions. A non-HOT update wrote an entry into every index of the table (primary
// key, idempotency key, tenant, and a partial index on `state` or `wamid`) and a tuple on another
// page; a HOT one writes the tuple on its own page and nothing else.
//
// - `state` leaves every index. What its partial indexes served moves to `outbound_open`: the
//   open requests (accepted or sending) of each number in acceptance order, inserted with the
//   request, deleted when it reaches another state (the statements changing `state` keep it, in
//   the same statement). Parked backlogs are read back through it.
//   Ops queries for what is stuck per number (`outbound_messages_open_idx`) join it; `unknown`
//   outcomes, no longer open, are found by `state` without an index.
// - `wamid` leaves every index: status webhooks find their request through `outbound_wamids`,
//   written by the outcome that stores the wamid. The column stays the request's current wamid.
//   No foreign key (its check would cost each outcome a lookup): a row whose request is gone
//   matches nothing.
// - The idempotency index holds only rows with a key (requests without one never conflict).
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createTable('outbound_open')
    .addColumn('phone_number_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('id', 'uuid', (c) => c.notNull())
    .addPrimaryKeyConstraint('outbound_open_pkey', ['phone_number_id', 'seq'])
    .execute()
  await sql`INSERT INTO outbound_open (phone_number_id, seq, id)
    SELECT phone_number_id, seq, id FROM outbound_messages WHERE state IN ('accepted', 'sending')`.execute(db)

  await db.schema.createTable('outbound_wamids')
    .addColumn('wamid', 'text', (c) => c.notNull())
    .addColumn('message_id', 'uuid', (c) => c.notNull())
    .addPrimaryKeyConstraint('outbound_wamids_pkey', ['wamid', 'message_id'])
    .execute()
  await sql`INSERT INTO outbound_wamids (wamid, message_id)
    SELECT wamid, id FROM outbound_messages WHERE wamid IS NOT NULL`.execute(db)

  await db.schema.dropIndex('outbound_messages_open_idx').execute()
  await db.schema.dropIndex('outbound_messages_accepted_seq_idx').execute()
  await db.schema.dropIndex('outbound_messages_wamid_idx').execute()
  await db.schema.createIndex('outbound_messages_idempotency_key_present').on('outbound_messages')
    .columns(['tenant_id', 'idempotency_key']).unique().where(sql.ref('idempotency_key'), 'is not', null).execute()
  await db.schema.dropIndex('outbound_messages_idempotency_key').execute()
  // Room on each page for the claim's and the outcome's new versions (pruned as pages are read).
  await sql`ALTER TABLE outbound_messages SET (fillfactor = 70)`.execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE outbound_messages RESET (fillfactor)`.execute(db)
  await db.schema.createIndex('outbound_messages_idempotency_key').on('outbound_messages')
    .columns(['tenant_id', 'idempotency_key']).unique().execute()
  await db.schema.dropIndex('outbound_messages_idempotency_key_present').execute()
  await db.schema.createIndex('outbound_messages_wamid_idx').on('outbound_messages')
    .column('wamid').where(sql.ref('wamid'), 'is not', null).execute()
  await db.schema.createIndex('outbound_messages_accepted_seq_idx').on('outbound_messages')
    .columns(['phone_number_id', 'seq']).where(sql.ref('state'), '=', 'accepted').execute()
  await db.schema.createIndex('outbound_messages_open_idx').on('outbound_messages')
    .columns(['phone_number_id', 'state']).where(sql.ref('state'), 'in', sql`('accepted', 'sending', 'unknown')`).execute()
  await db.schema.dropTable('outbound_wamids').execute()
  await db.schema.dropTable('outbound_open').execute()
}
