/**
 * Billing's Kafka consumers as one typed table: topic → schema (the registry's contract, decoded
 * by the bus) → handler → retry policy. Handlers turn records into facts (change values validated
 * with @coexist/meta's schemas) and hand them to the group-commit batcher; they resolve after the
 * transaction holding them committed, so offsets are committed after the database. An invalid
 * record is dead-lettered with its issue; a database outage is retried without end.
 *
 * Ordering does not matter to billing (facts merge commutatively), so records of one number run
 * side by side: a busy number's statuses are priced in batches, not one transaction each.
 */
import type { BusRecord, RetryPolicy, TopicHandler, TopicHandlers, TopicKey, ValueOf } from '@coexist/bus'
import { BillErrors } from '../errors.ts'
import type { Fact } from '../ledger/facts.ts'
import type { FactBatcher } from '../ledger/fact-batcher.ts'
import { echoFacts, messagesFacts, sendFactOf, tierFacts } from './record-facts.ts'

export interface ConsumerDeps {
  batcher: Pick<FactBatcher, 'submit'>
}

const RETRY: Partial<RetryPolicy> = { maxAttempts: 10, initialBackoffMs: 200, maxBackoffMs: 10_000, exhausted: 'retry-forever' }

/** SQLSTATE classes that mean "this data can never be written" rather than "try again". */
const PERMANENT_SQL = /^(22|23|42)/

async function submit (deps: ConsumerDeps, facts: readonly Fact[]): Promise<void> {
  try {
    await deps.batcher.submit(facts)
  } catch (err) {
    const code = (err as { code?: unknown }).code
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && PERMANENT_SQL.test(code)) {
      throw BillErrors.BILL_INVALID_RECORD.create({ message: 'the record cannot be priced', cause: err, detail: { sqlstate: code } })
    }
    throw err
  }
}

/**
 * The handler table for createBusConsumer. `concurrency`: records of one partition in flight at
 * once (they wait together in the batcher); default 300.
 */
export function billingHandlers (deps: ConsumerDeps, opts: { concurrency?: number } = {}): TopicHandlers {
  // A partition's ready records go to the batcher as one submit (handleBatch): one promise and
  // one waiter per fetched run of records, not per record. A failing batch is retried by the
  // bus record by record through `handle`, which isolates (and dead-letters) a bad record.
  const handler = <K extends TopicKey>(factsOf: (r: BusRecord<ValueOf<K>>) => readonly Fact[]): TopicHandler<K> => ({
    ordering: 'none',
    maxConcurrency: opts.concurrency ?? 300,
    retry: RETRY,
    handle: async (r) => { await submit(deps, factsOf(r)) },
    // Not an async function: the records are not kept (an async function's frame would hold
    // them) while the facts wait for their transaction; only the facts are.
    handleBatch: (records) => {
      const facts: Fact[] = []
      try {
        for (const r of records) for (const f of factsOf(r)) facts.push(f)
      } catch (err) {
        return Promise.reject(err)
      }
      return submit(deps, facts)
    }
  })
  return {
    'outbound.results': handler<'outbound.results'>((r) => { const f = sendFactOf(r.value); return f === undefined ? [] : [f] }),
    'webhook.messages': handler<'webhook.messages'>((r) => messagesFacts(r.value)),
    'webhook.smb_message_echoes': handler<'webhook.smb_message_echoes'>((r) => echoFacts(r.value)),
    'webhook.account_update': handler<'webhook.account_update'>((r) => tierFacts(r.value))
  }
}
