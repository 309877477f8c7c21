/**
 * The benchmark's client side of POST /v1/messages/batch, as a client that needs every item
 * durable behaves: each batch carries an Idempotency-Key, and while the API answers a 5xx or
 * refuses items with 503 (OUT_NOT_DURABLE: Kafka did not acknowledge, e.g. a partition leader
 * moving), the same batch goes again with the same key after a back-off. Items accepted by an
 * earlier attempt come back replayed (sent once); only the refused ones are published again.
 * Anything else (a 4xx, an item refused for another reason) is the benchmark's own mistake and
 * throws at once, as do `attempts` failed tries.
 */

export interface AcceptBatchOptions {
  /** The API's base URL. */
  base: string
  apiKey: string
  messages: unknown[]
  /** Unique per batch (per tenant): the retry's key. */
  idempotencyKey: string
  /** Tries in all (default 8). */
  attempts?: number
  /** First back-off, ms (default 250); doubles per try, at most 5 s, with jitter. */
  backoffMs?: number
}

interface BatchAnswer { accepted: number, results: Array<{ status: number }> }

/** Resolves with the number of retries it took once every item is accepted. */
export async function acceptBatch (o: AcceptBatchOptions): Promise<number> {
  const attempts = o.attempts ?? 8
  for (let attempt = 1; ; attempt++) {
    let why: string
    try {
      const res = await fetch(`${o.base}/v1/messages/batch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${o.apiKey}`, 'content-type': 'application/json', 'idempotency-key': o.idempotencyKey },
        body: JSON.stringify({ messages: o.messages })
      })
      const text = await res.text()
      if (res.status === 207) {
        const json = JSON.parse(text) as BatchAnswer
        if (json.accepted === o.messages.length) return attempt - 1
        if (json.results.some((r) => r.status !== 202 && r.status !== 503)) throw new Error(`batch: 207 ${text.slice(0, 300)}`)
        why = `${o.messages.length - json.accepted} items 503`
      } else if (res.status >= 500) {
        why = `${res.status} ${text.slice(0, 200)}`
      } else {
        throw new Error(`batch: ${res.status} ${text.slice(0, 300)}`)
      }
    } catch (err) {
      // Thrown above: not retried. A connection refused or reset (fetch's TypeError): retried.
      if (!(err instanceof TypeError)) throw err
      why = String((err as { cause?: unknown }).cause ?? err)
    }
    if (attempt >= attempts) throw new Error(`batch: not every item durable after ${attempt} attempts (last: ${why})`)
    const delay = Math.min(5000, (o.backoffMs ?? 250) * 2 ** (attempt - 1))
    await new Promise((resolve) => setTimeout(resolve, delay * (0.75 + Math.random() / 2)))
  }
}
