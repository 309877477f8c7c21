import t from 'tap'
import { create } from '@bufbuild/protobuf'
import { BalanceState, TenantBalanceEventSchema } from '@coexist/contracts'
import { addNumber, apiKey, phone, templateTo, textTo, until } from '../helpers.ts'
import { echoValue, inboundValue, stack, statusValue } from './stack.ts'

t.test('end to end: accepted, sent with its wamid, result on the topic, delivery statuses from webhooks', async (t) => {
  const s = await stack(t)
  const n = await addNumber(s.tdb, s.sim)
  const key = await apiKey(s.tdb.db, n.tenantId)
  await s.startRuntime()
  const to = phone()
  const res = await s.post(key, templateTo(n.phoneNumberId, to))
  t.equal(res.statusCode, 202)
  const id = res.json().id
  const get = async (): Promise<{ state: string, wamid: string | null }> =>
    (await s.app.inject({ method: 'GET', url: `/v1/messages/${id}`, headers: { authorization: `Bearer ${key}` } })).json()
  await until(async () => (await get()).state === 'sent', 10_000, 'sent')
  const view = await get()
  t.equal(view.wamid, s.sim.control.sends({ phoneNumberId: n.phoneNumberId }).accepted[0]?.wamid)
  await until(async () => (await s.k.count('outbound.results')) === 1, 5000, 'result published')
  await s.webhook('messages', n.phoneNumberId, statusValue(n.phoneNumberId, view.wamid as string, 'read', to))
  await s.webhook('messages', n.phoneNumberId, statusValue(n.phoneNumberId, view.wamid as string, 'delivered', to))
  await until(async () => (await get()).state === 'read', 10_000, 'read')
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal((await get()).state, 'read', 'a late delivered does not regress read')
})

t.test('windows open from inbound user messages only; billing balance events set the spend limit', async (t) => {
  const s = await stack(t)
  const n = await addNumber(s.tdb, s.sim)
  const key = await apiKey(s.tdb.db, n.tenantId)
  await s.startRuntime({ roles: { worker: false, state: true } })
  const [user, echoed] = [phone(), phone()]
  t.equal((await s.post(key, textTo(n.phoneNumberId, user, 'hi'))).statusCode, 422, 'closed before the user wrote')
  await s.webhook('smb_message_echoes', n.phoneNumberId, echoValue(n.phoneNumberId, echoed))
  await s.webhook('messages', n.phoneNumberId, inboundValue(n.phoneNumberId, user))
  await until(async () => (await s.post(key, textTo(n.phoneNumberId, user, 'hello'))).statusCode === 202, 10_000, 'window open')
  t.equal((await s.post(key, textTo(n.phoneNumberId, echoed, 'hi'))).statusCode, 422, 'an app echo opens no window')

  const balance = async (state: BalanceState, at: number): Promise<void> => {
    await s.k.producer.publish('billing.balance', { key: n.tenantId, value: create(TenantBalanceEventSchema, { tenantId: n.tenantId, state, balanceMicros: 0n, currency: 'USD', occurredAt: BigInt(at) }) })
  }
  await balance(BalanceState.EXHAUSTED, Date.now())
  await until(async () => (await s.post(key, templateTo(n.phoneNumberId, user))).statusCode === 402, 10_000, 'spend limit applied')
  t.equal((await s.post(key, textTo(n.phoneNumberId, user, 'service reply'))).statusCode, 202, 'service replies in the window still go')
  await balance(BalanceState.OK, Date.now() + 1)
  await until(async () => (await s.post(key, templateTo(n.phoneNumberId, user))).statusCode === 202, 10_000, 'limit lifted')
})

t.test('the DLQ topic receives what cannot be sent, with the reason', async (t) => {
  const s = await stack(t)
  const n = await addNumber(s.tdb, s.sim)
  const key = await apiKey(s.tdb.db, n.tenantId)
  const res = await s.post(key, templateTo(n.phoneNumberId, phone()))
  t.equal(res.statusCode, 202)
  s.sim.control.setFaults({ phoneNumberId: n.phoneNumberId, failNext: { count: 20, code: 131016 } })
  await s.startRuntime({ worker: { quietMs: 0, policy: { maxAttempts: 2, baseBackoffMs: 10, maxBackoffMs: 20 } } })
  await until(async () => (await s.k.count('outbound.dlq')) === 1, 10_000, 'dead letter')
  const row = await s.tdb.db.selectFrom('outbound_messages').select(['state', 'error_code']).executeTakeFirstOrThrow()
  t.same(row, { state: 'dead_lettered', error_code: 'OUT_RETRY_BUDGET_EXHAUSTED' })
  await until(async () => (await s.k.count('outbound.results')) === 1, 5000, 'failed result')
})
