// UsageRecord (proto/coexist/billing/v1) encoded by hand. The pricer writes one per settled line,
// hundreds of thousands an hour: protobuf-es's reflective create() + toBinary() cost about four
// times this and allocate a writer, its chunks and a message object per record. The bytes are
// exactly toBinary's (fields in number order, proto3 defaults omitted); a test compares them
// field by field, so a field added to the contract must be added here.
import type { UsageRecord } from '@coexist/contracts'

/** The fields of a UsageRecord (int64s as numbers: ms and micros stay far below 2^53). */
export interface UsageRecordFields {
  usageId: string
  tenantId: string
  phoneNumberId: string
  wamid: string
  category: string
  market: string
  pricingType: string
  billable: boolean
  freeReason: string
  currency: string
  metaCostMicros: number
  billedPriceMicros: number
  rateCardVersion: string
  pricedAt: number
  wabaId: string
  messageSentAt: number
  revision: number
  tier: string
  origin: string
  country: string
}

// Every field of the contract must be listed in UsageRecordFields (compile-time check).
type Same<A, B> = [A] extends [B] ? [B] extends [A] ? true : false : false
const _allFields: Same<keyof UsageRecordFields, Exclude<keyof UsageRecord, '$typeName' | '$unknown'>> = true
void _allFields

let scratch = Buffer.allocUnsafe(4096)
let at = 0

function varint (n: number): void {
  while (n > 0x7f) {
    scratch[at++] = (n % 0x80) | 0x80
    n = Math.floor(n / 0x80)
  }
  scratch[at++] = n
}

function str (field: number, s: string): void {
  if (s === '') return
  const max = s.length * 3
  if (at + max + 12 > scratch.length) grow(max + 12)
  scratch[at++] = (field << 3) | 2
  if (field > 15) scratch[at++] = field >> 4
  // ASCII (every id and name here) is one byte per char: copied in a loop, which beats a call
  // into Buffer#write for strings this short. Anything else goes through Buffer#write.
  const n = s.length
  if (n < 0x80) {
    const start = at
    scratch[at++] = n
    let i = 0
    for (; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c >= 0x80) break
      scratch[at++] = c
    }
    if (i === n) return
    at = start
  }
  varint(Buffer.byteLength(s, 'utf8'))
  at += scratch.write(s, at, 'utf8')
}

function int (field: number, n: number): void {
  if (n === 0) return
  if (!Number.isSafeInteger(n)) throw new RangeError(`UsageRecord field ${field}: ${n} is not a safe integer`)
  if (at + 16 > scratch.length) grow(16)
  scratch[at++] = field << 3
  if (field > 15) scratch[at++] = field >> 4
  if (n > 0) { varint(n); return }
  // A negative int64 (a discount as markup could make one) is ten bytes of two's complement.
  let b = BigInt.asUintN(64, BigInt(n))
  while (b > 0x7fn) { scratch[at++] = Number(b & 0x7fn) | 0x80; b >>= 7n }
  scratch[at++] = Number(b)
}

function grow (need: number): void {
  const next = Buffer.allocUnsafe(Math.max(scratch.length * 2, at + need))
  scratch.copy(next, 0, 0, at)
  scratch = next
}

/**
 * The UsageRecord's protobuf bytes, identical to `toBinary(UsageRecordSchema, create(…))`.
 * Numbers must be safe integers (prices in micros, times in ms).
 */
export function encodeUsageRecord (r: UsageRecordFields): Buffer {
  at = 0
  str(1, r.usageId)
  str(2, r.tenantId)
  str(3, r.phoneNumberId)
  str(4, r.wamid)
  str(5, r.category)
  str(6, r.market)
  str(7, r.pricingType)
  if (r.billable) int(8, 1)
  str(9, r.freeReason)
  str(10, r.currency)
  int(11, r.metaCostMicros)
  int(12, r.billedPriceMicros)
  str(13, r.rateCardVersion)
  int(14, r.pricedAt)
  str(15, r.wabaId)
  int(16, r.messageSentAt)
  int(17, r.revision)
  str(18, r.tier)
  str(19, r.origin)
  str(20, r.country)
  return Buffer.from(scratch.subarray(0, at))
}
