/**
 * infra/patches/kafkajs@2.2.4.patch makes kafkajs's protocol Encoder cheaper (no zero-filled
 * allocations, varints written in place, one grow per encoder array). These vectors are the
 * Kafka protocol's zig-zag varints, so the patched encoder must still write exactly these bytes.
 * It also keeps the request queue from scheduling its pending-request check with a negative delay,
 * and checksums record batches with @node-rs/crc32 (a dependency pnpm-workspace.yaml gives kafkajs).
 */
import { createRequire } from 'node:module'
import t from 'tap'
import { testKafkaBrokers } from '@coexist/testkit'
import { createKafka } from '../src/index.ts'
import { logger } from './helpers.ts'

interface Encoder { buffer: Buffer, writeVarInt: (v: number) => Encoder, writeVarLong: (v: number) => Encoder, writeUVarInt: (v: number) => Encoder, writeEncoderArray: (v: Encoder[]) => Encoder, writeVarIntBytes: (v: Buffer) => Encoder, writeInt32: (v: number) => Encoder }
interface EncoderClass { new (size?: number): Encoder, sizeOfVarLong: (v: number) => number }
const require = createRequire(import.meta.url)
const KafkaEncoder = require('kafkajs/src/protocol/encoder.js') as EncoderClass

const hex = (e: Encoder): string => e.buffer.toString('hex')

t.test('the patch is applied', async (t) => {
  const source = require('node:fs').readFileSync(require.resolve('kafkajs/src/protocol/encoder.js'), 'utf8') as string
  t.match(source, /Patched: bytes written in place/)
})

t.test('zig-zag varints and varlongs are the protocol bytes', async (t) => {
  const vectors: [number, string][] = [
    [0, '00'], [-1, '01'], [1, '02'], [63, '7e'], [-64, '7f'], [64, '8001'], [-65, '8101'],
    [300, 'd804'], [2 ** 31 - 1, 'feffffff0f'], [-(2 ** 31), 'ffffffff0f']
  ]
  for (const [v, bytes] of vectors) {
    t.equal(hex(new KafkaEncoder().writeVarInt(v)), bytes, `varint ${v}`)
    t.equal(hex(new KafkaEncoder().writeVarLong(v)), bytes, `varlong ${v}`)
    t.equal(KafkaEncoder.sizeOfVarLong(v), bytes.length / 2, `size of varlong ${v}`)
  }
  // Outside the int32 range the original 64-bit path still runs.
  t.equal(hex(new KafkaEncoder().writeVarLong(2 ** 31)), '8080808010')
  t.equal(hex(new KafkaEncoder().writeVarLong(-(2 ** 40))), 'ffffffffff3f')
  t.equal(KafkaEncoder.sizeOfVarLong(2 ** 40), 6)
  t.equal(hex(new KafkaEncoder().writeUVarInt(2 ** 32 - 1)), 'ffffffff0f')
})

t.test('an encoder array grows once and keeps every part in order', async (t) => {
  const parts = Array.from({ length: 40 }, (_, i) => new KafkaEncoder().writeVarIntBytes(Buffer.alloc(i * 37, i)))
  const joined = new KafkaEncoder().writeInt32(parts.length).writeEncoderArray(parts).buffer
  const expected = Buffer.concat([Buffer.from([0, 0, 0, 40]), ...parts.map((p) => p.buffer)])
  t.equal(joined.length, expected.length)
  t.ok(joined.equals(expected))
})

t.test('messages are grouped per partition in their order (linear, not a copy per message)', async (t) => {
  const group = require('kafkajs/src/producer/groupMessagesPerPartition.js') as (o: { topic: string, partitionMetadata: unknown[], messages: { key: string, n: number }[], partitioner: (a: { message: { key: string } }) => number }) => Record<number, { n: number }[]>
  const messages = Array.from({ length: 30_000 }, (_, n) => ({ key: String(n % 3), n }))
  const grouped = group({ topic: 't', partitionMetadata: [{}, {}, {}], messages, partitioner: ({ message }) => Number(message.key) })
  t.same(Object.keys(grouped).sort(), ['0', '1', '2'])
  for (const p of [0, 1, 2]) {
    const ns = grouped[p]!.map((m) => m.n)
    t.equal(ns.length, 10_000)
    t.ok(ns.every((n, i) => n === p + 3 * i), `partition ${p} keeps the order`)
  }
  t.same(group({ topic: 't', partitionMetadata: [], messages, partitioner: () => 0 }), {})
})

t.test('an uncompressed record batch is written in one pass with the bytes of the generic encoders', async (t) => {
  interface Message { key?: unknown, value?: unknown, timestamp?: string, headers?: Record<string, unknown> }
  type BatchArgs = { partition: number, messages: Message[], dateNow: number, firstTimestamp: number | string, maxTimestamp: number | string, transactional: boolean, producerId: unknown, producerEpoch: number, firstSequence: number }
  const Long = require('kafkajs/src/utils/long.js') as { fromNumber: (n: number) => unknown }
  const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (r: object) => Encoder
  const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as { RecordBatch: (o: object) => Promise<Encoder & { size: () => number }> }
  const encodeUncompressed = require('kafkajs/src/protocol/recordBatch/v0/encodeUncompressed.js') as (a: BatchArgs) => Encoder
  // What the produce request's partition encoder wrote before the patch (and still writes for compressed batches).
  const generic = async (a: BatchArgs): Promise<Buffer> => {
    const records = a.messages.map((m, i) => Record({ ...m, offsetDelta: i, timestampDelta: Number(m.timestamp ?? a.dateNow) - Number(a.firstTimestamp) }))
    const batch = await RecordBatch({ records, firstTimestamp: a.firstTimestamp, maxTimestamp: a.maxTimestamp, producerId: a.producerId, producerEpoch: a.producerEpoch, firstSequence: a.firstSequence, transactional: a.transactional, lastOffsetDelta: records.length - 1 })
    const out = new KafkaEncoder().writeInt32(a.partition).writeInt32(batch.size()) as Encoder & { writeEncoder: (e: Encoder) => Encoder }
    return out.writeEncoder(batch).buffer
  }
  // A seeded generator: every run checks the same cases.
  let seed = 42
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n }
  const text = (): string => ['', 'a', 'olá 😊', 'x'.repeat(rnd(300)), 'ü'.repeat(rnd(70))][rnd(5)]!
  const value = (): unknown => [null, undefined, text(), Buffer.from(text()), Buffer.alloc(rnd(20_000), 7)][rnd(5)]
  const dateNow = 1_751_400_000_123
  for (let c = 0; c < 300; c++) {
    const messages: Message[] = Array.from({ length: 1 + rnd(c % 10 === 0 ? 300 : 8) }, () => {
      const m: Message = { key: value(), value: value() }
      // Timestamps as the bus sends them (strings), some outside the int32 range of the delta.
      if (rnd(3) === 0) m.timestamp = String(dateNow - rnd(3) * (rnd(2) === 0 ? 1 : 5e9))
      if (rnd(4) !== 0) {
        m.headers = {}
        for (let h = rnd(6); h > 0; h--) m.headers[text() || 'k'] = rnd(5) === 0 ? [Buffer.from(text()), text()] : rnd(2) === 0 ? text() : Buffer.from(text())
      }
      return m
    })
    const timestamps = messages.map((m) => m.timestamp).filter((s) => s !== undefined).sort()
    const args: BatchArgs = {
      partition: rnd(100),
      messages,
      dateNow,
      firstTimestamp: timestamps[0] ?? dateNow,
      maxTimestamp: timestamps.at(-1) ?? dateNow,
      transactional: rnd(2) === 0,
      producerId: Long.fromNumber(rnd(1e9) * 1000),
      producerEpoch: rnd(30_000),
      firstSequence: rnd(2 ** 31)
    }
    const expected = await generic(args)
    const actual = encodeUncompressed(args).buffer
    if (!actual.equals(expected)) t.fail(`case ${c}: ${actual.length} bytes, expected ${expected.length}`)
  }
  t.pass('300 batches identical')
  const source = require('node:fs').readFileSync(require.resolve('kafkajs/src/protocol/requests/produce/v3/request.js'), 'utf8') as string
  t.match(source, /encodeUncompressed\(/, 'the produce request uses it for uncompressed batches')
})

t.test('record batches decode in place to the records written: offsets and timestamps as numbers where exact, headers folded once', async (t) => {
  interface Message { key?: unknown, value?: unknown, timestamp?: string, headers?: Record<string, unknown> }
  interface Decoded { offset: string, timestamp: string, key: Buffer | null, value: Buffer | null, headers: Record<string, unknown> }
  const encodeUncompressed = require('kafkajs/src/protocol/recordBatch/v0/encodeUncompressed.js') as (a: object) => Encoder
  const RecordBatchDecoder = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (d: unknown) => Promise<{ records: Decoded[] }>
  const Decoder = require('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => unknown
  const Long = require('kafkajs/src/utils/long.js') as { fromNumber: (n: number) => unknown }
  let seed = 7
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n }
  const bytes = (v: unknown): Buffer | null => v === null || v === undefined ? null : Buffer.isBuffer(v) ? v : Buffer.from(String(v))
  const dateNow = 1_751_400_000_123
  // First offsets in and beyond the safe integer range (the Long path); timestamp deltas beyond 7 varint bytes.
  const firstOffsets = [0n, 41n, 2n ** 40n, 2n ** 53n - 3n, 2n ** 62n + 5n]
  for (let c = 0; c < 200; c++) {
    const firstOffset = firstOffsets[c % firstOffsets.length]!
    const messages: Message[] = Array.from({ length: 1 + rnd(40) }, (_, i) => {
      const m: Message = { key: rnd(4) === 0 ? null : `k${i}`, value: rnd(5) === 0 ? null : Buffer.alloc(rnd(300), i) }
      if (rnd(3) === 0) m.timestamp = String(dateNow + [-1, 1, 5e9, -5e9, 2 ** 50, -(2 ** 49)][rnd(6)]!)
      m.headers = {}
      // Repeated keys become arrays; keys of Object.prototype and __proto__ are plain headers.
      for (const k of [['a'], ['a', 'b'], ['x', 'x', 'x'], ['toString'], ['__proto__', 'y'], []][rnd(6)]!) {
        const v = rnd(2) === 0 ? `v${rnd(100)}` : Buffer.from([rnd(256), rnd(256)])
        const prev = Object.prototype.hasOwnProperty.call(m.headers, k) ? m.headers[k] : undefined
        Object.defineProperty(m.headers, k, { value: prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v], enumerable: true, writable: true, configurable: true })
      }
      return m
    })
    const timestamps = messages.map((m) => m.timestamp).filter((s) => s !== undefined).sort((a, b) => Number(a) - Number(b))
    const firstTimestamp = timestamps[0] ?? dateNow
    // The produce encoder flattens arrays into repeated headers, as Kafka stores them.
    const buffer = encodeUncompressed({ partition: 0, messages, dateNow, firstTimestamp, maxTimestamp: timestamps.at(-1) ?? dateNow, transactional: false, producerId: Long.fromNumber(-1), producerEpoch: 0, firstSequence: 0 }).buffer.subarray(8)
    buffer.writeBigInt64BE(firstOffset, 0)
    const { records } = await RecordBatchDecoder(new Decoder(buffer))
    t.equal(records.length, messages.length)
    records.forEach((r, i) => {
      const m = messages[i]!
      if (r.offset !== String(firstOffset + BigInt(i))) t.fail(`case ${c} record ${i}: offset ${r.offset}`)
      const ts = String(BigInt(Number(firstTimestamp)) + BigInt(Number(m.timestamp ?? dateNow) - Number(firstTimestamp)))
      if (r.timestamp !== ts) t.fail(`case ${c} record ${i}: timestamp ${r.timestamp}, expected ${ts}`)
      if (String(r.key) !== String(bytes(m.key)) || String(r.value?.toString('hex')) !== String(bytes(m.value)?.toString('hex'))) t.fail(`case ${c} record ${i}: key or value`)
      const hex = (h: Record<string, unknown>): string => JSON.stringify(Object.entries(h).map(([k, v]) => [k, Array.isArray(v) ? v.map((x) => bytes(x)!.toString('hex')) : bytes(v)!.toString('hex')]))
      if (hex(r.headers) !== hex(m.headers!)) t.fail(`case ${c} record ${i}: headers ${hex(r.headers)}, expected ${hex(m.headers!)}`)
      if (Object.getPrototypeOf(r.headers) !== Object.prototype) t.fail('headers are a plain object')
    })
  }
  t.pass('200 batches decoded to their records')
  // A record whose length runs past its batch is refused, not read from the next bytes.
  const one = encodeUncompressed({ partition: 0, messages: [{ key: 'k', value: 'v' }], dateNow, firstTimestamp: dateNow, maxTimestamp: dateNow, transactional: false, producerId: Long.fromNumber(-1), producerEpoch: 0, firstSequence: 0 }).buffer.subarray(8)
  const corrupt = Buffer.from(one)
  corrupt[61] = 0x7e // the record's length varint: 63 bytes, more than the batch holds
  await t.rejects(RecordBatchDecoder(new Decoder(corrupt)), /Invalid record length 63/)
  const source = require('node:fs').readFileSync(require.resolve('kafkajs/src/protocol/recordBatch/record/v0/decoder.js'), 'utf8') as string
  t.match(source, /Patched: a header list folded into one object/)
})

t.test('connecting to a broker sets no negative timeout (Node >= 24 warned TimeoutNegativeWarning on every connection)', async (t) => {
  const warnings: string[] = []
  const onWarning = (w: Error): void => { warnings.push(`${w.name}: ${w.message}`) }
  process.on('warning', onWarning)
  t.teardown(() => { process.off('warning', onWarning) })
  const admin = createKafka({ brokers: testKafkaBrokers(), clientId: 'patch-test', logger }).admin()
  await admin.connect()
  await admin.listTopics()
  await admin.disconnect()
  await new Promise((resolve) => setImmediate(resolve))
  t.same(warnings.filter((w) => w.startsWith('TimeoutNegativeWarning')), [])
})

t.test('the record batch CRC-32C (@node-rs/crc32) is the standard checksum at every length and offset', async (t) => {
  const crc32C = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (b: Buffer) => number
  // The check value of CRC-32C (Castagnoli), and a bitwise reference for everything else.
  t.equal(crc32C(Buffer.from('123456789')), 0xe3069283)
  t.equal(crc32C(Buffer.alloc(0)), 0)
  const reference = (b: Buffer): number => {
    let crc = ~0
    for (const byte of b) {
      crc ^= byte
      for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0x82f63b78 & -(crc & 1))
    }
    return ~crc >>> 0
  }
  const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + (i >> 3)) & 0xff))
  for (let len = 0; len < 300; len++) {
    for (const off of [0, 1, 3, 7]) {
      const b = bytes.subarray(off, off + len)
      if (crc32C(b) !== reference(b)) t.fail(`length ${len} at offset ${off}`)
    }
  }
  t.equal(crc32C(bytes), reference(bytes), '4 KiB')
  const source = require('node:fs').readFileSync(require.resolve('kafkajs/src/protocol/recordBatch/crc32C/index.js'), 'utf8') as string
  t.match(source, /require\('@node-rs\/crc32'\)/, 'the library\'s checksum is the one kafkajs uses')
})
