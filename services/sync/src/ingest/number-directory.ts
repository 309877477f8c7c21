import type { Db, DbExecutor } from '@coexist/db'
import type { NumberRef } from '../store/contacts.ts'

/** What the consumers need to know about a number to attribute its webhooks. */
export interface NumberInfo extends NumberRef {
  displayPhoneNumber: string
  mode: 'cloud_api' | 'coexistence'
}

/**
 * Looks numbers up by phone_number_id, caching hits: a number's tenant, WABA and display number
 * never change, so a cached entry is never stale (a deleted number's webhooks fail later anyway).
 */
export interface NumberDirectory {
  get: (db: DbExecutor, phoneNumberId: string) => Promise<NumberInfo | undefined>
}

/** A directory with a bounded cache (oldest entry dropped first). */
export function createNumberDirectory (max = 10_000): NumberDirectory {
  const cache = new Map<string, NumberInfo>()
  return {
    async get (db, phoneNumberId) {
      const hit = cache.get(phoneNumberId)
      if (hit !== undefined) return hit
      const row = await (db as Db).selectFrom('phone_numbers')
        .select(['id', 'tenant_id', 'waba_id', 'display_phone_number', 'mode'])
        .where('id', '=', phoneNumberId).executeTakeFirst()
      if (row === undefined) return undefined
      const info: NumberInfo = { phoneNumberId: row.id, tenantId: row.tenant_id, wabaId: row.waba_id, displayPhoneNumber: row.display_phone_number, mode: row.mode }
      if (cache.size >= max) cache.delete(cache.keys().next().value as string)
      cache.set(phoneNumberId, info)
      return info
    }
  }
}
