import { sql, type Kysely } from 'kysely'

// The sync service's record: coexistence onboarding and its one-time sync requests, number
// lifecycle, contacts, conversations, messages and their delivery statuses, history chunks, and the
// domain-event outbox. Idempotency lives here: every consumer writes through a unique key with
// ON CONFLICT, so a redelivered or replayed webhook changes nothing.
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createType('onboarding_state').asEnum([
    'onboarded', // the number is connected; sync requests not sent yet
    'contacts_sync_requested', // smb_app_data(smb_app_state_sync) accepted by Meta
    'history_sync_requested', // smb_app_data(history) accepted by Meta
    'importing', // history chunks arriving
    'complete', // history progress reached 100
    'declined', // the business turned history sharing off (2593109)
    'expired', // the 24-hour window closed before the requests went through (or Meta said 2593108)
    'failed', // Meta refused a request for good (e.g. a bad token)
    'refused' // not started: the number's country is not supported for coexistence
  ]).execute()
  await db.schema.createType('sync_request_state').asEnum(['pending', 'in_flight', 'accepted', 'failed', 'expired']).execute()
  await db.schema.createType('number_lifecycle_state').asEnum(['connected', 'offboarded', 'disconnected']).execute()
  await db.schema.createType('message_direction').asEnum(['inbound', 'outbound']).execute()
  await db.schema.createType('message_source').asEnum(['customer', 'business_app', 'api', 'history']).execute()
  await db.schema.createType('conversation_owner').asEnum(['api', 'app']).execute()

  // One row per coexistence onboarding of a number. A number re-onboarded after a disconnection
  // gets a new generation (Meta allows the one-time syncs again after a new Embedded Signup).
  await db.schema.createTable('onboardings')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('phone_number_id', 'text', (c) => c.notNull().references('phone_numbers.id').onDelete('cascade'))
    .addColumn('generation', 'integer', (c) => c.notNull())
    .addColumn('state', sql`onboarding_state`, (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('source', 'text', (c) => c.notNull()) // 'api' | 'account_update'
    .addColumn('onboarded_at', 'timestamptz', (c) => c.notNull())
    // Meta accepts smb_app_data only until onboarded_at + 24 h (2593108 after).
    .addColumn('deadline_at', 'timestamptz', (c) => c.notNull())
    .addColumn('history_phase', 'integer')
    .addColumn('history_progress', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('history_chunks', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('history_messages', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('history_threads', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('history_media_filled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('history_error_code', 'integer')
    .addColumn('contacts_synced', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('completed_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('onboardings_number_generation_key', ['phone_number_id', 'generation'])
    .addCheckConstraint('onboardings_progress_range', sql`history_progress BETWEEN 0 AND 100`)
    .addCheckConstraint('onboardings_source_known', sql`source IN ('api', 'account_update')`)
    .execute()

  // The guard that makes a second smb_app_data call per sync type impossible: one row per
  // (onboarding, sync type), claimed with a lease before the call (a crashed caller's lease
  // expires; its retry gets 2593107 from Meta if the first call went through, read as accepted).
  await db.schema.createTable('sync_requests')
    .addColumn('onboarding_id', 'uuid', (c) => c.notNull().references('onboardings.id').onDelete('cascade'))
    .addColumn('sync_type', 'text', (c) => c.notNull())
    .addColumn('phone_number_id', 'text', (c) => c.notNull())
    .addColumn('state', sql`sync_request_state`, (c) => c.notNull().defaultTo('pending'))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'timestamptz', (c) => c.notNull())
    .addColumn('lease_until', 'timestamptz')
    .addColumn('request_id', 'text') // Meta's request_id (support asks for it)
    .addColumn('accepted_at', 'timestamptz')
    .addColumn('last_error_code', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('sync_requests_pkey', ['onboarding_id', 'sync_type'])
    .addCheckConstraint('sync_requests_type_known', sql`sync_type IN ('smb_app_state_sync', 'history')`)
    .execute()
  await db.schema.createIndex('sync_requests_due_idx').on('sync_requests').columns(['next_attempt_at'])
    .where(sql.ref('state'), 'in', sql`('pending', 'in_flight')`).execute()

  // Connection lifecycle of a number from account_update (and the app's last sign of life).
  // phone_numbers.status is what the sender reads; this keeps the why and the ordering guard.
  await db.schema.createTable('number_lifecycle')
    .addColumn('phone_number_id', 'text', (c) => c.primaryKey().references('phone_numbers.id').onDelete('cascade'))
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('state', sql`number_lifecycle_state`, (c) => c.notNull().defaultTo('connected'))
    .addColumn('last_event', 'text')
    // Meta's entry.time of the event that set the state: an older event changes nothing.
    .addColumn('last_event_at', 'timestamptz')
    .addColumn('reason', 'text')
    .addColumn('initiated_by', 'text')
    // Last echo or contact change: proof the Business App was open (Meta disconnects after ~14 days).
    .addColumn('last_app_activity_at', 'timestamptz')
    .addColumn('activity_warning_level', 'text')
    .addColumn('activity_warned_for', 'timestamptz')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()

  // Every account_update applied, once: by (WABA, event, entry time, number). Also remembers a
  // PARTNER_ADDED that came before the number was registered.
  await db.schema.createTable('account_events')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('waba_id', 'text', (c) => c.notNull())
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('event_at', 'timestamptz', (c) => c.notNull())
    .addColumn('phone_number', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('value', 'jsonb', (c) => c.notNull())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('account_events_identity_key', ['waba_id', 'event', 'event_at', 'phone_number'])
    .execute()

  // Our app's subscription to each WABA's webhooks (POST /{waba-id}/subscribed_apps).
  await db.schema.createTable('waba_subscriptions')
    .addColumn('waba_id', 'text', (c) => c.primaryKey().references('wabas.id').onDelete('cascade'))
    .addColumn('subscribed_at', 'timestamptz')
    .addColumn('last_error', 'text')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()

  // A customer of a number. Known by phone (wa_id), by business-scoped user id, or both: the two
  // nullable unique keys let a user first seen by user_id and later by phone become one row.
  await db.schema.createTable('contacts')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('phone_number_id', 'text', (c) => c.notNull().references('phone_numbers.id').onDelete('cascade'))
    .addColumn('wa_id', 'text')
    .addColumn('user_id', 'text')
    .addColumn('username', 'text')
    .addColumn('profile_name', 'text')
    .addColumn('full_name', 'text')
    .addColumn('first_name', 'text')
    // In the Business App's address book (smb_app_state_sync add/remove).
    .addColumn('in_address_book', 'boolean', (c) => c.notNull().defaultTo(false))
    // metadata.timestamp of the address-book change applied last: an older one changes nothing.
    .addColumn('address_book_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('contacts_number_wa_id_key', ['phone_number_id', 'wa_id'])
    .addUniqueConstraint('contacts_number_user_id_key', ['phone_number_id', 'user_id'])
    .addCheckConstraint('contacts_identified', sql`wa_id IS NOT NULL OR user_id IS NOT NULL`)
    .execute()
  await db.schema.createIndex('contacts_tenant_idx').on('contacts').columns(['tenant_id', 'phone_number_id']).execute()

  await db.schema.createTable('conversations')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('phone_number_id', 'text', (c) => c.notNull().references('phone_numbers.id').onDelete('cascade'))
    .addColumn('contact_id', 'uuid', (c) => c.notNull().references('contacts.id').onDelete('cascade'))
    .addColumn('last_message_at', 'timestamptz')
    .addColumn('last_message_wamid', 'text')
    .addColumn('last_message_direction', sql`message_direction`)
    .addColumn('last_message_preview', 'text')
    // Last message the customer sent live (not history): the 24-hour customer service window.
    .addColumn('last_inbound_at', 'timestamptz')
    .addColumn('message_count', 'integer', (c) => c.notNull().defaultTo(0))
    // Set once a history message lands here: counts the threads the import reached.
    .addColumn('history_imported', 'boolean', (c) => c.notNull().defaultTo(false))
    // 'app' once the owner answered from the Business App (an echo): bots stand back.
    .addColumn('owner', sql`conversation_owner`, (c) => c.notNull().defaultTo('api'))
    .addColumn('owner_changed_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('conversations_number_contact_key', ['phone_number_id', 'contact_id'])
    .execute()
  // Newest first, keyset-paginated, per tenant and per number.
  await db.schema.createIndex('conversations_tenant_recent_idx').on('conversations')
    .expression(sql`tenant_id, last_message_at DESC NULLS LAST, id DESC`).execute()
  await db.schema.createIndex('conversations_number_recent_idx').on('conversations')
    .expression(sql`phone_number_id, last_message_at DESC NULLS LAST, id DESC`).execute()

  await db.schema.createTable('messages')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('tenant_id', 'uuid', (c) => c.notNull())
    .addColumn('phone_number_id', 'text', (c) => c.notNull())
    .addColumn('conversation_id', 'uuid', (c) => c.notNull())
    .addColumn('wamid', 'text', (c) => c.notNull())
    .addColumn('direction', sql`message_direction`, (c) => c.notNull())
    .addColumn('source', sql`message_source`, (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('text', 'text') // body, caption or title: previews and search
    .addColumn('content', 'jsonb') // Meta's message object as received (or as sent, for the API)
    .addColumn('media_id', 'text')
    .addColumn('media_mime_type', 'text')
    // A history media_placeholder still waiting for its media webhook.
    .addColumn('media_pending', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('context_wamid', 'text')
    .addColumn('referral', 'jsonb')
    .addColumn('from_id', 'text')
    .addColumn('to_id', 'text')
    .addColumn('sent_at', 'timestamptz', (c) => c.notNull()) // Meta's timestamp
    .addColumn('history_status', 'text') // history_context.status
    .addColumn('request_id', 'text') // Coexist's send request (source 'api')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('messages_number_wamid_key', ['phone_number_id', 'wamid'])
    .execute()
  await db.schema.createIndex('messages_conversation_idx').on('messages')
    .expression(sql`conversation_id, sent_at DESC, id DESC`).execute()
  await db.schema.createIndex('messages_request_idx').on('messages').column('request_id')
    .where(sql.ref('request_id'), 'is not', null).execute()

  // Every status webhook, once per (wamid, status): the audit trail, with errors and pricing.
  await db.schema.createTable('message_statuses')
    .addColumn('phone_number_id', 'text', (c) => c.notNull())
    .addColumn('wamid', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('status_at', 'timestamptz', (c) => c.notNull())
    .addColumn('recipient_id', 'text')
    .addColumn('error_code', 'integer')
    .addColumn('error_title', 'text')
    .addColumn('errors', 'jsonb')
    .addColumn('pricing', 'jsonb')
    .addColumn('received_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('message_statuses_pkey', ['phone_number_id', 'wamid', 'status'])
    .execute()

  // The current status of an outbound message; moves only forward (sent < delivered < read <
  // played; failed is final). Written by INSERT … ON CONFLICT DO UPDATE … WHERE rank grows, so it
  // does not matter whether the message row exists yet or in which order statuses come.
  await db.schema.createTable('delivery_states')
    .addColumn('phone_number_id', 'text', (c) => c.notNull())
    .addColumn('wamid', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('rank', 'smallint', (c) => c.notNull())
    .addColumn('previous_status', 'text')
    .addColumn('status_at', 'timestamptz', (c) => c.notNull())
    .addColumn('error_code', 'integer')
    .addColumn('error_title', 'text')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('delivery_states_pkey', ['phone_number_id', 'wamid'])
    .execute()

  // Send requests seen on wa.outbound.requests.v1: the content of API-sent messages, joined to
  // their result (which carries the wamid) whichever comes first.
  await db.schema.createTable('outbound_requests')
    .addColumn('request_id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'uuid', (c) => c.notNull())
    .addColumn('phone_number_id', 'text', (c) => c.notNull())
    .addColumn('recipient', 'text', (c) => c.notNull())
    .addColumn('message', 'jsonb', (c) => c.notNull())
    .addColumn('accepted_at', 'timestamptz', (c) => c.notNull())
    .execute()

  // History chunks imported, once each: (onboarding, phase, chunk_order).
  await db.schema.createTable('history_chunks')
    .addColumn('onboarding_id', 'uuid', (c) => c.notNull().references('onboardings.id').onDelete('cascade'))
    .addColumn('phase', 'integer', (c) => c.notNull())
    .addColumn('chunk_order', 'integer', (c) => c.notNull())
    .addColumn('progress', 'integer', (c) => c.notNull())
    .addColumn('threads', 'integer', (c) => c.notNull())
    .addColumn('messages', 'integer', (c) => c.notNull())
    .addColumn('imported_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('history_chunks_pkey', ['onboarding_id', 'phase', 'chunk_order'])
    .execute()

  // Domain events written in the same transaction as the change they report, published to
  // wa.events.v1 by the relay and then deleted: no event is lost to a crash between the two.
  await db.schema.createTable('event_outbox')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('event_id', 'text', (c) => c.notNull())
    .addColumn('event_type', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('payload', 'bytea', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  for (const t of ['event_outbox', 'history_chunks', 'outbound_requests', 'delivery_states', 'message_statuses', 'messages',
    'conversations', 'contacts', 'waba_subscriptions', 'account_events', 'number_lifecycle', 'sync_requests', 'onboardings']) {
    await db.schema.dropTable(t).execute()
  }
  for (const t of ['conversation_owner', 'message_source', 'message_direction', 'number_lifecycle_state', 'sync_request_state', 'onboarding_state']) {
    await db.schema.dropType(t).execute()
  }
}
