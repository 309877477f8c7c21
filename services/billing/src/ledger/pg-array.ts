// Postgres arrays in the binary wire format (array_send / array_recv), for parameters: pg sends a
// Buffer parameter as binary, and with `$1::text[]` the server reads it with array_recv and each
// element type's receive function (raw bytes, a 16-byte uuid, an int64 of microseconds), with no
// text to parse. The ledger's lines travel as one such array per column: a JSON parameter cost
// Postgres a validating parse, a second parse building a hash of each object's keys and a text
// input function per value, which was half of the line's insert.
//
// Layout: int32 ndim (1), int32 has-nulls flag, int32 element type oid, int32 length, int32 lower
// bound (1), then per element an int32 byte length (-1 for NULL) and the bytes.

export type PgArrayType = 'text' | 'uuid' | 'bool' | 'int2' | 'int4' | 'int8' | 'timestamptz'

const OID: Record<PgArrayType, number> = { text: 25, uuid: 2950, bool: 16, int2: 21, int4: 23, int8: 20, timestamptz: 1184 }
/** 2000-01-01T00:00:00Z in ms since the Unix epoch: Postgres's timestamp epoch. */
const PG_EPOCH_MS = 946_684_800_000
const TWO_32 = 4_294_967_296
const HEADER = 20
const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** A value this writer cannot represent exactly (not a uuid, not a safe integer, …). */
export class PgArrayValueError extends Error {
  override name = 'PgArrayValueError'
}

/**
 * One column's values as a binary array. `push` values in row order, then `finish()` gives the
 * parameter (cast it in SQL to the same type: `${buf}::uuid[]`).
 * Values: text a string; uuid its canonical text; bool a boolean; int2/int4/int8 a safe
 * integer; timestamptz epoch milliseconds (an integer); null for NULL.
 */
export class PgArrayWriter {
  readonly type: PgArrayType
  #buf: Buffer
  #at = HEADER
  #count = 0
  #nulls = false
  #lastUuid: string | undefined
  #lastUuidAt = 0

  constructor (type: PgArrayType, expected = 64) {
    this.type = type
    this.#buf = Buffer.allocUnsafe(HEADER + expected * (type === 'text' ? 24 : type === 'uuid' ? 20 : 12))
  }

  #room (n: number): void {
    if (this.#at + n <= this.#buf.length) return
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#at + n))
    this.#buf.copy(next, 0, 0, this.#at)
    this.#buf = next
  }

  #int64 (v: number): void {
    if (!Number.isSafeInteger(v)) throw new PgArrayValueError(`not a safe integer for ${this.type}: ${v}`)
    const hi = Math.floor(v / TWO_32)
    const b = this.#buf
    b.writeInt32BE(8, this.#at)
    b.writeInt32BE(hi, this.#at + 4)
    b.writeUInt32BE(v - hi * TWO_32, this.#at + 8)
    this.#at += 12
  }

  push (v: string | number | boolean | null): void {
    this.#count++
    if (v === null) {
      this.#room(4)
      this.#buf.writeInt32BE(-1, this.#at)
      this.#at += 4
      this.#nulls = true
      return
    }
    switch (this.type) {
      case 'text': {
        const s = v as string
        // ASCII (ids, codes, names) one byte per char in a loop; anything else through Buffer#write.
        const n = s.length
        this.#room(4 + n * 3)
        const b = this.#buf
        const start = this.#at + 4
        let i = 0
        for (; i < n; i++) {
          const c = s.charCodeAt(i)
          if (c >= 0x80) break
          b[start + i] = c
        }
        const len = i === n ? n : b.write(s, start, 'utf8')
        b.writeInt32BE(len, this.#at)
        this.#at = start + len
        return
      }
      case 'uuid': {
        const s = v as string
        this.#room(20)
        const b = this.#buf
        b.writeInt32BE(16, this.#at)
        // A column of uuids mostly repeats the one before (a batch's tenant, its rate card).
        if (s === this.#lastUuid) {
          b.copyWithin(this.#at + 4, this.#lastUuidAt, this.#lastUuidAt + 16)
        } else {
          if (!UUID_TEXT.test(s)) throw new PgArrayValueError(`not a uuid: ${s.slice(0, 40)}`)
          b.write(s.replaceAll('-', ''), this.#at + 4, 16, 'hex')
          this.#lastUuid = s
        }
        this.#lastUuidAt = this.#at + 4
        this.#at += 20
        return
      }
      case 'bool':
        this.#room(5)
        this.#buf.writeInt32BE(1, this.#at)
        this.#buf[this.#at + 4] = v === true ? 1 : 0
        this.#at += 5
        return
      case 'int2':
      case 'int4': {
        const n = v as number
        const size = this.type === 'int2' ? 2 : 4
        const max = size === 2 ? 0x7fff : 0x7fffffff
        if (!Number.isInteger(n) || n > max || n < -max - 1) throw new PgArrayValueError(`not an ${this.type}: ${n}`)
        this.#room(4 + size)
        this.#buf.writeInt32BE(size, this.#at)
        if (size === 2) this.#buf.writeInt16BE(n, this.#at + 4); else this.#buf.writeInt32BE(n, this.#at + 4)
        this.#at += 4 + size
        return
      }
      case 'int8':
        this.#room(12)
        this.#int64(v as number)
        return
      case 'timestamptz':
        this.#room(12)
        this.#int64(Math.round(((v as number) - PG_EPOCH_MS) * 1000))
    }
  }

  /** The array's bytes (a view of the writer's buffer: push nothing after this). */
  finish (): Buffer {
    const b = this.#buf
    b.writeInt32BE(1, 0)
    b.writeInt32BE(this.#nulls ? 1 : 0, 4)
    b.writeInt32BE(OID[this.type], 8)
    b.writeInt32BE(this.#count, 12)
    b.writeInt32BE(1, 16)
    return b.subarray(0, this.#at)
  }
}
