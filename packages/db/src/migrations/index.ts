import type { Migration } from 'kysely/migration'
import * as m0001 from './0001-accounts.ts'
import * as m0101 from './0101-sync.ts'
import * as m0200 from './0200-outbound.ts'
import * as m0201 from './0201-outbound-read-receipts.ts'
import * as m0202 from './0202-outbound-parked.ts'
import * as m0203 from './0203-outbound-seq.ts'
import * as m0204 from './0204-outbound-finished-by.ts'
import * as m0205 from './0205-outbound-hot-updates.ts'
import * as m0301 from './0301-billing.ts'

/**
 * Every migration, by name; names sort in the order they run. Services add theirs here with
 * their own number range: 01xx sync, 02xx outbound-sender, 03xx billing.
 */
export const MIGRATIONS: Record<string, Migration> = {
  '0001-accounts': m0001,
  '0101-sync': m0101,
  '0200-outbound': m0200,
  '0201-outbound-read-receipts': m0201,
  '0202-outbound-parked': m0202,
  '0203-outbound-seq': m0203,
  '0204-outbound-finished-by': m0204,
  '0205-outbound-hot-updates': m0205,
  '0301-billing': m0301
}
