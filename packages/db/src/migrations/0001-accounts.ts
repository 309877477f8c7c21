import { sql, type Kysely } from 'kysely'

// Tenants, their API keys, WABAs and phone numbers: the accounts every service reads.
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createTable('tenants')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()

  // Keys are stored as SHA-256 of the secret; the plain key is shown once at creation.
  await db.schema.createTable('api_keys')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('tenant_id', 'uuid', (c) => c.references('tenants.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('key_hash', 'bytea', (c) => c.notNull().unique())
    .addColumn('key_prefix', 'text', (c) => c.notNull())
    .addColumn('roles', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_used_at', 'timestamptz')
    .addColumn('revoked_at', 'timestamptz')
    // An admin key has no tenant; every other key belongs to exactly one.
    .addCheckConstraint('api_keys_tenant_or_admin', sql`tenant_id IS NOT NULL OR 'admin' = ANY(roles)`)
    .execute()

  await db.schema.createTable('wabas')
    .addColumn('id', 'text', (c) => c.primaryKey()) // Meta's WABA id
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('name', 'text')
    .addColumn('currency', 'text')
    .addColumn('timezone', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
  await db.schema.createIndex('wabas_tenant_idx').on('wabas').column('tenant_id').execute()

  await db.schema.createTable('phone_numbers')
    .addColumn('id', 'text', (c) => c.primaryKey()) // Meta's phone_number_id
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('waba_id', 'text', (c) => c.notNull().references('wabas.id').onDelete('cascade'))
    .addColumn('display_phone_number', 'text', (c) => c.notNull())
    .addColumn('mode', 'text', (c) => c.notNull().check(sql`mode IN ('cloud_api', 'coexistence')`))
    .addColumn('throughput_mps', 'integer', (c) => c.notNull().check(sql`throughput_mps BETWEEN 1 AND 1000`))
    // AES-256-GCM: iv (12 bytes) | ciphertext | tag (16 bytes), under the key named by token_key_id.
    .addColumn('access_token_enc', 'bytea')
    .addColumn('token_key_id', 'text')
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('active'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
  await db.schema.createIndex('phone_numbers_tenant_idx').on('phone_numbers').column('tenant_id').execute()
  await db.schema.createIndex('phone_numbers_waba_idx').on('phone_numbers').column('waba_id').execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('phone_numbers').execute()
  await db.schema.dropTable('wabas').execute()
  await db.schema.dropTable('api_keys').execute()
  await db.schema.dropTable('tenants').execute()
}
