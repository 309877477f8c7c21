import t from 'tap'
import { create, fromBinary, toBinary, toJson } from '@bufbuild/protobuf'
import {
  BalanceState, CONTRACT_FILES, DomainEventSchema, MessageStatus, OutboundDeadLetterSchema, OutboundStatus,
  OutboundResultSchema, RawWebhookSchema, TenantBalanceEventSchema, UsageRecordSchema, WebhookChangeSchema,
  contractRegistry, findContractSchema
} from '../src/index.ts'

t.test('generated code loads under Node and round-trips through the wire format', async (t) => {
  const body = Buffer.from('{"object":"whatsapp_business_account","entry":[{"id":"1\\u00e9\\/"}]}')
  const raw = create(RawWebhookSchema, { body, receivedAt: 1751400000123n, appId: 'app', signatureVerified: true, requestId: 'r1' })
  const back = fromBinary(RawWebhookSchema, toBinary(RawWebhookSchema, raw))
  t.same(Buffer.from(back.body), body, 'bytes survive exactly')
  t.equal(back.receivedAt, 1751400000123n)
  t.equal(back.$typeName, 'coexist.webhook.v1.RawWebhook')

  const change = create(WebhookChangeSchema, { field: 'messages', wabaId: 'w', phoneNumberId: '', changeIndex: 2, valueJson: Buffer.from('{}') })
  t.equal(fromBinary(WebhookChangeSchema, toBinary(WebhookChangeSchema, change)).changeIndex, 2)
})

t.test('enums are plain objects (erasable TypeScript) with stable numbers', async (t) => {
  t.equal(OutboundStatus.SENT, 1)
  t.equal(OutboundStatus.FAILED, 2)
  t.equal(OutboundStatus.UNKNOWN, 3)
  t.equal(MessageStatus.READ, 3)
  t.equal(BalanceState.EXHAUSTED, 3)
  const r = create(OutboundResultSchema, { requestId: 'q', status: OutboundStatus.FAILED, error: { code: 131047, title: 'Re-engagement message' } })
  const json = toJson(OutboundResultSchema, fromBinary(OutboundResultSchema, toBinary(OutboundResultSchema, r)))
  t.match(json, { requestId: 'q', status: 'OUTBOUND_STATUS_FAILED', error: { code: 131047 } })
})

t.test('domain events carry one case of the oneof', async (t) => {
  const ev = create(DomainEventSchema, {
    eventId: 'e1',
    tenantId: 't',
    phoneNumberId: 'p',
    occurredAt: 5n,
    event: { case: 'statusChanged', value: { wamid: 'wamid.X', status: MessageStatus.DELIVERED, rawStatus: 'delivered' } }
  })
  const back = fromBinary(DomainEventSchema, toBinary(DomainEventSchema, ev))
  t.equal(back.event.case, 'statusChanged')
  if (back.event.case === 'statusChanged') t.equal(back.event.value.status, MessageStatus.DELIVERED)
})

t.test('money stays exact as bigint micros', async (t) => {
  const u = create(UsageRecordSchema, { tenantId: 't', wamid: 'w', billedPriceMicros: 9_007_199_254_740_993n })
  t.equal(fromBinary(UsageRecordSchema, toBinary(UsageRecordSchema, u)).billedPriceMicros, 9_007_199_254_740_993n)
  const b = create(TenantBalanceEventSchema, { tenantId: 't', balanceMicros: -5n, state: BalanceState.EXHAUSTED })
  t.equal(fromBinary(TenantBalanceEventSchema, toBinary(TenantBalanceEventSchema, b)).state, BalanceState.EXHAUSTED)
})

t.test('every contract is versioned and findable by its full name', async (t) => {
  const names: string[] = []
  for (const file of CONTRACT_FILES) {
    t.match(file.proto.package, /^coexist\.[a-z]+\.v\d+$/, `${file.name} has a versioned package`)
    for (const m of file.messages) names.push(m.typeName)
  }
  for (const name of ['coexist.webhook.v1.RawWebhook', 'coexist.webhook.v1.WebhookChange', 'coexist.webhook.v1.UnroutedWebhook',
    'coexist.outbound.v1.OutboundRequest', 'coexist.outbound.v1.OutboundResult', 'coexist.outbound.v1.OutboundDeadLetter',
    'coexist.events.v1.DomainEvent', 'coexist.billing.v1.UsageRecord', 'coexist.billing.v1.TenantBalanceEvent']) {
    t.ok(names.includes(name), name)
    t.equal(findContractSchema(name)?.typeName, name)
  }
  t.equal(findContractSchema('coexist.nope.v1.X'), undefined)
  t.equal(contractRegistry.getMessage('coexist.outbound.v1.OutboundDeadLetter'), OutboundDeadLetterSchema)
})

t.test('toBinary reuses its writer (infra/patches): each result is its own exact copy', async (t) => {
  const big = Buffer.alloc(40_000, 1)
  const small = Buffer.from('{"a":1}')
  const huge = Buffer.alloc(200_000, 2) // past the buffer size the reused writer keeps
  const encode = (body: Buffer, id: string): Uint8Array => toBinary(RawWebhookSchema, create(RawWebhookSchema, { body, requestId: id }))
  const a = encode(big, 'a')
  const aCopy = Buffer.from(a)
  const b = encode(small, 'b')
  const c = encode(huge, 'c')
  const d = encode(small, 'd')
  t.ok(Buffer.from(a).equals(aCopy), 'a later call does not overwrite an earlier result')
  t.equal(b.byteLength, d.byteLength, 'no bytes of a bigger message left over')
  t.equal(b.buffer.byteLength, b.byteLength, 'a result owns exactly its bytes')
  t.same(Buffer.from(fromBinary(RawWebhookSchema, a).body), big)
  t.same(Buffer.from(fromBinary(RawWebhookSchema, b).body), small)
  t.same(Buffer.from(fromBinary(RawWebhookSchema, c).body), huge)
  t.equal(fromBinary(RawWebhookSchema, d).requestId, 'd')
  t.throws(() => toBinary(RawWebhookSchema, { $typeName: 'x.Other' } as never), 'a failing call throws')
  t.equal(fromBinary(RawWebhookSchema, encode(small, 'e')).requestId, 'e', 'and the next call still works')
})
