import { randomBytes } from 'node:crypto'
import { createDb, type Db } from '@coexist/db'
import { testDatabase, type Teardown } from '@coexist/testkit'
import type { NumberRef } from '../src/store/contacts.ts'

/** A fresh migrated database with a Kysely handle closed at teardown. */
export async function testDb (t: Teardown, max = 4): Promise<{ db: Db, url: string }> {
  const { url } = await testDatabase(t)
  const db = createDb(url, { max })
  t.teardown(() => db.destroy())
  return { db, url }
}

/** A tenant, a WABA and a number, inserted directly (the accounts API has its own tests). */
export async function seedNumber (db: Db, opts: { mode?: 'cloud_api' | 'coexistence', display?: string, tenantId?: string } = {}): Promise<NumberRef & { display: string }> {
  const tenantId = opts.tenantId ?? (await db.insertInto('tenants').values({ name: 'T ' + randomBytes(2).toString('hex') }).returning('id').executeTakeFirstOrThrow()).id
  const wabaId = '31' + String(Math.floor(Math.random() * 1e13)).padStart(13, '0')
  const phoneNumberId = '62' + String(Math.floor(Math.random() * 1e13)).padStart(13, '0')
  const display = opts.display ?? '5511999990000'
  await db.insertInto('wabas').values({ id: wabaId, tenant_id: tenantId }).execute()
  await db.insertInto('phone_numbers').values({
    id: phoneNumberId,
    tenant_id: tenantId,
    waba_id: wabaId,
    display_phone_number: display,
    mode: opts.mode ?? 'coexistence',
    throughput_mps: 20
  }).execute()
  return { tenantId, wabaId, phoneNumberId, display }
}
