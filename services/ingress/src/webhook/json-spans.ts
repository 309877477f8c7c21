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

/**
 * `i` at an opening quote → index after the closing quote. A byte loop: a webhook's strings are
 * short, and a `Buffer.indexOf` call per string cost more than the bytes it skipped.
 */
function skipString (buf: Buffer, i: number): number {
  const n = buf.length
  let j = i + 1
  while (j < n) {
    const b = buf[j]
    if (b === QUOTE) return j + 1
    // An escape: the next byte is part of it (`\"` does not end the string).
    j += b === BACKSLASH ? 2 : 1
  }
  throw new ScanError('unterminated string')
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

/**
 * Walks the members of the object at `i` and returns the index after it. `onMember(key, start)`
 * either returns where that member's value ends (it read the value itself) or undefined (the
 * value is skipped here).
 */
function eachMember (body: Buffer, i: number, onMember: (key: string, valueStart: number) => number | undefined): number {
  if (body[i] !== OPEN_OBJECT) throw new ScanError('object expected')
  let j = skipWs(body, i + 1)
  if (body[j] === CLOSE_OBJECT) return j + 1
  for (;;) {
    if (body[j] !== QUOTE) throw new ScanError('key expected')
    const keyEnd = skipString(body, j)
    const key = keyText(body, j, keyEnd)
    j = skipWs(body, keyEnd)
    if (body[j] !== COLON) throw new ScanError('colon expected')
    const valueStart = skipWs(body, j + 1)
    j = skipWs(body, onMember(key, valueStart) ?? skipValue(body, valueStart))
    if (body[j] === COMMA) { j = skipWs(body, j + 1); continue }
    if (body[j] === CLOSE_OBJECT) return j + 1
    throw new ScanError('comma or end of object expected')
  }
}

/** Walks the elements of the array at `i`; `onElement(start)` returns where each ends. Returns the index after the array. */
function eachElement (body: Buffer, i: number, onElement: (start: number) => number): number {
  if (body[i] !== OPEN_ARRAY) throw new ScanError('array expected')
  let j = skipWs(body, i + 1)
  if (body[j] === CLOSE_ARRAY) return j + 1
  for (;;) {
    j = skipWs(body, onElement(j))
    if (body[j] === COMMA) { j = skipWs(body, j + 1); continue }
    if (body[j] === CLOSE_ARRAY) return j + 1
    throw new ScanError('comma or end of array expected')
  }
}

/** One change object: its span and its `value` member's (the last one, as JSON.parse keeps). */
function readChange (body: Buffer, start: number, out: ChangeSpan[]): number {
  let value: Span | undefined
  const end = body[start] === OPEN_OBJECT
    ? eachMember(body, start, (key, vStart) => {
      if (key !== 'value') return undefined
      const vEnd = skipValue(body, vStart)
      value = { start: vStart, end: vEnd }
      return vEnd
    })
    : skipValue(body, start)
  out.push({ change: { start, end }, value })
  return end
}

/** One entry: the spans of its `changes` (the last `changes` member; none when it is not an array). */
function readEntry (body: Buffer, start: number, out: ChangeSpan[][]): number {
  if (body[start] !== OPEN_OBJECT) { out.push([]); return skipValue(body, start) }
  let changes: ChangeSpan[] = []
  const end = eachMember(body, start, (key, vStart) => {
    if (key !== 'changes') return undefined
    const list: ChangeSpan[] = []
    if (body[vStart] !== OPEN_ARRAY) { changes = list; return undefined }
    const vEnd = eachElement(body, vStart, (s) => readChange(body, s, list))
    changes = list
    return vEnd
  })
  out.push(changes)
  return end
}

/**
 * Spans of every `entry[i].changes[j]` (outer index: entry, inner: change), in body order.
 * Returns undefined when the body does not have that shape or cannot be scanned.
 *
 * One pass: the members on the path (`entry`, `changes`, `value`) are read where they stand and
 * everything else is skipped, so each byte is looked at about once.
 *
 * @example
 * const spans = findChangeSpans(rawBody)
 * const v = spans?.[0]?.[0]?.value   // rawBody.subarray(v.start, v.end) is the first change's value
 */
export function findChangeSpans (body: Buffer): ChangeSpan[][] | undefined {
  try {
    let entries: ChangeSpan[][] | undefined
    eachMember(body, skipWs(body, 0), (key, vStart) => {
      if (key !== 'entry') return undefined
      // A repeated key: the last one wins, as in JSON.parse.
      if (body[vStart] !== OPEN_ARRAY) { entries = undefined; return undefined }
      const list: ChangeSpan[][] = []
      const vEnd = eachElement(body, vStart, (s) => readEntry(body, s, list))
      entries = list
      return vEnd
    })
    return entries
  } catch (err) {
    if (err instanceof ScanError || err instanceof SyntaxError) return undefined
    throw err
  }
}
