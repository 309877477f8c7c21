import { sql, type Kysely } from 'kysely'

// The outbound sender's record: every accepted send request and its state machine, the sender's
// own view of customer service windows, and the tenants' balance states as billing announces them.
//
// Exactly-once lives here. A request row is inserted before its Kafka record is acknowledged and
// is unique per (tenant, Idempotency-Key); the worker moves it accepted → sending with a
// conditional UPDATE that only one process can win, so a replayed record, a restarted worker or a
// zombie after a rebalance never sends it twice.
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createType('outbound_state').asEnum([
    'accepted', // durable, waiting for its turn (also between retries)
    'sending', // claimed by a worker for attempt `attempts`; the Graph call may be in flight
    'sent', // Meta returned a wamid
    'failed', // Meta refused it for good, or the number can no longer send
    'unknown', // the outcome of an attempt is unknown (crash or timeout after the request left)
    'dead_lettered' // could not be sent within the retry budget; on wa.outbound.dlq.v1
  ]).execute()
  await db.schema.createType('outbound_delivery').asEnum(['delivered', 'read', 'failed']).execute()

  await db.schema.createTable('outbound_messages')
    .addColumn('id', 'uuid', (c) => c.primaryKey()) // the request id returned in the 202
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('phone_number_id', 'text', (c) => c.notNull())
    .addColumn('recipient', 'text', (c) => c.notNull())
    .addColumn('recipient_type', 'text', (c) => c.notNull())
    .addColumn('message_type', 'text', (c) => c.notNull())
    .addColumn('is_template', 'boolean', (c) => c.notNull())
    .addColumn('category_hint', 'text')
    .addColumn('idempotency_key', 'text')
    // SHA-256 of the canonical request: the same key with another body is refused (409).
    .addColumn('request_hash', 'bytea', (c) => c.notNull())
    // The Graph API body to send, exactly as validated.
    .addColumn('body', 'jsonb', (c) => c.notNull())
    .addColumn('state', sql`outbound_state`, (c) => c.notNull().defaultTo('accepted'))
    // Cloud API calls claimed so far; the claim of attempt n+1 requires attempts = n.
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('wamid', 'text')
    // OUT_… or META_API_ERROR; meta_error holds Meta's error when there was one.
    .addColumn('error_code', 'text')
    .addColumn('error_message', 'text')
    .addColumn('meta_error', 'jsonb')
    // From status webhooks (Meta's word on delivery), monotonic: delivered < read; failed apart.
    .addColumn('delivery', sql`outbound_delivery`)
    .addColumn('delivery_at', 'timestamptz')
    // Set when the Kafka record is acknowledged; a row without it was never answered 202.
    .addColumn('published_at', 'timestamptz')
    .addColumn('accepted_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('sending_at', 'timestamptz')
    .addColumn('sent_at', 'timestamptz')
    .addColumn('completed_at', 'timestamptz')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('outbound_messages_recipient_type_known', sql`recipient_type IN ('phone', 'user_id')`)
    .addCheckConstraint('outbound_messages_attempts_nonneg', sql`attempts >= 0`)
    .addCheckConstraint('outbound_messages_idempotency_key_len', sql`idempotency_key IS NULL OR length(idempotency_key) BETWEEN 1 AND 255`)
    .addCheckConstraint('outbound_messages_sent_has_wamid', sql`state <> 'sent' OR wamid IS NOT NULL`)
    .execute()
  // NULL keys never conflict (requests without Idempotency-Key).
  await db.schema.createIndex('outbound_messages_idempotency_key').on('outbound_messages')
    .columns(['tenant_id', 'idempotency_key']).unique().execute()
  await db.schema.createIndex('outbound_messages_tenant_accepted_idx').on('outbound_messages')
    .columns(['tenant_id', 'accepted_at']).execute()
  await db.schema.createIndex('outbound_messages_wamid_idx').on('outbound_messages')
    .column('wamid').where(sql.ref('wamid'), 'is not', null).execute()
  // Ops queries: what is stuck, per number (unknown outcomes to look at, requests never published).
  await db.schema.createIndex('outbound_messages_open_idx').on('outbound_messages')
    .columns(['phone_number_id', 'state']).where(sql.ref('state'), 'in', sql`('accepted', 'sending', 'unknown')`).execute()

  // The 24-hour customer service window as the sender sees it: the last message each customer
  // sent to each number (inbound user messages only: history and app echoes never open one).
  // `customer` is the wa_id in digits, or `uid:<business-scoped user id>`.
  await db.schema.createTable('outbound_service_windows')
    .addColumn('phone_number_id', 'text', (c) => c.notNull())
    .addColumn('customer', 'text', (c) => c.notNull())
    .addColumn('last_inbound_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('outbound_service_windows_pkey', ['phone_number_id', 'customer'])
    .execute()

  // Each tenant's balance state as billing last announced it (TenantBalanceEvent); an event older
  // than the stored one changes nothing.
  await db.schema.createTable('outbound_tenant_balances')
    .addColumn('tenant_id', 'uuid', (c) => c.primaryKey())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('balance_micros', 'bigint', (c) => c.notNull())
    .addColumn('currency', 'text')
    .addColumn('occurred_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('outbound_tenant_balances_state_known', sql`state IN ('ok', 'low', 'exhausted', 'unspecified')`)
    .execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('outbound_tenant_balances').execute()
  await db.schema.dropTable('outbound_service_windows').execute()
  await db.schema.dropTable('outbound_messages').execute()
  await db.schema.dropType('outbound_delivery').execute()
  await db.schema.dropType('outbound_state').execute()
}
