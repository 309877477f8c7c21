/**
 * The outbound sender's Kafka consumers, as typed tables (topic → handler → ordering and retry;
 * the bus decodes each record with its topic's contract and dead-letters what does not decode).
 *
 * - requests (group `<group>`): wa.outbound.requests.v1 into the send worker. Records of a
 *   partition start at once, in offset order (`ordering: 'none'`); the worker keeps each number's
 *   order in its lanes and settles a record only when its outcome is recorded and published.
 * - state (group `<group>-state`): inbound user messages open service windows, status webhooks
 *   refine `sent`, and billing's balance events set the spend limit.
 * - traffic (group `<group>-traffic-<instance>`, new records only): inbound messages and app
 *   echoes take tokens from the number's bucket in this process, where the number's lane lives.
 */
import { BalanceState, type TenantBalanceEvent, type WebhookChange } from '@coexist/contracts'
import type { TopicHandlers } from '@coexist/bus'
import type { Db } from '@coexist/db'
import { OutErrors } from '../errors.ts'
import { parseChangeValue, unixSeconds } from '@coexist/meta'
import { recordBalances, type BalanceStateName } from '../store/balances.ts'
import { applyDeliveries, type DeliveryUpdate } from '../store/messages.ts'
import { recordInbound, type InboundSeen } from '../store/windows.ts'
import type { SendWorker } from '../worker/send-worker.ts'

/** Records are dead-lettered only for bad data; database hiccups are retried until they pass. */
const STORE_RETRY = { maxAttempts: 20, initialBackoffMs: 200, maxBackoffMs: 10_000, exhausted: 'retry-forever' } as const

/** The change's value; a record that is not one is dead-lettered (not retried). */
function changeValue (change: WebhookChange): unknown {
  try {
    return JSON.parse(Buffer.from(change.valueJson).toString('utf8'))
  } catch (cause) {
    throw OutErrors.OUT_WEBHOOK_INVALID.create({ message: 'value_json is not JSON', cause })
  }
}

/** What a `messages` change means to the sender: window openings and delivery statuses. */
function readMessagesChange (change: WebhookChange): { inbound: InboundSeen[], deliveries: DeliveryUpdate[], inboundCount: number } {
  const parsed = parseChangeValue('messages', changeValue(change))
  if (!parsed.ok) throw OutErrors.OUT_WEBHOOK_INVALID.create({ message: parsed.error.message, detail: { issues: parsed.error.issues?.slice(0, 10) } })
  if (parsed.field !== 'messages') return { inbound: [], deliveries: [], inboundCount: 0 }
  const value = parsed.value
  const phoneNumberId = value.metadata.phone_number_id
  const inbound: InboundSeen[] = []
  for (const m of value.messages ?? []) {
    // A number-change notice is Meta's, not the user's: it opens no window.
    if (m.type === 'system') continue
    const customer = m.from !== undefined && m.from !== '' ? m.from.replace(/\D/g, '') : `uid:${m.from_user_id ?? ''}`
    inbound.push({ phoneNumberId, customer, at: new Date(unixSeconds(m.timestamp) * 1000) })
  }
  const rank = { delivered: 1, read: 2, failed: 3 } as const
  const best = new Map<string, DeliveryUpdate>()
  for (const s of value.statuses ?? []) {
    const status = s.status
    if (status !== 'delivered' && status !== 'read' && status !== 'failed') continue
    const e = s.errors?.[0]
    const update: DeliveryUpdate = {
      wamid: s.id,
      status: status as DeliveryUpdate['status'],
      at: new Date(unixSeconds(s.timestamp) * 1000),
      ...(e !== undefined ? { metaError: { code: e.code, title: e.title, message: e.message, details: e.error_data?.details } } : {})
    }
    const prev = best.get(s.id)
    if (prev === undefined || rank[update.status] > rank[prev.status]) best.set(s.id, update)
  }
  return { inbound, deliveries: [...best.values()], inboundCount: (value.messages ?? []).length }
}

const BALANCE_STATES: Record<number, BalanceStateName> = {
  [BalanceState.OK]: 'ok',
  [BalanceState.LOW]: 'low',
  [BalanceState.EXHAUSTED]: 'exhausted'
}

/** The requests consumer's table. */
export function requestHandlers (worker: SendWorker): TopicHandlers {
  return {
    'outbound.requests': {
      ordering: 'none',
      // Every record of a partition goes to the worker at once; back-pressure is the
      // consumer's maxPendingPerPartition.
      maxConcurrency: 1_000_000,
      // The worker only rejects records it gives back on stop; never dead-letter those.
      retry: { maxAttempts: 1_000_000, initialBackoffMs: 200, maxBackoffMs: 5000, exhausted: 'retry-forever' },
      handle: async (r) => { await worker.handle({ request: r.value, signal: r.signal, assignedAt: r.assignedAt, partition: r.partition, ...(r.traceId !== undefined ? { traceId: r.traceId } : {}) }) }
    }
  }
}

/** The state consumer's table: windows, delivery statuses, balances. */
export function stateHandlers (db: Db): TopicHandlers {
  return {
    'webhook.messages': {
      ordering: 'key',
      retry: STORE_RETRY,
      handle: async (r) => {
        const { inbound, deliveries } = readMessagesChange(r.value)
        await recordInbound(db, inbound)
        await applyDeliveries(db, deliveries)
      }
    },
    'billing.balance': {
      retry: STORE_RETRY,
      handle: async (r) => { await recordBalances(db, [balanceUpdate(r.value)]) }
    }
  }
}

function balanceUpdate (e: TenantBalanceEvent): Parameters<typeof recordBalances>[1][number] {
  return {
    tenantId: e.tenantId,
    state: BALANCE_STATES[e.state] ?? 'unspecified',
    balanceMicros: e.balanceMicros,
    currency: e.currency === '' ? null : e.currency,
    occurredAt: new Date(Number(e.occurredAt))
  }
}

export interface TrafficOptions {
  /** Inbound user messages take tokens (Meta counts both directions). */
  inbound: boolean
  /** Business App echoes take tokens (coexistence numbers). */
  echoes: boolean
  /** Traffic older than this (ms, by record time) is past any window that matters: ignored. */
  maxAgeMs?: number
}

/** The traffic consumer's table (undefined when nothing is counted). */
export function trafficHandlers (worker: SendWorker, opts: TrafficOptions): TopicHandlers | undefined {
  const maxAgeMs = opts.maxAgeMs ?? 2000
  const fresh = (timestamp: number): boolean => Date.now() - timestamp <= maxAgeMs
  const handlers: TopicHandlers = {}
  if (opts.inbound) {
    handlers['webhook.messages'] = {
      ordering: 'none',
      maxConcurrency: 10_000,
      handle: (r) => {
        if (!fresh(r.timestamp)) return
        const n = readMessagesChange(r.value).inboundCount
        if (n > 0) worker.trafficSeen(r.value.phoneNumberId, n)
      }
    }
  }
  if (opts.echoes) {
    handlers['webhook.smb_message_echoes'] = {
      ordering: 'none',
      maxConcurrency: 10_000,
      handle: (r) => {
        if (!fresh(r.timestamp)) return
        const parsed = parseChangeValue('smb_message_echoes', changeValue(r.value))
        const n = parsed.ok && parsed.field === 'smb_message_echoes' ? parsed.value.message_echoes.length : 0
        if (n > 0) worker.trafficSeen(r.value.phoneNumberId, n)
      }
    }
  }
  return Object.keys(handlers).length > 0 ? handlers : undefined
}
