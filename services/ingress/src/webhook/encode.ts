/**
 * Protobuf encoders for the two messages every webhook becomes: `RawWebhook` (the archive) and
 * `WebhookChange` (one per change). They write the same bytes as @bufbuild/protobuf's
 * `toBinary(schema, create(schema, value))` (fields in declaration order, proto3 defaults
 * omitted; test/webhook/encode.test.ts compares them on every sample), in one pass into one
 * buffer sized up front: the generic path (create, a reflective writer, a copy out of its
 * growing buffer) cost more than the rest of the fan-out at full load.
 */
import type { RawWebhook, WebhookChange } from '@coexist/contracts'

/** The fields ingress sets (a subset of the message init shapes, all present). */
export type RawWebhookFields = Pick<RawWebhook, 'body' | 'receivedAt' | 'appId' | 'signatureVerified' | 'contentType' | 'requestId'>
export type WebhookChangeFields = Pick<WebhookChange,
  'field' | 'wabaId' | 'phoneNumberId' | 'entryId' | 'entryTime' | 'changeIndex' | 'valueJson' | 'rawRequestId' | 'receivedAt' | 'appId' | 'entryIndex'>

// Wire types: 0 varint, 2 length-delimited. Tag = field number << 3 | wire type (one byte below 16).
const LEN = 2
const tag = (field: number, wire: number): number => (field << 3) | wire

const varintSize = (n: number): number => n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5

const SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/** Bytes of a varint of a non-negative safe integer. */
function varintSizeOf (n: number): number {
  let size = 1
  while (n >= 0x80) { n = Math.floor(n / 0x80); size++ }
  return size
}

/** Bytes of an int64 varint (negative numbers take ten: two's complement, as protobuf-es writes them). */
function varint64Size (n: bigint): number {
  // Millisecond timestamps and Unix seconds are safe integers: number arithmetic, no BigInt steps.
  if (n >= 0n && n <= SAFE) return varintSizeOf(Number(n))
  let v = BigInt.asUintN(64, n)
  let size = 1
  while (v >= 0x80n) { v >>= 7n; size++ }
  return size
}

function writeVarint (buf: Buffer, pos: number, n: number): number {
  while (n >= 0x80) { buf[pos++] = (n & 0x7f) | 0x80; n >>>= 7 }
  buf[pos++] = n
  return pos
}

function writeVarint64 (buf: Buffer, pos: number, n: bigint): number {
  if (n >= 0n && n <= SAFE) {
    let v = Number(n)
    while (v >= 0x80) { buf[pos++] = (v % 0x80) | 0x80; v = Math.floor(v / 0x80) }
    buf[pos++] = v
    return pos
  }
  let v = BigInt.asUintN(64, n)
  while (v >= 0x80n) { buf[pos++] = Number(v & 0x7fn) | 0x80; v >>= 7n }
  buf[pos++] = Number(v)
  return pos
}

/** A string field's size on the wire (0 when empty: proto3 leaves it out). */
const stringSize = (s: string, bytes: number): number => s === '' ? 0 : 1 + varintSize(bytes) + bytes
const bytesSize = (b: Uint8Array): number => b.byteLength === 0 ? 0 : 1 + varintSize(b.byteLength) + b.byteLength

/**
 * UTF-8 length of a string. Ids, field names and the content type are short and ASCII: a loop
 * here costs less than a call into Buffer.byteLength.
 */
function utf8Length (s: string): number {
  const n = s.length
  if (n > 64) return Buffer.byteLength(s, 'utf8')
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, 'utf8')
  return n
}

function writeString (buf: Buffer, pos: number, field: number, s: string, bytes: number): number {
  if (s === '') return pos
  buf[pos++] = tag(field, LEN)
  pos = writeVarint(buf, pos, bytes)
  if (bytes !== s.length || bytes > 64) return pos + buf.write(s, pos, bytes, 'utf8')
  // ASCII (utf8Length found no byte above 0x7f): one byte per character.
  for (let i = 0; i < bytes; i++) buf[pos + i] = s.charCodeAt(i)
  return pos + bytes
}

function writeBytes (buf: Buffer, pos: number, field: number, b: Uint8Array): number {
  if (b.byteLength === 0) return pos
  buf[pos++] = tag(field, LEN)
  pos = writeVarint(buf, pos, b.byteLength)
  buf.set(b, pos)
  return pos + b.byteLength
}

function writeUint64 (buf: Buffer, pos: number, field: number, n: bigint): number {
  if (n === 0n) return pos
  buf[pos++] = tag(field, 0)
  return writeVarint64(buf, pos, n)
}

function writeUint32 (buf: Buffer, pos: number, field: number, n: number): number {
  if (n === 0) return pos
  buf[pos++] = tag(field, 0)
  return writeVarint(buf, pos, n >>> 0)
}

const int64Size = (n: bigint): number => n === 0n ? 0 : 1 + varint64Size(n)
const uint32Size = (n: number): number => n === 0 ? 0 : 1 + varintSize(n >>> 0)

/** `coexist.webhook.v1.RawWebhook` on the wire. */
export function encodeRawWebhook (v: RawWebhookFields): Buffer {
  const appIdBytes = utf8Length(v.appId)
  const contentTypeBytes = utf8Length(v.contentType)
  const requestIdBytes = utf8Length(v.requestId)
  const size = bytesSize(v.body) + int64Size(v.receivedAt) + stringSize(v.appId, appIdBytes) +
    (v.signatureVerified ? 2 : 0) + stringSize(v.contentType, contentTypeBytes) + stringSize(v.requestId, requestIdBytes)
  const buf = Buffer.allocUnsafe(size)
  let pos = writeBytes(buf, 0, 1, v.body)
  pos = writeUint64(buf, pos, 2, v.receivedAt)
  pos = writeString(buf, pos, 3, v.appId, appIdBytes)
  if (v.signatureVerified) { buf[pos++] = tag(4, 0); buf[pos++] = 1 }
  pos = writeString(buf, pos, 5, v.contentType, contentTypeBytes)
  writeString(buf, pos, 6, v.requestId, requestIdBytes)
  return buf
}

/** `coexist.webhook.v1.WebhookChange` on the wire. */
export function encodeWebhookChange (v: WebhookChangeFields): Buffer {
  const fieldBytes = utf8Length(v.field)
  const wabaIdBytes = utf8Length(v.wabaId)
  const phoneBytes = utf8Length(v.phoneNumberId)
  const entryIdBytes = utf8Length(v.entryId)
  const rawRequestIdBytes = utf8Length(v.rawRequestId)
  const appIdBytes = utf8Length(v.appId)
  const size = stringSize(v.field, fieldBytes) + stringSize(v.wabaId, wabaIdBytes) + stringSize(v.phoneNumberId, phoneBytes) +
    stringSize(v.entryId, entryIdBytes) + int64Size(v.entryTime) + uint32Size(v.changeIndex) + bytesSize(v.valueJson) +
    stringSize(v.rawRequestId, rawRequestIdBytes) + int64Size(v.receivedAt) + stringSize(v.appId, appIdBytes) + uint32Size(v.entryIndex)
  const buf = Buffer.allocUnsafe(size)
  let pos = writeString(buf, 0, 1, v.field, fieldBytes)
  pos = writeString(buf, pos, 2, v.wabaId, wabaIdBytes)
  pos = writeString(buf, pos, 3, v.phoneNumberId, phoneBytes)
  pos = writeString(buf, pos, 4, v.entryId, entryIdBytes)
  pos = writeUint64(buf, pos, 5, v.entryTime)
  pos = writeUint32(buf, pos, 6, v.changeIndex)
  pos = writeBytes(buf, pos, 7, v.valueJson)
  pos = writeString(buf, pos, 8, v.rawRequestId, rawRequestIdBytes)
  pos = writeUint64(buf, pos, 9, v.receivedAt)
  pos = writeString(buf, pos, 10, v.appId, appIdBytes)
  writeUint32(buf, pos, 11, v.entryIndex)
  return buf
}
