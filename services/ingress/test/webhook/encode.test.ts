import t from 'tap'
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { createTopicRegistry } from '@coexist/bus'
import { RawWebhookSchema, WebhookChangeSchema } from '@coexist/contracts'
import { serializeLikeMeta } from '@coexist/meta'
import { WEBHOOK_SAMPLES } from '@coexist/meta/fixtures'
import { encodeRawWebhook, encodeWebhookChange, type RawWebhookFields, type WebhookChangeFields } from '../../src/webhook/encode.ts'
import { planWebhook } from '../../src/webhook/fan-out.ts'

const topics = createTopicRegistry({ prefix: 'wa.' })
const generic = {
  raw: (v: RawWebhookFields) => Buffer.from(toBinary(RawWebhookSchema, create(RawWebhookSchema, v))),
  change: (v: WebhookChangeFields) => Buffer.from(toBinary(WebhookChangeSchema, create(WebhookChangeSchema, v)))
}

t.test('every sample: the same bytes as toBinary for the archive and each change', async (t) => {
  for (const [name, sample] of Object.entries(WEBHOOK_SAMPLES)) {
    const body = Buffer.from(serializeLikeMeta(sample))
    const plan = planWebhook(body, { appId: '1001', requestId: 'b3f0c7e2-5d1a-4c8e-9f00-123456789abc', receivedAt: 1_751_400_000_123, contentType: 'application/json; charset=utf-8' }, topics)
    for (const r of plan.records) {
      if (r.topic === 'webhook.unrouted') continue
      const [mine, theirs] = r.topic === 'webhook.raw' ? [encodeRawWebhook(r.value), generic.raw(r.value)] : [encodeWebhookChange(r.value), generic.change(r.value)]
      t.same(mine.toString('hex'), theirs.toString('hex'), `${name}: ${r.topic}`)
    }
  }
})

t.test('defaults left out, non-ASCII and long strings, large and negative int64, large indexes', async (t) => {
  const changes: WebhookChangeFields[] = [
    { field: '', wabaId: '', phoneNumberId: '', entryId: '', entryTime: 0n, changeIndex: 0, valueJson: new Uint8Array(), rawRequestId: '', receivedAt: 0n, appId: '', entryIndex: 0 },
    { field: 'messages', wabaId: 'wába-ñ-😊', phoneNumberId: 'x'.repeat(200), entryId: 'e'.repeat(64), entryTime: -1n, changeIndex: 300, valueJson: Buffer.alloc(70_000, 0x61), rawRequestId: 'ü'.repeat(65), receivedAt: 2n ** 63n - 1n, appId: '1', entryIndex: 2 ** 32 - 1 },
    { field: 'history', wabaId: '1', phoneNumberId: '2', entryId: '3', entryTime: 1_751_400_000n, changeIndex: 127, valueJson: Buffer.from('{"a":"\\u00e9"}'), rawRequestId: 'r', receivedAt: BigInt(Number.MAX_SAFE_INTEGER) + 1n, appId: 'app', entryIndex: 128 },
    { field: 'f', wabaId: 'w', phoneNumberId: 'p', entryId: 'e', entryTime: -(2n ** 63n), changeIndex: 16_384, valueJson: Buffer.from('null'), rawRequestId: 'r', receivedAt: BigInt(Number.MAX_SAFE_INTEGER), appId: 'a', entryIndex: 2_097_152 }
  ]
  for (const [i, v] of changes.entries()) {
    const mine = encodeWebhookChange(v)
    t.same(mine.toString('hex'), generic.change(v).toString('hex'), `change ${i}`)
    const { valueJson, ...rest } = fromBinary(WebhookChangeSchema, mine)
    const { valueJson: given, ...expected } = v
    t.match(rest, expected, `change ${i} decodes`)
    t.ok(Buffer.from(valueJson).equals(given), `change ${i} value bytes`)
  }
  const raws: RawWebhookFields[] = [
    { body: new Uint8Array(), receivedAt: 0n, appId: '', signatureVerified: false, contentType: '', requestId: '' },
    { body: Buffer.from('{"é":1}'), receivedAt: 1_751_400_000_123n, appId: '100000000000001', signatureVerified: true, contentType: 'text/plain; charset=ütf-8', requestId: 'z'.repeat(128) },
    { body: Buffer.alloc(3_000_000, 0x20), receivedAt: -5n, appId: 'a', signatureVerified: true, contentType: 'application/json', requestId: 'r' }
  ]
  for (const [i, v] of raws.entries()) {
    const mine = encodeRawWebhook(v)
    t.ok(mine.equals(generic.raw(v)), `raw ${i}`)
  }
})
