import t from 'tap'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { acceptBatch } from './accept-batch.ts'

/** An API stand-in answering each POST with the next of `answers` (status, body; status 0 resets the connection); records the requests' keys. */
async function fakeApi (t: { teardown: (fn: () => unknown) => void }, answers: Array<[number, unknown]>): Promise<{ base: string, keys: Array<string | undefined> }> {
  const keys: Array<string | undefined> = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume()
    req.on('end', () => {
      keys.push(req.headers['idempotency-key'] as string | undefined)
      const [status, body] = answers[Math.min(keys.length, answers.length) - 1] as [number, unknown]
      if (status === 0) { req.socket.destroy(); return }
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, keys }
}

const item = (status: number): { status: number } => ({ status })
const messages = [{ to: '1' }, { to: '2' }, { to: '3' }]

t.test('items refused as not durable (503) go again with the same Idempotency-Key', async (t) => {
  const api = await fakeApi(t, [
    [207, { accepted: 2, rejected: 1, results: [item(202), item(503), item(202)] }],
    [503, { code: 'OUT_NOT_DURABLE' }],
    [207, { accepted: 3, rejected: 0, results: [item(202), item(202), item(202)] }]
  ])
  const retries = await acceptBatch({ base: api.base, apiKey: 'k', messages, idempotencyKey: 'bench-7', backoffMs: 1 })
  t.equal(retries, 2, 'two retries')
  t.same(api.keys, ['bench-7', 'bench-7', 'bench-7'], 'every try carries the same key')
})

t.test('the retries are bounded', async (t) => {
  const api = await fakeApi(t, [[207, { accepted: 0, rejected: 3, results: [item(503), item(503), item(503)] }]])
  await t.rejects(acceptBatch({ base: api.base, apiKey: 'k', messages, idempotencyKey: 'k1', attempts: 3, backoffMs: 1 }), /after 3 attempts/)
  t.equal(api.keys.length, 3, 'three tries')
})

t.test('other refusals are not retried', async (t) => {
  const api = await fakeApi(t, [[207, { accepted: 2, rejected: 1, results: [item(202), item(409), item(503)] }]])
  await t.rejects(acceptBatch({ base: api.base, apiKey: 'k', messages, idempotencyKey: 'k2', backoffMs: 1 }), /batch: 207/)
  const bad = await fakeApi(t, [[400, { code: 'VALIDATION' }]])
  await t.rejects(acceptBatch({ base: bad.base, apiKey: 'k', messages, idempotencyKey: 'k3', backoffMs: 1 }), /batch: 400/)
  t.equal(api.keys.length + bad.keys.length, 2, 'one try each')
})

t.test('a connection reset goes again with the same Idempotency-Key', async (t) => {
  const api = await fakeApi(t, [
    [0, null],
    [207, { accepted: 3, rejected: 0, results: [item(202), item(202), item(202)] }]
  ])
  const retries = await acceptBatch({ base: api.base, apiKey: 'k', messages, idempotencyKey: 'bench-8', backoffMs: 1 })
  t.equal(retries, 1, 'one retry')
  t.same(api.keys, ['bench-8', 'bench-8'], 'both tries carry the same key')
})
