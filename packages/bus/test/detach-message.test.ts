import type { KafkaMessage } from 'kafkajs'
import t from 'tap'
import { detachMessage, detachMessages } from '../src/consumer.ts'

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

t.test('records of one fetch detached together share exact-size allocations of at most shareBytes, outside the fetch', async (t) => {
  const fetch = Buffer.alloc(1024 * 1024)
  for (let i = 0; i < fetch.length; i++) fetch[i] = i * 31 & 0xff
  let at = 0
  const view = (n: number): Buffer => { const b = fetch.subarray(at, at + n); at += n; return b }
  // 600 bytes each (key 15, value 400, two byte headers 185), one of 20 KiB, then 600-byte ones again.
  const sizes = [...Array<number>(30).fill(400), 20_000, ...Array<number>(10).fill(400)]
  const ms = sizes.map((n, i) => ({ offset: String(i), timestamp: '1700000000000', attributes: 0, size: 0, key: view(15), value: view(n), headers: { 'trace-id': view(32), 'tenant-id': view(153), 'event-type': 'x' } }) as unknown as KafkaMessage)
  const out = detachMessages(ms, 16 * 1024)
  t.equal(out.length, ms.length)
  const owners = new Map<ArrayBufferLike, number[]>()
  out.forEach((d, i) => {
    const m = ms[i]!
    const h = d.headers as Record<string, Buffer | string>
    const parts = [d.key!, d.value!, h['trace-id'] as Buffer, h['tenant-id'] as Buffer]
    if (!d.key!.equals(m.key!) || !d.value!.equals(m.value!) || !(h['trace-id'] as Buffer).equals(m.headers!['trace-id'] as Buffer) || h['event-type'] !== 'x') t.fail(`record ${i}: bytes differ`)
    if (d.offset !== m.offset) t.fail(`record ${i}: offset`)
    const owner = parts[0]!.buffer
    if (parts.some((p) => p.buffer !== owner)) t.fail(`record ${i}: its parts are in one allocation`)
    owners.set(owner, [...owners.get(owner) ?? [], i])
  })
  for (const [owner, records] of owners) {
    t.not(owner, fetch.buffer, 'not the fetch')
    const bytes = records.reduce((n, i) => n + 15 + sizes[i]! + 185, 0)
    t.equal(owner.byteLength, bytes, `records ${records[0]}-${records.at(-1)}: exactly their bytes`)
    t.ok(records.every((r, k) => k === 0 || r === records[k - 1]! + 1), 'consecutive records')
    t.ok(bytes <= 16 * 1024 || records.length === 1, 'at most 16 KiB, or one larger record alone')
  }
  t.equal(owners.size, 4, '27 records, 3, the large one alone, 10')
  const pooled = Buffer.from('pooled')
  t.notOk(owners.has(pooled.buffer), 'outside Node\'s buffer pool')
  // shareBytes 0: an allocation per record, as detachMessage.
  const each = detachMessages(ms.slice(0, 3), 0)
  t.equal(new Set(each.map((d) => d.value!.buffer)).size, 3)
  t.equal(each[0]!.value!.buffer.byteLength, 600)
})
