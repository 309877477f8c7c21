/**
 * One pass over a webhook body that checks it is JSON and reads what routing needs: `object`,
 * each `entry[]`'s `id` and `time`, each change's `field`, the byte spans of the change and of
 * its `value`, and `value.metadata.phone_number_id` / `value.waba_info.waba_id`. It replaces
 * `JSON.parse` + the envelope schema + the span scan on the common path (at full load those
 * three were a fifth of ingress's CPU): everything outside those members is validated and skipped
 * byte by byte, never turned into objects or strings.
 *
 * It answers only when sure: a result means the body is JSON that `JSON.parse` accepts, with the
 * shape `WebhookEnvelopeSchema` accepts (the last of a repeated key wins, as in JSON.parse), and
 * every string it returns is what JSON.parse would give. Anything else (not JSON, another shape,
 * an escaped key or id, a number that is not finite...) returns undefined and the caller takes
 * the reference path (JSON.parse, the schema, json-spans.ts), which decides as before.
 */
import type { Span } from './json-spans.ts'

interface ScannedChange {
  entryIndex: number
  changeIndex: number
  entryId: string
  /** `entry[].time` (a finite number) or undefined. */
  entryTime: number | undefined
  field: string
  change: Span
  value: Span
  /** `value.metadata.phone_number_id` when it is a non-empty string. */
  phoneNumberId: string | undefined
  /** `value.waba_info.waba_id` when it is a non-empty string. */
  wabaInfoId: string | undefined
}

interface ScannedWebhook {
  object: string
  /** The first entry's id (undefined when `entry` is empty). */
  firstEntryId: string | undefined
  /** Every change, entries in order, then changes in order. */
  changes: ScannedChange[]
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const SLASH = 0x2f
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const COMMA = 0x2c
const COLON = 0x3a
const MINUS = 0x2d
const PLUS = 0x2b
const DOT = 0x2e
const ZERO = 0x30
const NINE = 0x39

/** Not something this scanner answers for: the caller takes the reference path. */
class Unsure extends Error {}
const UNSURE = new Unsure('unsure')

const bytes = (s: string): Uint8Array => Buffer.from(s, 'latin1')
const KEY = {
  object: bytes('object'),
  entry: bytes('entry'),
  id: bytes('id'),
  time: bytes('time'),
  changes: bytes('changes'),
  field: bytes('field'),
  value: bytes('value'),
  metadata: bytes('metadata'),
  phoneNumberId: bytes('phone_number_id'),
  wabaInfo: bytes('waba_info'),
  wabaId: bytes('waba_id')
}
const TRUE = bytes('true')
const FALSE = bytes('false')
const NULL = bytes('null')

/** Set by skipString: whether the string it skipped holds an escape. */
let escaped = false

const isDigit = (b: number | undefined): boolean => b !== undefined && b >= ZERO && b <= NINE
const isHex = (b: number | undefined): boolean =>
  b !== undefined && ((b >= ZERO && b <= NINE) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66))

function skipWs (buf: Buffer, i: number): number {
  for (;;) {
    const b = buf[i]
    if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) return i
    i++
  }
}

/** `i` at an opening quote → index after the closing quote; checks escapes and control characters. */
function skipString (buf: Buffer, i: number): number {
  const n = buf.length
  let j = i + 1
  escaped = false
  while (j < n) {
    const b = buf[j]!
    if (b === QUOTE) return j + 1
    if (b === BACKSLASH) {
      escaped = true
      const e = buf[j + 1]
      if (e === 0x75) { // \uXXXX
        if (!isHex(buf[j + 2]) || !isHex(buf[j + 3]) || !isHex(buf[j + 4]) || !isHex(buf[j + 5])) throw UNSURE
        j += 6
        continue
      }
      // \" \\ \/ \b \f \n \r \t
      if (e !== QUOTE && e !== BACKSLASH && e !== SLASH && e !== 0x62 && e !== 0x66 && e !== 0x6e && e !== 0x72 && e !== 0x74) throw UNSURE
      j += 2
      continue
    }
    if (b < 0x20) throw UNSURE
    j++
  }
  throw UNSURE
}

function skipNumber (buf: Buffer, i: number): number {
  let j = i
  if (buf[j] === MINUS) j++
  if (buf[j] === ZERO) j++
  else if (isDigit(buf[j])) { while (isDigit(buf[j])) j++ } else throw UNSURE
  if (buf[j] === DOT) {
    j++
    if (!isDigit(buf[j])) throw UNSURE
    while (isDigit(buf[j])) j++
  }
  const e = buf[j]
  if (e === 0x65 || e === 0x45) {
    j++
    if (buf[j] === PLUS || buf[j] === MINUS) j++
    if (!isDigit(buf[j])) throw UNSURE
    while (isDigit(buf[j])) j++
  }
  return j
}

function skipLiteral (buf: Buffer, i: number, word: Uint8Array): number {
  for (let k = 0; k < word.length; k++) if (buf[i + k] !== word[k]) throw UNSURE
  return i + word.length
}

/** A string, number or literal at `i` → index after it. */
function skipScalar (buf: Buffer, i: number): number {
  const b = buf[i]
  if (b === QUOTE) return skipString(buf, i)
  if (b === 0x74) return skipLiteral(buf, i, TRUE)
  if (b === 0x66) return skipLiteral(buf, i, FALSE)
  if (b === 0x6e) return skipLiteral(buf, i, NULL)
  return skipNumber(buf, i)
}

/** Container kinds of skipValue's explicit stack (no recursion: a deep body cannot overflow the call stack). */
const IN_OBJECT = 1
const IN_ARRAY = 2
let stack = new Uint8Array(64)

/** `i` at a key's opening quote → index of its value (after the colon and whitespace). */
function skipKey (buf: Buffer, i: number): number {
  if (buf[i] !== QUOTE) throw UNSURE
  const j = skipWs(buf, skipString(buf, i))
  if (buf[j] !== COLON) throw UNSURE
  return skipWs(buf, j + 1)
}

/** Any JSON value at `i` (no whitespace before it) → index after it, checked on the way. */
function skipValue (buf: Buffer, i: number): number {
  let b = buf[i]
  if (b !== OPEN_OBJECT && b !== OPEN_ARRAY) return skipScalar(buf, i)
  let depth = 0
  let j = i
  for (;;) {
    // A value starts at j.
    b = buf[j]
    if (b === OPEN_OBJECT || b === OPEN_ARRAY) {
      if (depth === stack.length) { const s = new Uint8Array(depth * 2); s.set(stack); stack = s }
      stack[depth++] = b === OPEN_OBJECT ? IN_OBJECT : IN_ARRAY
      j = skipWs(buf, j + 1)
      if (buf[j] !== (b === OPEN_OBJECT ? CLOSE_OBJECT : CLOSE_ARRAY)) {
        if (b === OPEN_OBJECT) j = skipKey(buf, j)
        continue
      }
      depth--
      j++
    } else {
      j = skipScalar(buf, j)
    }
    // A value ended at j: close what it ends, or move to the next member or element.
    for (;;) {
      if (depth === 0) return j
      j = skipWs(buf, j)
      const c = buf[j]
      const inObject = stack[depth - 1] === IN_OBJECT
      if (c === COMMA) {
        j = skipWs(buf, j + 1)
        if (inObject) j = skipKey(buf, j)
        break
      }
      if (c !== (inObject ? CLOSE_OBJECT : CLOSE_ARRAY)) throw UNSURE
      depth--
      j++
    }
  }
}

/** Whether the key just skipped (`[start, end)` with its quotes) is `key`; an escaped key is not answered for. */
function keyIs (buf: Buffer, start: number, end: number, key: Uint8Array): boolean {
  if (end - start - 2 !== key.length) return false
  for (let k = 0; k < key.length; k++) if (buf[start + 1 + k] !== key[k]) return false
  return true
}

/**
 * Walks the members of the object at `i` (which must be `{`), calling `onMember` with each key's
 * span and its value's start; `onMember` returns the index after the value. Returns the index
 * after the object. An escaped key throws UNSURE (a key spelled with escapes could be one we read).
 */
function eachMember (buf: Buffer, i: number, onMember: (keyStart: number, keyEnd: number, valueStart: number) => number): number {
  let j = skipWs(buf, i + 1)
  if (buf[j] === CLOSE_OBJECT) return j + 1
  for (;;) {
    if (buf[j] !== QUOTE) throw UNSURE
    const keyEnd = skipString(buf, j)
    if (escaped) throw UNSURE
    let k = skipWs(buf, keyEnd)
    if (buf[k] !== COLON) throw UNSURE
    k = skipWs(buf, k + 1)
    j = skipWs(buf, onMember(j, keyEnd, k))
    const c = buf[j]
    if (c === COMMA) { j = skipWs(buf, j + 1); continue }
    if (c === CLOSE_OBJECT) return j + 1
    throw UNSURE
  }
}

/** Walks the elements of the array at `i` (which must be `[`). */
function eachElement (buf: Buffer, i: number, onElement: (start: number) => number): number {
  let j = skipWs(buf, i + 1)
  if (buf[j] === CLOSE_ARRAY) return j + 1
  for (;;) {
    j = skipWs(buf, onElement(j))
    const c = buf[j]
    if (c === COMMA) { j = skipWs(buf, j + 1); continue }
    if (c === CLOSE_ARRAY) return j + 1
    throw UNSURE
  }
}

/** Where the last read string value ended (readString's second result). */
let stringEnd = 0

/** The text of the string at `i`, or undefined (and stringEnd set) when it holds an escape. */
function readString (buf: Buffer, i: number): string | undefined {
  stringEnd = skipString(buf, i)
  return escaped ? undefined : buf.toString('utf8', i + 1, stringEnd - 1)
}

/** The string member `key` of the object at `i` when it is a non-empty string (the last one wins); undefined otherwise. */
function readStringMember (buf: Buffer, i: number, key: Uint8Array, out: { end: number }): string | undefined {
  let found: string | undefined
  out.end = eachMember(buf, i, (ks, ke, vs) => {
    if (!keyIs(buf, ks, ke, key)) return skipValue(buf, vs)
    if (buf[vs] !== QUOTE) { found = undefined; return skipValue(buf, vs) }
    const s = readString(buf, vs)
    // An escaped id: not answered for (the reference path decodes it).
    if (s === undefined) throw UNSURE
    found = s === '' ? undefined : s
    return stringEnd
  })
  return found
}

interface ValueScan { end: number, phoneNumberId: string | undefined, wabaInfoId: string | undefined }

/** A change's `value`: its end, and the two ids routing reads from it. */
function readValue (buf: Buffer, i: number): ValueScan {
  const out: ValueScan = { end: 0, phoneNumberId: undefined, wabaInfoId: undefined }
  if (buf[i] !== OPEN_OBJECT) { out.end = skipValue(buf, i); return out }
  const inner = { end: 0 }
  out.end = eachMember(buf, i, (ks, ke, vs) => {
    const metadata = keyIs(buf, ks, ke, KEY.metadata)
    if (!metadata && !keyIs(buf, ks, ke, KEY.wabaInfo)) return skipValue(buf, vs)
    let id: string | undefined
    if (buf[vs] === OPEN_OBJECT) id = readStringMember(buf, vs, metadata ? KEY.phoneNumberId : KEY.wabaId, inner)
    else inner.end = skipValue(buf, vs)
    if (metadata) out.phoneNumberId = id; else out.wabaInfoId = id
    return inner.end
  })
  return out
}

/** One `changes[]` item: a change object with a non-empty string `field` and a `value`. */
function readChange (buf: Buffer, start: number, entryIndex: number, changeIndex: number, out: ScannedChange[]): number {
  if (buf[start] !== OPEN_OBJECT) throw UNSURE
  let field: string | undefined
  let value: Span | undefined
  let phoneNumberId: string | undefined
  let wabaInfoId: string | undefined
  const end = eachMember(buf, start, (ks, ke, vs) => {
    if (keyIs(buf, ks, ke, KEY.field)) {
      field = buf[vs] === QUOTE ? readString(buf, vs) : undefined
      return field === undefined ? skipValue(buf, vs) : stringEnd
    }
    if (keyIs(buf, ks, ke, KEY.value)) {
      const v = readValue(buf, vs)
      value = { start: vs, end: v.end }
      phoneNumberId = v.phoneNumberId
      wabaInfoId = v.wabaInfoId
      return v.end
    }
    return skipValue(buf, vs)
  })
  // The schema requires a non-empty string `field` and a `value` (any JSON value, null too).
  if (field === undefined || field === '' || value === undefined) throw UNSURE
  out.push({ entryIndex, changeIndex, entryId: '', entryTime: undefined, field, change: { start, end }, value, phoneNumberId, wabaInfoId })
  return end
}

/** One `entry[]` item: an object with a non-empty string `id`, an optional finite `time`, a `changes` array. */
function readEntry (buf: Buffer, start: number, entryIndex: number, out: ScannedChange[]): { end: number, id: string } {
  if (buf[start] !== OPEN_OBJECT) throw UNSURE
  let id: string | undefined
  let time: number | undefined
  let timeSeen = false
  let changes: ScannedChange[] | undefined
  const end = eachMember(buf, start, (ks, ke, vs) => {
    if (keyIs(buf, ks, ke, KEY.id)) {
      id = buf[vs] === QUOTE ? readString(buf, vs) : undefined
      return id === undefined ? skipValue(buf, vs) : stringEnd
    }
    if (keyIs(buf, ks, ke, KEY.time)) {
      timeSeen = true
      const b = buf[vs]
      if (b !== MINUS && !isDigit(b)) { time = undefined; return skipValue(buf, vs) }
      const e = skipNumber(buf, vs)
      time = Number(buf.toString('latin1', vs, e))
      return e
    }
    if (keyIs(buf, ks, ke, KEY.changes)) {
      if (buf[vs] !== OPEN_ARRAY) { changes = undefined; return skipValue(buf, vs) }
      const list: ScannedChange[] = []
      let changeIndex = 0
      const e = eachElement(buf, vs, (s) => readChange(buf, s, entryIndex, changeIndex++, list))
      changes = list
      return e
    }
    return skipValue(buf, vs)
  })
  // What the envelope schema requires of an entry (id: non-empty string; time: absent or a finite number).
  if (id === undefined || id === '' || changes === undefined) throw UNSURE
  if (timeSeen && (time === undefined || !Number.isFinite(time))) throw UNSURE
  for (const c of changes) { c.entryId = id; c.entryTime = time; out.push(c) }
  return { end, id }
}

/**
 * Scans a body; undefined when it is not a JSON webhook envelope this scanner answers for (the
 * caller then parses it the reference way). See the module comment.
 *
 * @example
 * const s = scanWebhook(rawBody)
 * s?.changes[0]?.value   // rawBody.subarray(v.start, v.end) is the first change's value, as signed
 */
export function scanWebhook (body: Buffer): ScannedWebhook | undefined {
  try {
    const start = skipWs(body, 0)
    if (body[start] !== OPEN_OBJECT) return undefined
    let object: string | undefined
    let changes: ScannedChange[] | undefined
    let firstEntryId: string | undefined
    const end = eachMember(body, start, (ks, ke, vs) => {
      if (keyIs(body, ks, ke, KEY.object)) {
        object = body[vs] === QUOTE ? readString(body, vs) : undefined
        if (object === undefined) throw UNSURE
        return stringEnd
      }
      if (keyIs(body, ks, ke, KEY.entry)) {
        if (body[vs] !== OPEN_ARRAY) throw UNSURE
        const list: ScannedChange[] = []
        let entryIndex = 0
        firstEntryId = undefined
        const e = eachElement(body, vs, (s) => {
          const r = readEntry(body, s, entryIndex, list)
          if (entryIndex === 0) firstEntryId = r.id
          entryIndex++
          return r.end
        })
        changes = list
        return e
      }
      return skipValue(body, vs)
    })
    // Only whitespace may follow the body's object.
    if (skipWs(body, end) !== body.length) return undefined
    if (object === undefined || changes === undefined) return undefined
    return { object, firstEntryId, changes }
  } catch (err) {
    if (err instanceof Unsure) return undefined
    throw err
  }
}
