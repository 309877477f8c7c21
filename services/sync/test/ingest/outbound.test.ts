import t from 'tap'
import { create } from '@bufbuild/protobuf'
import { fromBinary } from '@bufbuild/protobuf'
import { DomainEventSchema, OutboundRequestSchema, OutboundResultSchema, OutboundStatus, RecipientType } from '@coexist/contracts'
import { ingestOutboundRequest, ingestOutboundResult } from '../../src/ingest/outbound.ts'
import { seedNumber, testDb } from '../helpers.ts'

const enc = new TextEncoder()

t.test('API-sent messages: stored once by wamid with their content, whichever of request and result comes first', async (t) => {
  const { db } = await testDb(t)
  const n = await seedNumber(db)
  const info = { ...n, displayPhoneNumber: n.display, mode: 'coexistence' as const }
  const request = (id: string, body: unknown) => create(OutboundRequestSchema, {
    requestId: id,
    tenantId: n.tenantId,
    phoneNumberId: n.phoneNumberId,
    recipient: '5511977770000',
    recipientType: RecipientType.PHONE,
    messageJson: enc.encode(JSON.stringify(body)),
    acceptedAt: BigInt(Date.now())
  })
  const result = (id: string, wamid: string) => create(OutboundResultSchema, {
    requestId: id,
    tenantId: n.tenantId,
    phoneNumberId: n.phoneNumberId,
    recipient: '5511977770000',
    recipientType: RecipientType.PHONE,
    status: OutboundStatus.SENT,
    wamid,
    sentAt: BigInt(Date.now()),
    completedAt: BigInt(Date.now()),
    category: 'utility'
  })
  // Request first, then the result (twice).
  await ingestOutboundRequest(db, request('r1', { messaging_product: 'whatsapp', to: '5511977770000', type: 'text', text: { body: 'Seu pedido saiu' } }))
  t.equal(await ingestOutboundResult(db, info, result('r1', 'wamid.API_1')), 1)
  t.equal(await ingestOutboundResult(db, info, result('r1', 'wamid.API_1')), 0, 'a duplicate result adds nothing')
  // Result first, then the request.
  t.equal(await ingestOutboundResult(db, info, result('r2', 'wamid.API_2')), 1)
  await ingestOutboundRequest(db, request('r2', { messaging_product: 'whatsapp', to: '5511977770000', type: 'template', template: { name: 'order_update' } }))
  // A failed send has no wamid and no message.
  t.equal(await ingestOutboundResult(db, info, create(OutboundResultSchema, { requestId: 'r3', phoneNumberId: n.phoneNumberId, status: OutboundStatus.FAILED })), 0)

  const rows = await db.selectFrom('messages').select(['wamid', 'source', 'direction', 'type', 'text', 'request_id']).orderBy('wamid').execute()
  t.same(rows, [
    { wamid: 'wamid.API_1', source: 'api', direction: 'outbound', type: 'text', text: 'Seu pedido saiu', request_id: 'r1' },
    { wamid: 'wamid.API_2', source: 'api', direction: 'outbound', type: 'template', text: 'order_update', request_id: 'r2' }
  ])
  const conv = await db.selectFrom('conversations').select(['message_count', 'last_inbound_at']).executeTakeFirstOrThrow()
  t.equal(conv.message_count, 2)
  t.equal(conv.last_inbound_at, null, 'our own sends never open the customer service window')
  const sent = (await db.selectFrom('event_outbox').select('payload').where('event_type', '=', 'message_sent').execute()).map((e) => fromBinary(DomainEventSchema, e.payload))
  t.equal(sent.length, 2, 'one MessageSent per message')
  t.equal(sent[0]?.event.case === 'messageSent' ? sent[0].event.value.requestId : '', 'r1')
})
