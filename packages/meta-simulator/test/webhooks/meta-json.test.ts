import t from 'tap'
import { encodeMetaJson } from '../../src/webhooks/meta-json.ts'

t.test('escapes non-ASCII as lowercase \\uXXXX and / as \\/', async (t) => {
  const s = encodeMetaJson({ body: 'Olá 👍 a/b', n: 1 })
  t.equal(s, '{"body":"Ol\\u00e1 \\ud83d\\udc4d a\\/b","n":1}')
  t.ok(/^[\x20-\x7e]*$/.test(s), 'pure ASCII')
  t.same(JSON.parse(s), { body: 'Olá 👍 a/b', n: 1 }, 'still the same JSON value')
})

t.test('refuses values JSON cannot encode', async (t) => {
  t.throws(() => encodeMetaJson(undefined))
})
