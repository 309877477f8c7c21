import t from 'tap'
import { serializeLikeMeta } from '@coexist/meta'
import { WEBHOOK_SAMPLES } from '@coexist/meta/fixtures'
import { findChangeSpans } from '../../src/webhook/json-spans.ts'

const cut = (body: Buffer, s: { start: number, end: number } | undefined): string | undefined =>
  s === undefined ? undefined : body.subarray(s.start, s.end).toString('utf8')

t.test('cuts every change and value of every sample byte for byte, escapes kept', async (t) => {
  for (const [name, sample] of Object.entries(WEBHOOK_SAMPLES)) {
    const body = Buffer.from(serializeLikeMeta(sample))
    const spans = findChangeSpans(body)
    t.ok(spans, name)
    t.equal(spans?.length, sample.entry.length, `${name}: one list per entry`)
    sample.entry.forEach((entry, i) => {
      t.equal(spans?.[i]?.length, entry.changes.length, `${name}: entry ${i} changes`)
      entry.changes.forEach((change, j) => {
        const span = spans?.[i]?.[j]
        // The cut bytes are exactly Meta's serialisation of that part: same escapes, same order.
        t.equal(cut(body, span?.value), serializeLikeMeta(change.value), `${name}: value ${i}.${j}`)
        t.equal(cut(body, span?.change), serializeLikeMeta(change), `${name}: change ${i}.${j}`)
      })
    })
  }
})

t.test('whitespace, nested brackets and quotes inside strings, escaped keys', async (t) => {
  const text = ' {\n "object" : "whatsapp_business_account" ,\r\n\t"entry":[ {"id":"1","changes":[ ' +
    '{ "value" : {"s":"a } ] \\" { [ \\\\","n":[1,{"x":null}],"t":true} , "field":"messages" },' +
    '{"field":"x","v\\u0061lue":[1, 2.5e3, -0]},' +
    '{"field":"y"} ] } , {"id":"2","changes":[]} ] } '
  const body = Buffer.from(text)
  const parsed = JSON.parse(text) as { entry: Array<{ changes: Array<Record<string, unknown>> }> }
  const spans = findChangeSpans(body)
  t.equal(spans?.length, 2)
  t.same(JSON.parse(cut(body, spans?.[0]?.[0]?.value) ?? 'null'), parsed.entry[0]?.changes[0]?.value)
  t.equal(cut(body, spans?.[0]?.[1]?.value), '[1, 2.5e3, -0]', 'an escaped key is read as JSON reads it')
  t.equal(spans?.[0]?.[2]?.value, undefined, 'a change without value')
  t.same(spans?.[1], [])
})

t.test('a repeated key: the last one wins, as in JSON.parse', async (t) => {
  const text = '{"entry":[{"changes":[{"value":{"a":1}}]}],"entry":[{"changes":[{"field":"f","value":1,"value":{"b":2}}]}]}'
  const body = Buffer.from(text)
  const spans = findChangeSpans(body)
  t.equal(cut(body, spans?.[0]?.[0]?.value), '{"b":2}')
})

t.test('non-ASCII bytes (unescaped UTF-8) are cut on byte offsets', async (t) => {
  const text = '{"entry":[{"changes":[{"field":"messages","value":{"text":"olá 👍 \\"x\\""}}]}]}'
  const body = Buffer.from(text)
  t.equal(cut(body, findChangeSpans(body)?.[0]?.[0]?.value), '{"text":"olá 👍 \\"x\\""}')
})

t.test('shapes it does not follow give undefined or empty lists, never a throw', async (t) => {
  t.equal(findChangeSpans(Buffer.from('[1,2]')), undefined)
  t.equal(findChangeSpans(Buffer.from('{"entry":{}}')), undefined)
  t.equal(findChangeSpans(Buffer.from('{"entry":[1')), undefined, 'truncated')
  t.equal(findChangeSpans(Buffer.from('{"entry":["\\"]}')), undefined, 'unterminated string')
  t.same(findChangeSpans(Buffer.from('{"entry":[1,"x",{"changes":5}]}')), [[], [], []])
  t.same(findChangeSpans(Buffer.from('{"object":"x"}')), undefined)
  t.same(findChangeSpans(Buffer.from('{"entry":[{"changes":[7]}]}')), [[{ change: { start: 22, end: 23 }, value: undefined }]])
})
