import t from 'tap'
import { addNumber, apiKey, maxInWindow, phone, templateTo, until, type TestNumber } from '../helpers.ts'
import { stack, type Stack } from './stack.ts'

/** Accepts `count` templates to distinct recipients through the batch API. */
async function backlog (s: Stack, key: string, n: TestNumber, count: number): Promise<string[]> {
  const ids: string[] = []
  for (let done = 0; done < count; done += 500) {
    const size = Math.min(500, count - done)
    const r = await s.batch(key, Array.from({ length: size }, () => templateTo(n.phoneNumberId, phone())))
    if (r.accepted !== size) throw new Error(`accepted ${r.accepted}/${size}`)
    ids.push(...r.results.map((x) => x.message?.id as string))
  }
  return ids
}

const sentCount = (s: Stack, n: TestNumber): number => s.sim.control.sends({ phoneNumberId: n.phoneNumberId, withoutBodies: true }).accepted.length

t.test('mixed run at 5, 20 and 80 MPS with backlogs: no 1 s window above any limit, zero 130429', async (t) => {
  const s = await stack(t, { partitions: 2 })
  const specs = [
    { mps: 5, count: 22, mode: 'cloud_api' as const },
    { mps: 20, count: 80, mode: 'coexistence' as const },
    { mps: 80, count: 320, mode: 'cloud_api' as const }
  ]
  const numbers: Array<{ n: TestNumber, mps: number, count: number }> = []
  for (const spec of specs) {
    const n = await addNumber(s.tdb, s.sim, { mps: spec.mps, mode: spec.mode })
    await backlog(s, await apiKey(s.tdb.db, n.tenantId), n, spec.count)
    numbers.push({ n, ...spec })
  }
  await s.startRuntime({ worker: { quietMs: 1000 } })
  await until(() => numbers.every((x) => sentCount(s, x.n) === x.count), 20_000, 'every backlog sent')
  for (const x of numbers) {
    const report = s.sim.control.sends({ phoneNumberId: x.n.phoneNumberId, withoutBodies: true })
    const times = report.accepted.map((a) => a.at)
    const peak = maxInWindow(times)
    const span = (Math.max(...times) - Math.min(...times)) / 1000
    const rate = (times.length - 1) / span
    t.ok(peak <= x.mps, `${x.mps} MPS: peak ${peak} in any 1 s window`)
    t.equal(report.rejected.filter((r) => r.code === 130429).length, 0, `${x.mps} MPS: zero 130429`)
    // A sanity floor only: CI runs this on 2 busy cores; the benchmark measures the rate (≥ 97 %).
    t.ok(rate >= x.mps * 0.7, `${x.mps} MPS: sent at ${rate.toFixed(1)}/s`)
  }
})

/** Seconds from the runtime's start until `count` sends of `n` reached Meta. */
async function timeToDrain (s: Stack, n: TestNumber, count: number): Promise<number> {
  const t0 = performance.now()
  await s.startRuntime()
  await until(() => sentCount(s, n) === count, 20_000, 'the fast number drained')
  return (performance.now() - t0) / 1000
}

t.test('a 5-MPS number with a large backlog in the same partition does not slow an 80-MPS number', async (t) => {
  // Alone.
  const alone = await stack(t, { partitions: 1 })
  const fastAlone = await addNumber(alone.tdb, alone.sim, { mps: 80 })
  await backlog(alone, await apiKey(alone.tdb.db, fastAlone.tenantId), fastAlone, 200)
  const base = await timeToDrain(alone, fastAlone, 200)

  // Behind a slow neighbour's backlog, in the same (only) partition.
  const s = await stack(t, { partitions: 1 })
  const slow = await addNumber(s.tdb, s.sim, { mps: 5 })
  const fast = await addNumber(s.tdb, s.sim, { mps: 80 })
  await backlog(s, await apiKey(s.tdb.db, slow.tenantId), slow, 3000)
  await backlog(s, await apiKey(s.tdb.db, fast.tenantId), fast, 200)
  const behind = await timeToDrain(s, fast, 200)
  t.ok(behind / base <= 1.5, `80 MPS drains in ${behind.toFixed(2)} s behind the backlog vs ${base.toFixed(2)} s alone (ratio ${(behind / base).toFixed(2)})`)
  t.ok(sentCount(s, slow) <= 5 * behind + 2, 'the slow number kept its own pace meanwhile')
  const peak = maxInWindow(s.sim.control.sends({ phoneNumberId: slow.phoneNumberId, withoutBodies: true }).accepted.map((a) => a.at))
  t.ok(peak <= 5, `slow number peak ${peak}`)
})

t.test('kill the worker mid-run and start it again: every accepted message sent, none twice', async (t) => {
  const s = await stack(t, { partitions: 2 })
  const a = await addNumber(s.tdb, s.sim, { mps: 40 })
  const b = await addNumber(s.tdb, s.sim, { mps: 20 })
  for (const n of [a, b]) s.sim.control.setFaults({ phoneNumberId: n.phoneNumberId, latencyMs: 15, jitterMs: 20 })
  const ids = [
    ...await backlog(s, await apiKey(s.tdb.db, a.tenantId), a, 120),
    ...await backlog(s, await apiKey(s.tdb.db, b.tenantId), b, 60)
  ]
  const first = await s.startRuntime()
  await until(() => sentCount(s, a) + sentCount(s, b) >= 40, 10_000, 'mid-run')
  await first.kill()
  const atKill = sentCount(s, a) + sentCount(s, b)
  t.ok(atKill < ids.length, `killed after ${atKill} of ${ids.length} sends`)
  const second = await s.startRuntime({ worker: { quietMs: 1000, policy: { abandonedGraceMs: 500 } } })
  try {
    await until(async () => {
      const open = await s.tdb.db.selectFrom('outbound_messages').select('id').where('state', 'in', ['accepted', 'sending']).execute()
      return open.length === 0
    }, 20_000, 'every request settled')
  } catch (err) {
    const left = await s.tdb.db.selectFrom('outbound_messages').select(['state', 'phone_number_id', 'attempts']).where('state', 'in', ['accepted', 'sending']).execute()
    const parked = await s.tdb.db.selectFrom('outbound_parked').selectAll().execute()
    console.error('LEFT', left.length, JSON.stringify(left.slice(0, 3)), 'PARKED', JSON.stringify(parked), 'numbers', a.phoneNumberId, b.phoneNumberId, 'stats', JSON.stringify(second.worker?.stats()))
    throw err
  }
  const accepted = [...s.sim.control.sends({ phoneNumberId: a.phoneNumberId }).accepted, ...s.sim.control.sends({ phoneNumberId: b.phoneNumberId }).accepted]
  const perRecipient = new Map<string, number>()
  for (const x of accepted) perRecipient.set(x.to, (perRecipient.get(x.to) ?? 0) + 1)
  t.equal(accepted.length, ids.length, 'every accepted message reached Meta')
  t.equal(perRecipient.size, ids.length, 'each recipient (one message each)…')
  t.ok([...perRecipient.values()].every((c) => c === 1), '…exactly once')
  const rows = await s.tdb.db.selectFrom('outbound_messages').select(['state']).execute()
  const unknown = rows.filter((r) => r.state === 'unknown').length
  t.equal(rows.filter((r) => r.state === 'sent').length + unknown, ids.length, `sent, or in flight at the kill and surfaced as unknown (${unknown})`)
})
