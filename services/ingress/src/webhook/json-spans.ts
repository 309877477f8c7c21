/**
 * Byte spans of `entry[i].changes[j]` and of their `value` inside a webhook body, so each change
 * can be published as bytes cut from the body Meta signed (its `\uXXXX` and `\/` escapes intact)
 * instead of re-serialised JSON.
 *
 * The scanner only walks the structure down to those spans and skips everything else; it runs
 * on bodies that `JSON.parse` already accepted, and follows the same rule for a repeated key
 * (the last one wins). On anything unexpected it returns undefined and the caller falls back to
 * serialising the parsed value.
 */

/** `[start, end)` byte offsets into the body. */
export interface Span { start: number, end: number }

/** One change object and its `value` member (absent when the change has no `value`). */
export interface ChangeSpan { change: Span, value: Span | undefined }

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const COMMA = 0x2c
const COLON = 0x3a

class ScanError extends Error {}

const isWs = (b: number | undefined): boolean => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09

function skipWs (buf: Buffer, i: number): number {
  while (isWs(buf[i])) i++
  return i
}

/** `i` at an opening quote → index after the closing quote. */
function skipString (buf: Buffer, i: number): number {
  let j = i + 1
  for (;;) {
    const q = buf.indexOf(QUOTE, j)
    if (q === -1) throw new ScanError('unterminated string')
    // The quote is escaped when an odd number of backslashes precede it.
    let k = q - 1
    while (k > i && buf[k] === BACKSLASH) k--
    if ((q - 1 - k) % 2 === 0) return q + 1
    j = q + 1
  }
}

/** `i` at the first byte of any JSON value → index after it. */
function skipValue (buf: Buffer, i: number): number {
  const b = buf[i]
  if (b === QUOTE) return skipString(buf, i)
  if (b === OPEN_OBJECT || b === OPEN_ARRAY) {
    let depth = 0
    let j = i
    while (j < buf.length) {
      const c = buf[j]
      if (c === QUOTE) { j = skipString(buf, j); continue }
      if (c === OPEN_OBJECT || c === OPEN_ARRAY) depth++
      else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
        depth--
        if (depth === 0) return j + 1
      }
      j++
    }
    throw new ScanError('unterminated container')
  }
  // number, true, false, null
  let j = i
  while (j < buf.length) {
    const c = buf[j]
    if (c === COMMA || c === CLOSE_OBJECT || c === CLOSE_ARRAY || isWs(c)) break
    j++
  }
  if (j === i) throw new ScanError('empty value')
  return j
}

/** The key's text; keys with escapes are decoded as JSON does. */
function keyText (buf: Buffer, start: number, end: number): string {
  const raw = buf.toString('utf8', start + 1, end - 1)
  return raw.includes('\\') ? JSON.parse(buf.toString('utf8', start, end)) as string : raw
}

/** Calls `onMember` for each member of the object at `i`; returns the index after the object. */
function eachMember (buf: Buffer, i: number, onMember: (key: string, valueStart: number, valueEnd: number) => void): number {
  if (buf[i] !== OPEN_OBJECT) throw new ScanError('object expected')
  let j = skipWs(buf, i + 1)
  if (buf[j] === CLOSE_OBJECT) return j + 1
  for (;;) {
    if (buf[j] !== QUOTE) throw new ScanError('key expected')
    const keyEnd = skipString(buf, j)
    const key = keyText(buf, j, keyEnd)
    j = skipWs(buf, keyEnd)
    if (buf[j] !== COLON) throw new ScanError('colon expected')
    const valueStart = skipWs(buf, j + 1)
    const valueEnd = skipValue(buf, valueStart)
    onMember(key, valueStart, valueEnd)
    j = skipWs(buf, valueEnd)
    if (buf[j] === COMMA) { j = skipWs(buf, j + 1); continue }
    if (buf[j] === CLOSE_OBJECT) return j + 1
    throw new ScanError('comma or end of object expected')
  }
}

/** Calls `onElement` for each element of the array at `i`. */
function eachElement (buf: Buffer, i: number, onElement: (start: number, end: number) => void): void {
  if (buf[i] !== OPEN_ARRAY) throw new ScanError('array expected')
  let j = skipWs(buf, i + 1)
  if (buf[j] === CLOSE_ARRAY) return
  for (;;) {
    const end = skipValue(buf, j)
    onElement(j, end)
    j = skipWs(buf, end)
    if (buf[j] === COMMA) { j = skipWs(buf, j + 1); continue }
    if (buf[j] === CLOSE_ARRAY) return
    throw new ScanError('comma or end of array expected')
  }
}

/** The span of the last member named `name` of the object at `i`, if any. */
function member (buf: Buffer, i: number, name: string): Span | undefined {
  let found: Span | undefined
  eachMember(buf, i, (key, start, end) => { if (key === name) found = { start, end } })
  return found
}

/**
 * Spans of every `entry[i].changes[j]` (outer index: entry, inner: change), in body order.
 * Returns undefined when the body does not have that shape or cannot be scanned.
 *
 * @example
 * const spans = findChangeSpans(rawBody)
 * const v = spans?.[0]?.[0]?.value   // rawBody.subarray(v.start, v.end) is the first change's value
 */
export function findChangeSpans (body: Buffer): ChangeSpan[][] | undefined {
  try {
    const root = skipWs(body, 0)
    const entry = member(body, root, 'entry')
    if (entry === undefined || body[entry.start] !== OPEN_ARRAY) return undefined
    const out: ChangeSpan[][] = []
    eachElement(body, entry.start, (entryStart) => {
      const changes: ChangeSpan[] = []
      out.push(changes)
      if (body[entryStart] !== OPEN_OBJECT) return
      const list = member(body, entryStart, 'changes')
      if (list === undefined || body[list.start] !== OPEN_ARRAY) return
      eachElement(body, list.start, (start, end) => {
        const value = body[start] === OPEN_OBJECT ? member(body, start, 'value') : undefined
        changes.push({ change: { start, end }, value })
      })
    })
    return out
  } catch (err) {
    if (err instanceof ScanError || err instanceof SyntaxError) return undefined
    throw err
  }
}
