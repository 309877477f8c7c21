/**
 * The benchmark's client side of POST /v1/messages/batch, as a client that needs every item
 * durable behaves: each batch carries an Idempotency-Key, and while the API answers a 5xx or
 * refuses items with 503 (OUT_NOT_DURABLE: Kafka did not acknowledge, e.g. a partition leader
 * moving), the same batch goes again with the same key after a back-off. Items accepted by an
 * earlier attempt come back replayed (sent once); only the refused ones are published again.
 * Anything else (a 4xx, an item refused for another reason) is the benchmark's own mistake and
 * throws at once, as do `attempts` failed tries.
 */
import pRetry, { AbortError } from 'p-retry'

export interface AcceptBatchOptions {
  /** The API's base URL. */
  base: string
  apiKey: string
  messages: unknown[]
  /** Unique per batch (per tenant): the retry's key. */
  idempotencyKey: string
  /** Tries in all (default 8). */
  attempts?: number
  /** First back-off, ms (default 250); doubles per try, at most 5 s, randomized up to twice as long (p-retry). */
  backoffMs?: number
}

interface BatchAnswer { accepted: number, results: Array<{ status: number }> }

/** A try that left items not durable (5xx, items refused with 503, connection refused or reset): tried again. */
class NotDurable extends Error {}

/** Resolves with the number of retries it took once every item is accepted. */
export async function acceptBatch (o: AcceptBatchOptions): Promise<number> {
  const attempts = o.attempts ?? 8
  let retries = 0
  const once = async (): Promise<void> => {
    let status: number
    let text: string
    try {
      const res = await fetch(`${o.base}/v1/messages/batch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${o.apiKey}`, 'content-type': 'application/json', 'idempotency-key': o.idempotencyKey },
        body: JSON.stringify({ messages: o.messages })
      })
      status = res.status
      text = await res.text()
    } catch (err) {
      throw new NotDurable(String((err as { cause?: unknown }).cause ?? err))
    }
    if (status === 207) {
      const json = JSON.parse(text) as BatchAnswer
      if (json.accepted === o.messages.length) return
      if (json.results.some((r) => r.status !== 202 && r.status !== 503)) throw new AbortError(`batch: 207 ${text.slice(0, 300)}`)
      throw new NotDurable(`${o.messages.length - json.accepted} items 503`)
    }
    if (status >= 500) throw new NotDurable(`${status} ${text.slice(0, 200)}`)
    throw new AbortError(`batch: ${status} ${text.slice(0, 300)}`)
  }
  try {
    await pRetry(once, {
      retries: attempts - 1,
      factor: 2,
      minTimeout: o.backoffMs ?? 250,
      maxTimeout: 5000,
      randomize: true,
      onFailedAttempt: ({ attemptNumber }) => { retries = attemptNumber }
    })
  } catch (err) {
    if (err instanceof NotDurable) throw new Error(`batch: not every item durable after ${attempts} attempts (last: ${err.message})`)
    throw err
  }
  return retries
}
