/**
 * The bus package's error catalog. Callers decide by code (walking `cause`), never by message:
 * `BusErrors.BUS_PUBLISH_TIMEOUT.is(err)`, or `findCoexistError(err)?.retryable`.
 */
import { defineErrors } from '@coexist/errors'

export const BusErrors = defineErrors('BUS_', {
  /** Kafka did not acknowledge in time. `detail.inFlight` says whether the record may still land. */
  BUS_PUBLISH_TIMEOUT: { status: 503, retryable: true, backoffMs: 1000, message: 'Kafka did not acknowledge the record in time' },
  /** The batch holding the record failed (broker down, not connected, refused). May have landed. */
  BUS_PUBLISH_FAILED: { status: 503, retryable: true, backoffMs: 1000, message: 'Kafka did not accept the record batch' },
  /** The record exceeds the topic's max.message.bytes; retrying cannot help. */
  BUS_RECORD_TOO_LARGE: { status: 413, message: 'the record is larger than the topic accepts' },
  /** publish() after disconnect() started. Another instance can take the work. */
  BUS_PRODUCER_CLOSED: { status: 503, retryable: true, message: 'the Kafka producer is shutting down' },
  /** A topic key or name that the registry does not know. A programming error. */
  BUS_UNKNOWN_TOPIC: { status: 500, message: 'the topic is not in the topic registry' },
  /** ensureTopics could not create the topics, or they had no leader within the timeout. */
  BUS_TOPICS_NOT_READY: { status: 503, retryable: true, backoffMs: 2000, message: 'Kafka topics are not ready' },
  /** A record's value does not decode as its topic's contract (sent to the dead-letter topic). */
  BUS_DECODE_FAILED: { status: 422, message: "the record does not decode as its topic's contract" },
  /** A record's `schema` or `content-type` header names another contract (sent to the dead-letter topic). */
  BUS_SCHEMA_MISMATCH: { status: 422, message: "the record's headers name another contract than its topic's" },
  /** The consumer did not get into its group in time at start. */
  BUS_CONSUMER_JOIN_TIMEOUT: { status: 503, retryable: true, backoffMs: 2000, message: 'the Kafka consumer did not join its group in time' },
  /** kafkajs gave up on the consumer (it will not restart by itself). */
  BUS_CONSUMER_CRASHED: { status: 503, retryable: true, message: 'the Kafka consumer crashed' },
  /** Kafka does not answer (readiness). */
  BUS_NOT_READY: { status: 503, retryable: true, backoffMs: 1000, message: 'Kafka is not reachable' },
  /** Bad options given to a bus function (a programming or configuration error). */
  BUS_INVALID_OPTIONS: { status: 500, message: 'invalid bus options' }
})
