import t, { type Test } from 'tap'
import { isDeepStrictEqual } from 'node:util'
import { changeRoutingKeys, listChanges, parseEnvelope, serializeLikeMeta } from '@coexist/meta'
import { WEBHOOK_SAMPLES, batchBodies, echoWebhook, inboundTextWebhook, pricing, statusWebhook } from '@coexist/meta/fixtures'
import { findChangeSpans } from '../../src/webhook/json-spans.ts'
import { scanWebhook } from '../../src/webhook/scan-webhook.ts'

/**
 * The scanner against the reference (JSON.parse, the envelope schema, changeRoutingKeys,
 * json-spans): when it answers, every answer must be the reference's; when it does not, the
 * reference path decides, so not answering is always safe. Returns whether it answered.
 */
function agrees (t: Test, body: Buffer, name: string): boolean {
  const s = scanWebhook(body)
  if (s === undefined) return false
  let parsed: unknown
  try { parsed = JSON.parse(body.toString('utf8')) } catch {
    t.fail(`${name}: answered for a body JSON.parse refuses`)
    return true
  }
  const env = parseEnvelope(parsed)
  if (!env.ok) { t.fail(`${name}: answered for a body the envelope schema refuses (${env.error.kind})`); return true }
  const problems: string[] = []
  if (s.object !== env.envelope.object) problems.push('object')
  if (s.firstEntryId !== env.envelope.entry[0]?.id) problems.push('first entry id')
  const listed = listChanges(env.envelope)
  if (s.changes.length !== listed.length) problems.push(`changes ${s.changes.length} vs ${listed.length}`)
  const spans = findChangeSpans(body)
  listed.forEach((c, i) => {
    const m = s.changes[i]
    if (m === undefined) return
    const routing = changeRoutingKeys(c.entryId, c.field, c.value)
    const wabaId = (m.field === 'account_update' ? m.wabaInfoId : undefined) ?? m.entryId
    if (m.entryId !== c.entryId || m.entryTime !== c.entryTime || m.entryIndex !== c.entryIndex || m.changeIndex !== c.changeIndex || m.field !== c.field) problems.push(`change ${i}: entry or field`)
    if (m.phoneNumberId !== routing.phoneNumberId || wabaId !== routing.wabaId) problems.push(`change ${i}: routing ${m.phoneNumberId}/${wabaId} vs ${routing.phoneNumberId}/${routing.wabaId}`)
    const value = JSON.parse(body.toString('utf8', m.value.start, m.value.end))
    if (!isDeepStrictEqual(value, c.value)) problems.push(`change ${i}: value`)
    const change = JSON.parse(body.toString('utf8', m.change.start, m.change.end))
    if (change?.field !== c.field) problems.push(`change ${i}: change span`)
    const span = spans?.[c.entryIndex]?.[c.changeIndex]
    if (span !== undefined && !isDeepStrictEqual(span, { change: m.change, value: m.value })) problems.push(`change ${i}: spans differ from json-spans`)
  })
  t.same(problems, [], name)
  return true
}

const metaBodies = (): Buffer[] => {
  const out = Object.values(WEBHOOK_SAMPLES).map((s) => Buffer.from(serializeLikeMeta(s)))
  for (let i = 0; i < 40; i++) {
    const phoneNumberId = `6200000000${i}`
    out.push(Buffer.from(serializeLikeMeta(batchBodies(
      inboundTextWebhook({ wamid: `wamid.${i}`, phoneNumberId, profileName: 'Ana Lima', body: `Olá! "${i}" \\ / 😊 \n\t` }),
      statusWebhook({ wamid: `wamid.s${i}`, phoneNumberId, status: 'read', pricing: pricing('utility', 'regular') }),
      echoWebhook({ wamid: `wamid.e${i}`, phoneNumberId })
    ))))
  }
  return out
}

t.test('Meta-shaped bodies: answered, and the same as the reference', async (t) => {
  const bodies = metaBodies()
  for (const [i, body] of bodies.entries()) {
    t.ok(agrees(t, body, `body ${i}`), `body ${i} answered`)
    // Whitespace between tokens (pretty-printed JSON) changes nothing.
    const pretty = Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 2) + '\n')
    t.ok(agrees(t, pretty, `body ${i} pretty`), `body ${i} pretty answered`)
  }
})

t.test('crafted bodies: answered the same, or left to the reference', async (t) => {
  const cases: Record<string, string> = {
    'repeated keys, last wins': '{"object":"x","entry":[{"id":"1","changes":[]}],"object":"whatsapp_business_account","entry":[{"id":"2","changes":[{"field":"a","value":1,"field":"messages","value":{"metadata":{"phone_number_id":"9"},"metadata":{"phone_number_id":"8"}}}]}]}',
    'phone id repeated, last not a string': '{"object":"whatsapp_business_account","entry":[{"id":"2","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"9","phone_number_id":9}}}]}]}',
    'metadata last not an object': '{"object":"whatsapp_business_account","entry":[{"id":"2","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"9"},"metadata":[1]}}]}]}',
    'empty phone id': '{"object":"whatsapp_business_account","entry":[{"id":"2","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":""}}}]}]}',
    'account_update with waba_info': '{"object":"whatsapp_business_account","entry":[{"id":"partner","time":1751400000,"changes":[{"value":{"event":"PARTNER_ADDED","waba_info":{"waba_id":"555","owner_business_id":"1"}},"field":"account_update"}]}]}',
    'waba_info on another field': '{"object":"whatsapp_business_account","entry":[{"id":"e","changes":[{"field":"messages","value":{"waba_info":{"waba_id":"555"}}}]}]}',
    'value absent, value an array, value null': '{"object":"whatsapp_business_account","entry":[{"id":"e","changes":[{"field":"messages"},{"field":"messages","value":[{"metadata":{}}]},{"field":"history","value":null}]}]}',
    'time variants': '{"object":"whatsapp_business_account","entry":[{"id":"a","time":-1.5e3,"changes":[{"field":"x","value":{}}]},{"id":"b","time":0,"changes":[]},{"id":"c","time":"1","time":12,"changes":[]}]}',
    'time not a number': '{"object":"whatsapp_business_account","entry":[{"id":"a","time":"1","changes":[]}]}',
    'time infinite': '{"object":"whatsapp_business_account","entry":[{"id":"a","time":1e999,"changes":[]}]}',
    'time null': '{"object":"whatsapp_business_account","entry":[{"id":"a","time":null,"changes":[]}]}',
    'empty entry': '{"object":"whatsapp_business_account","entry":[]}',
    'other object': '{"object":"page","entry":[{"id":"1","changes":[{"field":"feed","value":{}}]}]}',
    'entry not an array': '{"object":"whatsapp_business_account","entry":{}}',
    'entry element not an object': '{"object":"whatsapp_business_account","entry":[1]}',
    'change element not an object': '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":["x"]}]}',
    'changes missing': '{"object":"whatsapp_business_account","entry":[{"id":"1"}]}',
    'id empty': '{"object":"whatsapp_business_account","entry":[{"id":"","changes":[]}]}',
    'id a number': '{"object":"whatsapp_business_account","entry":[{"id":1,"changes":[]}]}',
    'field empty': '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"","value":{}}]}]}',
    'field missing': '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{}}]}]}',
    'object missing': '{"entry":[]}',
    'escaped key': '{"object":"whatsapp_business_account","\\u0065ntry":[{"id":"1","changes":[]}]}',
    'escaped id': '{"object":"whatsapp_business_account","entry":[{"id":"\\u0031","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"\\u0032"}}}]}]}',
    'escapes inside values': '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"a":"\\"}\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00","\\"k":[]}}]}]}',
    'deep nesting': `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"a":${'['.repeat(1000)}${']'.repeat(1000)}}}]}]}`,
    'numbers and literals': '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"n":[0,-0,1.5,-2e-3,3E+2,10,true,false,null,{},[]]}}]}]}',
    'not an object': '[1,2]',
    'a string': '"x"',
    'empty body': '',
    'trailing garbage': '{"object":"whatsapp_business_account","entry":[]}x',
    'trailing whitespace': '{"object":"whatsapp_business_account","entry":[]} \n\t\r',
    'leading zero': '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"m","value":{"n":01}}]}]}',
    'bad escape': '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"m","value":{"s":"\\x"}}]}]}',
    'short unicode escape': '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"m","value":{"s":"\\u12"}}]}]}',
    'raw control character': '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"m","value":{"s":"a\u0001b"}}]}]}',
    'trailing comma': '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"m","value":{"a":[1,]}}]}]}',
    'single quotes': "{'object':'whatsapp_business_account'}",
    unclosed: '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"m","value":{"a":[1'
  }
  for (const [name, text] of Object.entries(cases)) agrees(t, Buffer.from(text), name)
  t.ok(agrees(t, Buffer.from(cases['repeated keys, last wins']!), 'repeated'), 'repeated keys answered')
  t.ok(agrees(t, Buffer.from(cases['deep nesting']!), 'deep'), 'deep nesting answered')
  t.notOk(scanWebhook(Buffer.from(cases['escaped key']!)), 'an escaped key is left to the reference')
  const deeper = `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":${'[{"a":'.repeat(200_000)}1${'}]'.repeat(200_000)}}]}]}`
  t.equal(scanWebhook(Buffer.from(deeper))?.changes.length, 1, 'nesting far deeper than a call stack allows is scanned without recursion')
  t.notOk(scanWebhook(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(cases['empty entry']!)])), 'a byte order mark is left to the reference')
  // Invalid UTF-8 inside strings: JSON.parse of the decoded text accepts it (U+FFFD), and so do the ids read.
  const bad = Buffer.concat([Buffer.from('{"object":"whatsapp_business_account","entry":[{"id":"1'), Buffer.from([0xe2, 0x82]), Buffer.from('","changes":[{"field":"messages","value":{"t":"'), Buffer.from([0xff, 0xc0]), Buffer.from('"}}]}]}')])
  t.ok(agrees(t, bad, 'invalid UTF-8 in strings'), 'invalid UTF-8 in strings answered')
})

t.test('random damage to Meta-shaped bodies: never an answer the reference would not give', async (t) => {
  let seed = 12345
  const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n }
  const alphabet = Buffer.from('{}[]:,"\\ \n0123456789-+.eEtrufalsn/xu\u0001')
  const bodies = metaBodies()
  let answered = 0
  let tried = 0
  for (let k = 0; k < 6000; k++) {
    const base = bodies[rand(bodies.length)]!
    let body: Buffer
    const at = rand(base.length)
    switch (rand(4)) {
      case 0: body = Buffer.from(base); body[at] = alphabet[rand(alphabet.length)]!; break
      case 1: body = Buffer.concat([base.subarray(0, at), base.subarray(at + 1)]); break
      case 2: body = Buffer.concat([base.subarray(0, at), alphabet.subarray(rand(alphabet.length)).subarray(0, 1), base.subarray(at)]); break
      default: body = base.subarray(0, at)
    }
    tried++
    const s = scanWebhook(body)
    if (s === undefined) continue
    answered++
    let ok = true
    try { JSON.parse(body.toString('utf8')) } catch { ok = false }
    if (!ok) { t.fail(`answered for invalid JSON: ${body.toString('utf8')}`); break }
    const before = (t.counts.fail)
    agrees(t, body, `damaged body ${k}`)
    if (t.counts.fail > before) break
  }
  t.ok(answered > 0 && answered < tried, `answered ${answered} of ${tried} damaged bodies`)
})
