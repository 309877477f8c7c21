import { sql, type Kysely } from 'kysely'

// The billing service's record: rate cards, the ledger (one line per message, by wamid), the
// user messages that open service windows, volume-tier counters and Meta's tier updates, tenant
// plans, balances, top-ups, monthly spend, the event outbox, and pricing-analytics runs.
// Money is integer micros (BIGINT) of the row's currency, never a float. Idempotency lives here:
// the ledger is keyed by wamid, inbound messages by wamid, top-ups by (tenant, idempotency key).
const CATEGORIES = sql`('marketing', 'marketing_lite', 'utility', 'authentication', 'authentication_international', 'service', 'referral_conversion')`

export async function up (db: Kysely<any>): Promise<void> {
  // A rate card version: one currency, effective from a local date (Meta changes prices on
  // quarter starts, at 00:00 in each WABA's timezone). `seq` orders loads: for one currency and
  // date the last load wins. `digest` makes loading the same card twice a no-op.
  await db.schema.createTable('billing_rate_cards')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('seq', 'bigint', (c) => c.notNull().generatedAlwaysAsIdentity())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('effective_from', 'date', (c) => c.notNull())
    .addColumn('is_sample', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('source', 'text')
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('billing_rate_cards_version_key', ['currency', 'effective_from', 'version'])
    .addUniqueConstraint('billing_rate_cards_seq_key', ['seq'])
    .addCheckConstraint('billing_rate_cards_currency_iso', sql`currency ~ '^[A-Z]{3}$'`)
    .addCheckConstraint('billing_rate_cards_version_not_blank', sql`btrim(version) <> ''`)
    .execute()

  // Prices of a card: market × category × volume band (tier_from..tier_to messages of the month,
  // 1-based, tier_to NULL = no bound). Untiered prices are one band from 1.
  await db.schema.createTable('billing_rates')
    .addColumn('rate_card_id', 'uuid', (c) => c.notNull().references('billing_rate_cards.id').onDelete('cascade'))
    .addColumn('market', 'text', (c) => c.notNull())
    .addColumn('category', 'text', (c) => c.notNull())
    .addColumn('tier_from', 'integer', (c) => c.notNull())
    .addColumn('tier_to', 'integer')
    .addColumn('unit_price_micros', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('billing_rates_pkey', ['rate_card_id', 'market', 'category', 'tier_from'])
    .addCheckConstraint('billing_rates_category_known', sql`category IN ${CATEGORIES}`)
    .addCheckConstraint('billing_rates_band', sql`tier_from >= 1 AND (tier_to IS NULL OR tier_to >= tier_from)`)
    .addCheckConstraint('billing_rates_price_non_negative', sql`unit_price_micros >= 0`)
    .execute()

  // Users' messages to a business number: each opens (or extends) the 24 h customer service
  // window; one that came through an ad or Page CTA (referral) can open a free entry point window.
  await db.schema.createTable('billing_inbound_messages')
    .addColumn('wamid', 'text', (c) => c.primaryKey())
    .addColumn('phone_number_id', 'text', (c) => c.notNull())
    .addColumn('wa_id', 'text', (c) => c.notNull())
    .addColumn('sent_at', 'timestamptz', (c) => c.notNull())
    .addColumn('entry_point', 'boolean', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('billing_inbound_pair_idx').on('billing_inbound_messages').columns(['phone_number_id', 'wa_id', 'sent_at']).execute()

  // The ledger: exactly one line per message (wamid), charged or free. Facts merge into it
  // monotonically (earliest send time, highest delivery rank, Meta's pricing from the highest
  // status); the verdict and price are recomputed from them, and `revision` counts changes of
  // what the tenant is billed. Not a foreign key to tenants: a financial record outlives them.
  await db.schema.createTable('billing_ledger')
    .addColumn('wamid', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'uuid')
    .addColumn('waba_id', 'text')
    .addColumn('phone_number_id', 'text', (c) => c.notNull())
    .addColumn('recipient', 'text', (c) => c.notNull())
    .addColumn('market', 'text')
    .addColumn('country', 'text')
    .addColumn('currency', 'text')
    .addColumn('timezone', 'text')
    .addColumn('origin', 'text', (c) => c.notNull())
    .addColumn('is_template', 'boolean')
    .addColumn('category_hint', 'text')
    .addColumn('sent_at', 'timestamptz', (c) => c.notNull())
    .addColumn('delivery', 'text', (c) => c.notNull())
    .addColumn('delivered_at', 'timestamptz')
    .addColumn('meta_rank', 'smallint', (c) => c.notNull().defaultTo(0))
    .addColumn('meta_pricing_model', 'text')
    .addColumn('meta_pricing_type', 'text')
    .addColumn('meta_category', 'text')
    .addColumn('meta_billable', 'boolean')
    .addColumn('own_category', 'text')
    .addColumn('own_billable', 'boolean')
    .addColumn('own_free_reason', 'text')
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('category', 'text')
    .addColumn('free_reason', 'text')
    .addColumn('pricing_type', 'text')
    .addColumn('decided_by', 'text', (c) => c.notNull())
    .addColumn('rate_card_id', 'uuid')
    .addColumn('rate_card_version', 'text')
    .addColumn('tier_month', 'text')
    .addColumn('tier_position', 'integer')
    .addColumn('tier', 'text')
    .addColumn('unit_price_micros', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('billed_price_micros', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('revision', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('first_seen_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('settled_at', 'timestamptz')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('billing_ledger_origin_known', sql`origin IN ('api', 'business_app', 'unknown')`)
    .addCheckConstraint('billing_ledger_delivery_known', sql`delivery IN ('pending', 'delivered', 'failed')`)
    .addCheckConstraint('billing_ledger_state_known', sql`state IN ('pending', 'charged', 'free', 'unpriced')`)
    .addCheckConstraint('billing_ledger_decided_by_known', sql`decided_by IN ('meta', 'own', 'none')`)
    .addCheckConstraint('billing_ledger_category_known', sql`category IS NULL OR category IN ${CATEGORIES}`)
    // Invariant 6 in the schema: a Business App message is never charged.
    .addCheckConstraint('billing_ledger_app_free', sql`origin <> 'business_app' OR (state = 'free' AND billed_price_micros = 0)`)
    .addCheckConstraint('billing_ledger_free_costs_nothing', sql`state = 'charged' OR (unit_price_micros = 0 AND billed_price_micros = 0)`)
    .execute()
  // Few indexes on purpose: every status rewrites its line. Usage, invoices, analytics and tier
  // repricing go through (tenant_id, sent_at); windows through the business number × user pair.
  await db.schema.createIndex('billing_ledger_tenant_sent_idx').on('billing_ledger').columns(['tenant_id', 'sent_at']).execute()
  await db.schema.createIndex('billing_ledger_pair_idx').on('billing_ledger').columns(['phone_number_id', 'recipient', 'sent_at']).execute()

  // Charged messages per market × category × month (the WABA's timezone) of a pricing scope (the
  // business portfolio when known, else the WABA): our count toward Meta's volume tiers.
  await db.schema.createTable('billing_volume_counters')
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('market', 'text', (c) => c.notNull())
    .addColumn('category', 'text', (c) => c.notNull())
    .addColumn('month', 'text', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('billing_volume_counters_pkey', ['scope', 'market', 'category', 'month'])
    .execute()

  // Meta's VOLUME_BASED_PRICING_TIER_UPDATE events: the authority on tiers. Duplicates describing
  // one tier switch keep the smallest tier_update_time (Meta's advice).
  await db.schema.createTable('billing_volume_tiers')
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('market', 'text', (c) => c.notNull())
    .addColumn('category', 'text', (c) => c.notNull())
    .addColumn('month', 'text', (c) => c.notNull())
    .addColumn('tier_lower', 'integer', (c) => c.notNull())
    .addColumn('tier_upper', 'integer')
    .addColumn('tier_update_time', 'timestamptz', (c) => c.notNull())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('billing_volume_tiers_pkey', ['scope', 'market', 'category', 'month', 'tier_lower'])
    .execute()

  // Per-WABA billing settings: the business portfolio it belongs to (volume tiers accrue across a
  // portfolio's WABAs).
  await db.schema.createTable('billing_waba_settings')
    .addColumn('waba_id', 'text', (c) => c.primaryKey())
    .addColumn('business_portfolio_id', 'text')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()

  // A tenant's plan: markup on Meta's price (percentage in basis points and/or a fixed amount per
  // charged message), prepaid or not, and the balance under which it is LOW.
  await db.schema.createTable('billing_tenant_plans')
    .addColumn('tenant_id', 'uuid', (c) => c.primaryKey().references('tenants.id').onDelete('cascade'))
    .addColumn('markup_percent_bps', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('markup_per_message_micros', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('prepaid', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('low_balance_micros', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('billing_tenant_plans_markup_non_negative', sql`markup_percent_bps >= 0 AND markup_per_message_micros >= 0 AND low_balance_micros >= 0`)
    .execute()

  // Balance per tenant and currency (top-ups minus billed charges) and the monthly spend limit.
  await db.schema.createTable('billing_balances')
    .addColumn('tenant_id', 'uuid', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('balance_micros', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('spend_limit_micros', 'bigint')
    .addColumn('state', 'text', (c) => c.notNull().defaultTo('OK'))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('billing_balances_pkey', ['tenant_id', 'currency'])
    .addCheckConstraint('billing_balances_state_known', sql`state IN ('OK', 'LOW', 'EXHAUSTED')`)
    .addCheckConstraint('billing_balances_currency_iso', sql`currency ~ '^[A-Z]{3}$'`)
    .execute()

  // Billed spend per tenant, currency and calendar month (UTC) of the messages' send time.
  await db.schema.createTable('billing_monthly_spend')
    .addColumn('tenant_id', 'uuid', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('month', 'text', (c) => c.notNull())
    .addColumn('spend_micros', 'bigint', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('billing_monthly_spend_pkey', ['tenant_id', 'currency', 'month'])
    .execute()

  await db.schema.createTable('billing_topups')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('amount_micros', 'bigint', (c) => c.notNull())
    .addColumn('idempotency_key', 'text', (c) => c.notNull())
    .addColumn('note', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('billing_topups_idempotency_key', ['tenant_id', 'idempotency_key'])
    .addCheckConstraint('billing_topups_amount_positive', sql`amount_micros > 0`)
    .addCheckConstraint('billing_topups_currency_iso', sql`currency ~ '^[A-Z]{3}$'`)
    .execute()

  // Events written in the same transaction as the change they describe, published afterwards
  // (at least once; consumers dedupe UsageRecord by usage_id + revision). A row holds one event,
  // or with `keys` a batch: `payload` is the events framed as [4-byte length][bytes], keys[i] the
  // record key of event i (one row per pricing transaction instead of one per message).
  await db.schema.createTable('billing_outbox')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('topic', 'text', (c) => c.notNull()) // a @coexist/bus topic key, e.g. 'billing.usage'
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('keys', sql`text[]`)
    .addColumn('event_type', 'text', (c) => c.notNull())
    .addColumn('schema', 'text', (c) => c.notNull())
    .addColumn('tenant_id', 'text')
    .addColumn('payload', 'bytea', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()

  // Meta's pricing_analytics for a WABA and period, with our totals beside them.
  await db.schema.createTable('billing_analytics_runs')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('tenant_id', 'uuid', (c) => c.notNull())
    .addColumn('waba_id', 'text', (c) => c.notNull())
    .addColumn('start_at', 'timestamptz', (c) => c.notNull())
    .addColumn('end_at', 'timestamptz', (c) => c.notNull())
    .addColumn('granularity', 'text', (c) => c.notNull())
    .addColumn('meta_points', 'jsonb', (c) => c.notNull())
    .addColumn('comparison', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
  await db.schema.createIndex('billing_analytics_runs_waba_idx').on('billing_analytics_runs').columns(['waba_id', 'created_at']).execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  for (const t of ['billing_analytics_runs', 'billing_outbox', 'billing_topups', 'billing_monthly_spend', 'billing_balances', 'billing_tenant_plans',
    'billing_waba_settings', 'billing_volume_tiers', 'billing_volume_counters', 'billing_ledger', 'billing_inbound_messages', 'billing_rates', 'billing_rate_cards']) {
    await db.schema.dropTable(t).execute()
  }
}
