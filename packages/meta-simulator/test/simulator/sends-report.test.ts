import t from 'tap'
import { createManualClock, newWamid, Simulator } from '../../src/index.ts'
import { templateTo } from '../helpers.ts'

const A = '620000000000001'
const B = '620000000000002'

t.test('sends(): since, phoneNumberId and withoutBodies over interleaved numbers', async (t) => {
  const sim = new Simulator({ clock: createManualClock() })
  sim.configureNumber({ phoneNumberId: A, wabaId: '310000000000001', displayPhoneNumber: '5511999990001', accessToken: 'ta' })
  sim.configureNumber({ phoneNumberId: B, wabaId: '310000000000001', displayPhoneNumber: '5511999990002', accessToken: 'tb' })
  for (let i = 0; i < 6; i++) {
    const [id, token] = i % 2 === 0 ? [A, 'ta'] : [B, 'tb']
    sim.handleMessages(id, 'v24.0', token, templateTo(`55119000000${i}`))
    sim.handleMessages(id, 'v24.0', 'wrong', templateTo(`55119000000${i}`))
  }
  const all = sim.sends()
  t.same(all.accepted.map((a) => a.seq), [1, 3, 5, 7, 9, 11])
  t.same(all.rejected.map((r) => r.seq), [2, 4, 6, 8, 10, 12])
  t.equal(all.lastSeq, 12)
  t.ok(all.accepted.every((a) => 'body' in a))
  t.same(sim.sends({ since: 4 }).accepted.map((a) => a.seq), [5, 7, 9, 11])
  t.same(sim.sends({ since: 5 }).rejected.map((a) => a.seq), [6, 8, 10, 12])
  t.same(sim.sends({ since: 4, phoneNumberId: B }).accepted.map((a) => a.seq), [7, 11])
  t.same(sim.sends({ since: 12 }).accepted, [])
  t.same(sim.sends({ since: Number.NaN }).accepted, [], 'a NaN since keeps nothing, as before')
  t.same(sim.sends({ since: 0, phoneNumberId: A }).rejected.map((r) => r.seq), [2, 6, 10])
  const lean = sim.sends({ since: 8, withoutBodies: true })
  t.same(lean.accepted.map((a) => a.seq), [9, 11])
  t.ok(lean.accepted.every((a) => !('body' in a)))
  t.ok(lean.rejected.every((r) => !('body' in r)))
  t.ok(all.accepted.every((a) => 'body' in a), 'stripping copies: the records keep their bodies')
})

t.test('wamids: Meta-shaped payload around the recipient, unique', async (t) => {
  const ids = Array.from({ length: 3 }, () => newWamid('5511988887777'))
  t.equal(new Set(ids).size, 3)
  for (const id of ids) {
    t.match(id, /^wamid\.[A-Za-z0-9+/]+=*$/)
    const p = Buffer.from(id.slice('wamid.'.length), 'base64')
    t.same([...p.subarray(0, 3)], [0x1c, 0x18, 13])
    t.equal(p.subarray(3, 16).toString(), '5511988887777')
    t.same([...p.subarray(16, 22)], [0x15, 0x02, 0x00, 0x11, 0x18, 0x12])
    t.match(p.subarray(31).toString(), /^\d+$/, 'a sequence number after 9 random bytes')
  }
  const bsuid = Buffer.from(newWamid('BR.12345abcdef').slice(6), 'base64')
  t.equal(bsuid.subarray(3, 3 + bsuid[2]!).toString(), 'BR.12345abcdef')
})
