/**
 * The sync service's Kafka consumers as one typed table: topic → schema → handler → retry policy.
 * Webhook records (WebhookChange) carry the change's `value` as JSON bytes; it is validated with
 * @coexist/meta's schema for the field before any handler runs. An invalid value, or a webhook
 * for a number we do not know, is a permanent error: the bus dead-letters it with the issue.
 * Live topics (messages, echoes) are group-committed: concurrent records share a transaction
 * (group-commit.ts); the others are written one transaction per record, history chunks two at a
 * time. A handler returns only after its transaction committed, and the bus commits offsets only
 * below finished records. Database outages are retried without end (never dead-letter good
 * data because Postgres was down).
 */
import type { BusRecord, RetryPolicy, TopicHandlers } from '@coexist/bus'
import type { OutboundRequest, OutboundResult, WebhookChange } from '@coexist/contracts'
import type { Db, Transaction, Database } from '@coexist/db'
import { parseChangeValue, type WebhookField, type WebhookValue } from '@coexist/meta'
import { SyncErrors } from '../errors.ts'
import { ingestAccountUpdate } from '../ingest/account-update.ts'
import { importHistory } from '../ingest/history.ts'
import { ingestEchoes, ingestMessages, ingestStateSync } from '../ingest/live.ts'
import { reportStored } from '../metrics.ts'
import { createGroupCommitter } from './group-commit.ts'
import type { NumberDirectory, NumberInfo } from '../ingest/number-directory.ts'
import { ingestOutboundRequest, ingestOutboundResult } from '../ingest/outbound.ts'

export interface ConsumerDeps {
  db: Db
  directory: NumberDirectory
  clock: () => Date
  /** Called after each committed write (the outbox relay publishes at once). */
  afterCommit?: () => void
}

const RETRY: Partial<RetryPolicy> = { maxAttempts: 8, initialBackoffMs: 200, maxBackoffMs: 10_000, exhausted: 'retry-forever' }

/** SQLSTATE classes that mean "this data can never be written" rather than "try again". */
const PERMANENT_SQL = /^(22|23|42)/

const dec = new TextDecoder()

/** Parses a WebhookChange's value with the field's schema; a bad one is a permanent error. */
function parseWebhookChange<F extends WebhookField> (field: F, change: WebhookChange): WebhookValue<F> {
  let raw: unknown
  try {
    raw = JSON.parse(dec.decode(change.valueJson))
  } catch (cause) {
    throw SyncErrors.SYNC_RECORD_INVALID.create({ message: `${field} value is not JSON`, cause })
  }
  const r = parseChangeValue(field, raw)
  if (!r.ok) {
    throw SyncErrors.SYNC_RECORD_INVALID.create({
      message: `${field} value does not match Meta's schema: ${r.error.message}${(r.error.issues ?? []).slice(0, 3).map((i) => ` [${JSON.stringify(i)}]`).join('')}`,
      detail: { field, issues: r.error.issues?.slice(0, 20) }
    })
  }
  return r.value as WebhookValue<F>
}

async function inTransaction<T> (deps: ConsumerDeps, fn: (tx: Transaction<Database>) => Promise<T>): Promise<T> {
  try {
    const out = await deps.db.transaction().execute(fn)
    deps.afterCommit?.()
    return out
  } catch (err) {
    const code = (err as { code?: unknown }).code
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && PERMANENT_SQL.test(code)) {
      throw SyncErrors.SYNC_RECORD_INVALID.create({ message: 'the record cannot be stored', cause: err, detail: { sqlstate: code } })
    }
    throw err
  }
}

async function numberOf (deps: ConsumerDeps, phoneNumberId: string): Promise<NumberInfo> {
  const n = await deps.directory.get(deps.db, phoneNumberId)
  if (n === undefined) throw SyncErrors.SYNC_UNKNOWN_NUMBER.create({ detail: { phoneNumberId } })
  return n
}

type PhoneField = 'messages' | 'smb_message_echoes' | 'smb_app_state_sync' | 'history'

interface Item<F extends PhoneField> { number: NumberInfo, value: WebhookValue<F> }

/**
 * A group-committed handler for a live field: records are parsed and attributed one by one (a
 * bad one fails alone, at once), then written in batches; `merge` folds one number's values of a
 * batch into one (the ingest functions work in bulk).
 */
function batched<F extends 'messages' | 'smb_message_echoes'> (deps: ConsumerDeps, field: F,
  ingest: (tx: Transaction<Database>, n: NumberInfo, v: WebhookValue<F>) => Promise<unknown>,
  merge: (values: Array<WebhookValue<F>>) => WebhookValue<F>) {
  const write = async (tx: Transaction<Database>, items: Array<Item<F>>): Promise<number> => {
    let stored = 0
    const byNumber = new Map<string, Array<Item<F>>>()
    for (const it of items) byNumber.set(it.number.phoneNumberId, [...(byNumber.get(it.number.phoneNumberId) ?? []), it])
    // Numbers in a stable order: concurrent batches lock rows in the same order.
    for (const id of [...byNumber.keys()].sort()) {
      const group = byNumber.get(id) as Array<Item<F>>
      const r = await ingest(tx, (group[0] as Item<F>).number, merge(group.map((g) => g.value)))
      stored += (r as { messages?: number } | undefined)?.messages ?? 0
    }
    return stored
  }
  const committer = createGroupCommitter<Item<F>>({
    runBatch: async (items) => { reportStored(field, await inTransaction(deps, async (tx) => await write(tx, items))) },
    runOne: async (item) => { reportStored(field, await inTransaction(deps, async (tx) => await write(tx, [item]))) }
  })
  return async (record: BusRecord<WebhookChange>): Promise<void> => {
    const value = parseWebhookChange(field, record.value)
    const phoneNumberId = record.value.phoneNumberId !== '' ? record.value.phoneNumberId : (value as { metadata: { phone_number_id: string } }).metadata.phone_number_id
    const number = await numberOf(deps, phoneNumberId)
    await committer.submit({ number, value })
  }
}

function mergeMessages (values: Array<WebhookValue<'messages'>>): WebhookValue<'messages'> {
  if (values.length === 1) return values[0] as WebhookValue<'messages'>
  const first = values[0] as WebhookValue<'messages'>
  return {
    ...first,
    contacts: values.flatMap((v) => v.contacts ?? []),
    messages: values.flatMap((v) => v.messages ?? []),
    statuses: values.flatMap((v) => v.statuses ?? []),
    errors: values.flatMap((v) => v.errors ?? [])
  }
}

function mergeEchoes (values: Array<WebhookValue<'smb_message_echoes'>>): WebhookValue<'smb_message_echoes'> {
  if (values.length === 1) return values[0] as WebhookValue<'smb_message_echoes'>
  const first = values[0] as WebhookValue<'smb_message_echoes'>
  return { ...first, contacts: values.flatMap((v) => v.contacts ?? []), message_echoes: values.flatMap((v) => v.message_echoes) }
}

function phoneScoped<F extends PhoneField> (deps: ConsumerDeps, field: F,
  ingest: (tx: Transaction<Database>, n: NumberInfo, v: WebhookValue<F>, at: Date) => Promise<unknown>) {
  return async (record: BusRecord<WebhookChange>): Promise<void> => {
    const value = parseWebhookChange(field, record.value)
    const phoneNumberId = record.value.phoneNumberId !== '' ? record.value.phoneNumberId : (value as { metadata: { phone_number_id: string } }).metadata.phone_number_id
    const number = await numberOf(deps, phoneNumberId)
    const r = await inTransaction(deps, async (tx) => await ingest(tx, number, value, deps.clock()))
    reportStored(field, (r as { messages?: number } | undefined)?.messages ?? 0)
  }
}

/** The handler table (see the module comment). */
export function syncConsumers (deps: ConsumerDeps): TopicHandlers {
  return {
    // Live traffic commutes: records of a partition run concurrently and are group-committed.
    'webhook.messages': { ordering: 'none', maxConcurrency: 512, retry: RETRY, handle: batched(deps, 'messages', ingestMessages, mergeMessages) },
    'webhook.smb_message_echoes': { ordering: 'none', maxConcurrency: 256, retry: RETRY, handle: batched(deps, 'smb_message_echoes', ingestEchoes, mergeEchoes) },
    'webhook.smb_app_state_sync': { ordering: 'key', retry: RETRY, handle: phoneScoped(deps, 'smb_app_state_sync', ingestStateSync) },
    // Chunks may be imported in any order (Meta sends them out of order): two at a time per
    // partition, each in its own transaction, rows locked in a stable order.
    'webhook.history': { ordering: 'none', maxConcurrency: 2, retry: RETRY, handle: phoneScoped(deps, 'history', importHistory) },
    'webhook.account_update': {
      retry: RETRY,
      handle: async (record) => {
        const value = parseWebhookChange('account_update', record.value)
        const wabaId = value.waba_info?.waba_id ?? (record.value.wabaId !== '' ? record.value.wabaId : record.value.entryId)
        await inTransaction(deps, async (tx) => await ingestAccountUpdate(tx, {
          wabaId, entryTime: Number(record.value.entryTime), receivedAt: Number(record.value.receivedAt), now: deps.clock()
        }, value))
      }
    },
    'outbound.requests': {
      ordering: 'key',
      retry: RETRY,
      handle: async (record: BusRecord<OutboundRequest>) => { await inTransaction(deps, async (tx) => { await ingestOutboundRequest(tx, record.value) }) }
    },
    'outbound.results': {
      ordering: 'key',
      retry: RETRY,
      handle: async (record: BusRecord<OutboundResult>) => {
        const number = await numberOf(deps, record.value.phoneNumberId)
        await inTransaction(deps, async (tx) => await ingestOutboundResult(tx, number, record.value))
      }
    }
  }
}
