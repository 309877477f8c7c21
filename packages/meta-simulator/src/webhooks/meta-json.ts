/**
 * Serialises a webhook body the way Meta writes it: compact JSON, every non-ASCII UTF-16 code unit
 * as a lowercase `\uXXXX` escape and `/` as `\/`. The signature is computed over these exact
 * bytes, so a receiver that re-serialises instead of hashing the raw body fails the check — which
 * is what the simulator is for.
 */

const NON_ASCII = /[\u007f-\uffff]/g

/**
 * JSON text of `value` with Meta's escapes.
 *
 * @example
 * encodeMetaJson({ text: { body: 'Olá 👍 a/b' } })
 * // '{"text":{"body":"Ol\\u00e1 \\ud83d\\udc4d a\\/b"}}'
 */
export function encodeMetaJson (value: unknown): string {
  const json = JSON.stringify(value)
  if (json === undefined) throw new TypeError('value is not JSON-serialisable')
  // A `/` can only occur inside a JSON string (keys or values), so a global replace is safe.
  return json
    .replace(NON_ASCII, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))
    .replaceAll('/', '\\/')
}
