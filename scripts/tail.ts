/**
 * `npm run tail -- <topic> [--from-beginning] [--max N]`: prints a topic's records as JSON
 * lines, one per record: { topic, partition, offset, key, timestamp, headers, value }. The value
 * is decoded with the contract its `schema` header names (packages/contracts); webhook bodies
 * (bytes fields holding Meta's JSON) are shown as parsed JSON. <topic> is a full name
 * (`wa.events.v1`) or a registry key (`events`, `webhook.messages`, `outbound.results`).
 * Brokers and prefix: KAFKA_BROKERS (default 127.0.0.1:9092, `npm start`'s), KAFKA_TOPIC_PREFIX.
 */
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { fromBinary, toJson } from '@bufbuild/protobuf'
import { createKafka, createTopicRegistry, decodeHeaders } from '@coexist/bus'
import { contractRegistry, findContractSchema } from '@coexist/contracts'
import { createLogger } from '@coexist/logger'

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { 'from-beginning': { type: 'boolean', default: false }, max: { type: 'string' } }
})
const registry = createTopicRegistry({ prefix: process.env.KAFKA_TOPIC_PREFIX ?? 'wa.' })
const wanted = positionals[0]
if (wanted === undefined) {
  console.error(`usage: npm run tail -- <topic> [--from-beginning] [--max N]\ntopics: ${registry.all().map((t) => t.name).join(', ')}`)
  process.exit(2)
}
const spec = registry.byName(wanted) ?? registry.all().find((t) => t.key === wanted)
const topic = spec?.name ?? wanted
const max = values.max === undefined ? Infinity : Number(values.max)

/** bytes fields that carry Meta's JSON are shown parsed; anything else stays base64. */
function expandJson (v: unknown): unknown {
  if (Array.isArray(v)) return v.map(expandJson)
  if (v === null || typeof v !== 'object') return v
  const out: Record<string, unknown> = {}
  for (const [k, x] of Object.entries(v)) {
    if (typeof x === 'string' && /(json|body)$/i.test(k)) {
      try { out[k] = JSON.parse(Buffer.from(x, 'base64').toString('utf8')); continue } catch {}
    }
    out[k] = expandJson(x)
  }
  return out
}

const logger = createLogger({ level: 'warn', name: 'tail' })
const kafka = createKafka({ brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','), clientId: 'coexist-tail', logger })
const consumer = kafka.consumer({ groupId: `coexist-tail-${randomBytes(4).toString('hex')}` })
let seen = 0
const stop = async (): Promise<void> => { await consumer.disconnect().catch(() => {}); process.exit(0) }
process.on('SIGINT', () => { void stop() })
await consumer.connect()
await consumer.subscribe({ topic, fromBeginning: values['from-beginning'] })
await consumer.run({
  autoCommit: false,
  eachMessage: async ({ topic, partition, message }) => {
    const headers = decodeHeaders(message.headers)
    const schema = findContractSchema(headers.schema ?? '') ?? spec?.schema ?? undefined
    let value: unknown
    try {
      value = schema != null && message.value !== null
        ? expandJson(toJson(schema, fromBinary(schema, message.value), { registry: contractRegistry }))
        : message.value?.toString('utf8')
    } catch (err) {
      value = { undecodable: (err as Error).message, base64: message.value?.toString('base64') }
    }
    console.log(JSON.stringify({ topic, partition, offset: message.offset, key: message.key?.toString('utf8') ?? null, timestamp: Number(message.timestamp), headers, value }))
    if (++seen >= max) await stop()
  }
})
