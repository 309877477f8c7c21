/**
 * infra/patches/kafkajs@2.2.4.patch makes kafkajs's protocol Encoder cheaper (no zero-filled
 * allocations, varints written in place, one grow per encoder array). These vectors are the
 * Kafka protocol's zig-zag varints, so the patched encoder must still write exactly these bytes.
 */
import { createRequire } from 'node:module'
import t from 'tap'

interface Encoder { buffer: Buffer, writeVarInt: (v: number) => Encoder, writeVarLong: (v: number) => Encoder, writeUVarInt: (v: number) => Encoder, writeEncoderArray: (v: Encoder[]) => Encoder, writeVarIntBytes: (v: Buffer) => Encoder, writeInt32: (v: number) => Encoder }
interface EncoderClass { new (size?: number): Encoder, sizeOfVarLong: (v: number) => number }
const require = createRequire(import.meta.url)
const Encoder = require('kafkajs/src/protocol/encoder.js') as EncoderClass

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
    t.equal(hex(new Encoder().writeVarInt(v)), bytes, `varint ${v}`)
    t.equal(hex(new Encoder().writeVarLong(v)), bytes, `varlong ${v}`)
    t.equal(Encoder.sizeOfVarLong(v), bytes.length / 2, `size of varlong ${v}`)
  }
  // Outside the int32 range the original 64-bit path still runs.
  t.equal(hex(new Encoder().writeVarLong(2 ** 31)), '8080808010')
  t.equal(hex(new Encoder().writeVarLong(-(2 ** 40))), 'ffffffffff3f')
  t.equal(Encoder.sizeOfVarLong(2 ** 40), 6)
  t.equal(hex(new Encoder().writeUVarInt(2 ** 32 - 1)), 'ffffffff0f')
})

t.test('an encoder array grows once and keeps every part in order', async (t) => {
  const parts = Array.from({ length: 40 }, (_, i) => new Encoder().writeVarIntBytes(Buffer.alloc(i * 37, i)))
  const joined = new Encoder().writeInt32(parts.length).writeEncoderArray(parts).buffer
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
