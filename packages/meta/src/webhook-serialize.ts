/**
 * Serialises a webhook body the way Meta's bytes look on the wire: non-ASCII characters as
 * lowercase `\uXXXX` escapes (UTF-16 units, so emoji become surrogate pairs) and `/` as `\/`.
 * The simulator signs these bytes; tests use them to prove that nothing re-serialises a body
 * before the signature check.
 */
export function serializeLikeMeta (value: unknown): string {
  const json = JSON.stringify(value)
  if (json === undefined) throw new TypeError('value is not JSON-serialisable')
  let out = ''
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i)
    if (c > 0x7e) out += '\\u' + c.toString(16).padStart(4, '0')
    else if (c === 0x2f) out += '\\/'
    else out += json[i]
  }
  return out
}
