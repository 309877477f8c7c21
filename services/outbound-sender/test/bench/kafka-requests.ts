/**
 * Preloaded into the bench's worker process with BENCH_KAFKA_REQUESTS=1 (`node --import <this>`):
 * counts the process's Kafka requests by client (the producer, each consumer group) and API from
 * kafkajs's REQUEST instrumentation events, and the bus producer's batches (records each) from
 * its diagnostics channel. On SIGUSR2 it writes the counts so far, as JSON, to
 * BENCH_KAFKA_REQUESTS_FILE; the bench takes one such snapshot when the worker is ready and one
 * when it has sent everything (outbound-bench.ts, `kafkaRequests`).
 */
import diagnostics from 'node:diagnostics_channel'
import { writeFileSync } from 'node:fs'
import { BUS_CHANNELS, createKafka, type BatchDiagnostic, type Kafka } from '@coexist/bus'
import { createLogger } from '@coexist/logger'

export interface KafkaRequestCounts {
  /** SIGUSR2 snapshots written so far, this one included. */
  seq: number
  /** `<client> <API>` → requests answered (client: `producer` or `consumer <groupId>`). */
  requests: Record<string, number>
  /** Bus producer batches settled (one Produce request each, retries aside) and their records. */
  batches: number
  records: number
}

const file = process.env.BENCH_KAFKA_REQUESTS_FILE
if (file !== undefined) {
  const counts: KafkaRequestCounts = { seq: 0, requests: {}, batches: 0, records: 0 }
  const counter = (client: string) => (e: { payload: { apiName: string } }): void => {
    const k = `${client} ${e.payload.apiName}`
    counts.requests[k] = (counts.requests[k] ?? 0) + 1
  }
  // The services make their clients with createKafka: patch its class, not one instance.
  const proto = Object.getPrototypeOf(createKafka({ brokers: ['127.0.0.1:9'], clientId: 'bench-probe', logger: createLogger({ level: 'silent' }) })) as Kafka
  const consumer = proto.consumer
  const producer = proto.producer
  proto.consumer = function (this: Kafka, config) {
    const c = consumer.call(this, config)
    c.on(c.events.REQUEST, counter(`consumer ${config?.groupId ?? '?'}`))
    return c
  }
  proto.producer = function (this: Kafka, config) {
    const p = producer.call(this, config)
    p.on(p.events.REQUEST, counter('producer'))
    return p
  }
  diagnostics.subscribe(BUS_CHANNELS.batch, (d) => { counts.batches++; counts.records += (d as BatchDiagnostic).size })
  process.on('SIGUSR2', () => {
    counts.seq++
    writeFileSync(file, JSON.stringify(counts))
  })
}
