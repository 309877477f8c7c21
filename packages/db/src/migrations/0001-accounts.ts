import { sql, type Kysely } from 'kysely'

// Tenants, their API keys, WABAs and phone numbers: the accounts every service reads.
// Constraints are named: the repositories map a violated constraint to a coded error by name.
export async function up (db: Kysely<any>): Promise<void> {
  // Enums rather than text + CHECK so that kysely-codegen emits the unions into `Database`.
  await db.schema.createType('phone_number_mode').asEnum(['cloud_api', 'coexistence']).execute()
  await db.schema.createType('phone_number_status').asEnum(['pending', 'active', 'suspended', 'disconnected']).execute()

  await db.schema.createTable('tenants')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('tenants_name_not_blank', sql`btrim(name) <> ''`)
    .execute()

  // Keys are stored as SHA-256 of the secret; the plain key is shown once at creation. Lookups go
  // through the unique index on the hash. Roles are text[] (not an enum array: node-postgres does
  // not parse arrays of custom types) limited by a CHECK to the known roles.
  await db.schema.createTable('api_keys')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('tenant_id', 'uuid', (c) => c.references('tenants.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('key_hash', 'bytea', (c) => c.notNull())
    .addColumn('key_prefix', 'text', (c) => c.notNull())
    .addColumn('roles', sql`text[]`, (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_used_at', 'timestamptz')
    .addColumn('revoked_at', 'timestamptz')
    .addUniqueConstraint('api_keys_key_hash_key', ['key_hash'])
    .addCheckConstraint('api_keys_key_hash_sha256', sql`octet_length(key_hash) = 32`)
    .addCheckConstraint('api_keys_roles_known', sql`cardinality(roles) > 0 AND roles <@ ARRAY['admin', 'read', 'send', 'manage']::text[]`)
    // An admin key may have no tenant (platform-wide); every other key belongs to exactly one.
    .addCheckConstraint('api_keys_tenant_or_admin', sql`tenant_id IS NOT NULL OR 'admin' = ANY(roles)`)
    .execute()
  await db.schema.createIndex('api_keys_tenant_idx').on('api_keys').column('tenant_id').execute()

  // A WABA belongs to one tenant for life: re-registering it under another tenant is refused.
  await db.schema.createTable('wabas')
    .addColumn('id', 'text', (c) => c.primaryKey()) // Meta's WABA id
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('name', 'text')
    .addColumn('currency', 'text') // ISO 4217, as Meta reports it
    .addColumn('timezone', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    // Target of phone_numbers' (waba_id, tenant_id) foreign key.
    .addUniqueConstraint('wabas_id_tenant_key', ['id', 'tenant_id'])
    .addCheckConstraint('wabas_currency_iso', sql`currency ~ '^[A-Z]{3}$'`)
    .execute()
  await db.schema.createIndex('wabas_tenant_idx').on('wabas').column('tenant_id').execute()

  await db.schema.createTable('phone_numbers')
    .addColumn('id', 'text', (c) => c.primaryKey()) // Meta's phone_number_id
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('waba_id', 'text', (c) => c.notNull())
    .addColumn('display_phone_number', 'text', (c) => c.notNull())
    .addColumn('mode', sql`phone_number_mode`, (c) => c.notNull())
    // Messages per second the sender may release for this number (Meta counts per second).
    .addColumn('throughput_mps', 'integer', (c) => c.notNull())
    // AES-256-GCM: iv (12 bytes) | ciphertext | tag (16 bytes), under the key named by token_key_id,
    // with the row id as additional authenticated data (a ciphertext copied to another row fails).
    .addColumn('access_token_enc', 'bytea')
    .addColumn('token_key_id', 'text')
    .addColumn('status', sql`phone_number_status`, (c) => c.notNull().defaultTo('active'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    // The WABA must belong to the same tenant as the number: walls hold in the schema too.
    .addForeignKeyConstraint('phone_numbers_waba_fk', ['waba_id', 'tenant_id'], 'wabas', ['id', 'tenant_id'], (c) => c.onDelete('cascade'))
    .addCheckConstraint('phone_numbers_throughput_range', sql`throughput_mps BETWEEN 1 AND 1000`)
    // Meta fixes coexistence numbers at 20 MPS; more would only earn 130429 errors.
    .addCheckConstraint('phone_numbers_coexistence_throughput', sql`mode = 'cloud_api' OR throughput_mps <= 20`)
    .addCheckConstraint('phone_numbers_token_pair', sql`(access_token_enc IS NULL) = (token_key_id IS NULL)`)
    .execute()
  await db.schema.createIndex('phone_numbers_tenant_idx').on('phone_numbers').column('tenant_id').execute()
  await db.schema.createIndex('phone_numbers_waba_idx').on('phone_numbers').columns(['waba_id', 'tenant_id']).execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('phone_numbers').execute()
  await db.schema.dropTable('wabas').execute()
  await db.schema.dropTable('api_keys').execute()
  await db.schema.dropTable('tenants').execute()
  await db.schema.dropType('phone_number_status').execute()
  await db.schema.dropType('phone_number_mode').execute()
}
