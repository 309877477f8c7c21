import type { KafkaMessage } from 'kafkajs'
import t from 'tap'
import { detachMessage } from '../src/consumer.ts'

t.test('a record held by the consumer does not keep its fetch response alive', async (t) => {
  // kafkajs's records are views into one fetch response.
  const fetch = Buffer.alloc(4 * 1024 * 1024, 7)
  const m = {
    offset: '42',
    timestamp: '1700000000000',
    attributes: 0,
    size: 0,
    key: fetch.subarray(0, 15),
    value: fetch.subarray(100, 1100),
    headers: { 'trace-id': fetch.subarray(2000, 2032), 'event-type': 'x', multi: [fetch.subarray(3000, 3004), 'y'] }
  } as unknown as KafkaMessage
  const d = detachMessage(m)
  t.equal(d.offset, '42')
  t.equal(d.timestamp, '1700000000000')
  t.ok(d.key!.equals(m.key!))
  t.ok(d.value!.equals(m.value!))
  const h = d.headers as Record<string, unknown>
  t.ok((h['trace-id'] as Buffer).equals(fetch.subarray(2000, 2032)))
  t.equal(h['event-type'], 'x')
  t.same((h.multi as unknown[]).map((v) => Buffer.isBuffer(v) ? v.length : v), [4, 'y'])
  // One exact-size allocation of its own (not the fetch, not a slab of Node's buffer pool that
  // other records share): 15 + 1000 + 32 + 4 bytes.
  const owners = new Set([d.key!, d.value!, h['trace-id'] as Buffer, (h.multi as Buffer[])[0]!].map((b) => b.buffer))
  t.equal(owners.size, 1, 'key, value and headers share one allocation')
  const own = [...owners][0]!
  t.not(own, fetch.buffer, 'own bytes')
  t.equal(own.byteLength, 1051, 'exactly the record\'s bytes')
  const pooled = Buffer.from('pooled')
  t.not(own, pooled.buffer, 'outside Node\'s buffer pool')
  // A null key and value stay null.
  const n = detachMessage({ ...m, key: null, value: null } as KafkaMessage)
  t.equal(n.key, null)
  t.equal(n.value, null)
})
