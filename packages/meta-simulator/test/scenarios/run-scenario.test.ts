import t from 'tap'
import { demoScenario, runScenario, scenarioNumbers } from '../../src/index.ts'
import { startReceiver, startSim } from '../helpers.ts'

t.test('scenarioNumbers spreads coexistence numbers evenly', async (t) => {
  t.same(scenarioNumbers(4, 0.5).map((n) => n.mode), ['cloud_api', 'coexistence', 'cloud_api', 'coexistence'])
  t.same(scenarioNumbers(3, 2 / 3).map((n) => n.mode), ['cloud_api', 'coexistence', 'coexistence'])
  t.same(scenarioNumbers(2, 0).map((n) => n.mode), ['cloud_api', 'cloud_api'])
})

t.test('a scenario plays inbound traffic of many types, echoes and contact changes, then stops', async (t) => {
  const r = await startReceiver(t)
  const { sim } = await startSim(t)
  sim.control.setWebhookTarget({ url: r.url, appSecret: 's' })
  const play = runScenario(sim.control, { numbers: 2, coexistenceRatio: 1, inboundRate: 400, echoRate: 50, contactChangeRate: 20, tickMs: 10, maxEvents: 120, seed: 3 })
  t.same(play.numbers.map((n) => n.mode), ['coexistence', 'coexistence'])
  const stats = await play.done
  t.equal(stats.inbound + stats.echoes + stats.contactChanges, 120)
  t.ok(stats.echoes > 0 && stats.contactChanges > 0)
  t.equal(stats.undelivered, 0)
  await sim.control.whenIdle()
  const fields = r.received.map((w) => w.json.entry[0].changes[0].field)
  t.same([...new Set(fields)].sort(), ['account_update', 'messages', 'smb_app_state_sync', 'smb_message_echoes'])
  const types = new Set(r.received.flatMap((w) => (w.json.entry[0].changes[0].value.messages ?? []).map((m: any) => m.type)))
  t.ok(types.size >= 5, `message types: ${[...types].join(', ')}`)
  t.equal(sim.control.sends().inbound.length, stats.inbound + stats.echoes, 'inbound usage recorded for the throughput')
  t.same(await play.stop(), stats, 'stop after done returns the same stats')
})

t.test('the demo preset is gentle', async (t) => {
  const d = demoScenario()
  t.ok((d.inboundRate ?? 0) <= 1)
  t.equal(d.numbers, 3)
})
