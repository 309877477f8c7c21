/**
 * Traffic scenarios for tests, benchmarks and the demo: creates numbers (Cloud API and
 * coexistence), announces them with `PARTNER_ADDED`, then plays user messages of every type,
 * Business App echoes and contact changes at the configured rates. Statuses follow by themselves
 * when the system under test sends through the simulator.
 */
import { z } from 'zod'
import { NumberConfigSchema, type NumberConfigInput } from '../control/control-schemas.ts'
import { seededRandom } from '../random.ts'
import type { InboundInput, NumberView, SimulatorControl } from '../simulator.ts'
import type { InboundType } from '../webhooks/builders.ts'
import { generateUsers, type SimUser } from '../webhooks/history-generator.ts'

/** Relative frequency of inbound message types in generated traffic. */
export const INBOUND_MIX: ReadonlyArray<readonly [InboundType, number]> = [
  ['text', 62], ['image', 8], ['audio', 5], ['document', 3], ['video', 2], ['sticker', 2], ['location', 2],
  ['contacts', 1], ['interactive', 4], ['button', 2], ['reaction', 4], ['order', 1], ['unsupported', 1],
  ['edit', 1], ['revoke', 1], ['system', 1]
]

const USER_TEXTS = ['Oi! Vocês abrem amanhã?', 'Is my order on its way?', 'Quanto custa a entrega?', 'Thanks, got it 🙏', 'Can I pay with Pix?', '¿Tienen talla M?', 'Perfect, see you at 9']

export const ScenarioSchema = z.object({
  /** How many numbers to create, or their exact configs. */
  numbers: z.union([z.number().int().min(1).max(1000), z.array(NumberConfigSchema).min(1)]).default(3),
  /** Share of created numbers in coexistence mode (when `numbers` is a count). */
  coexistenceRatio: z.number().min(0).max(1).default(0.5),
  /** User messages per second, per number. */
  inboundRate: z.number().min(0).max(10_000).default(1),
  /** Business App echoes per second, per coexistence number. */
  echoRate: z.number().min(0).max(10_000).default(0.2),
  /** Contact changes per second, per coexistence number. */
  contactChangeRate: z.number().min(0).max(1000).default(0.05),
  usersPerNumber: z.number().int().min(1).max(1_000_000).default(25),
  /** Emit PARTNER_ADDED for each WABA when the scenario starts. */
  announce: z.boolean().default(true),
  /** Stop after this long (real ms); default: run until stopped. */
  durationMs: z.number().int().min(1).optional(),
  /** Stop after this many events in total. */
  maxEvents: z.number().int().min(1).optional(),
  tickMs: z.number().int().min(5).max(10_000).default(100),
  seed: z.number().int().default(1)
})
export type ScenarioOptions = z.input<typeof ScenarioSchema>

export interface ScenarioStats {
  inbound: number
  echoes: number
  contactChanges: number
  accountUpdates: number
  /** Emissions whose delivery failed after all retries (or had no target). */
  undelivered: number
}

export interface ScenarioHandle {
  numbers: NumberView[]
  /** Resolves when the scenario ends (duration, maxEvents, or stop()). */
  done: Promise<ScenarioStats>
  stop: () => Promise<ScenarioStats>
}

/**
 * Numbers for a scenario: ids `6200000000000NN`, WABAs `3100000000000NN`, display numbers
 * `55119999900NN`, every other one in coexistence mode (20 mps) when the ratio is 0.5.
 */
export function scenarioNumbers (count: number, coexistenceRatio = 0.5): NumberConfigInput[] {
  return Array.from({ length: count }, (_, i) => {
    const k = String(i + 1).padStart(3, '0')
    // Spread coexistence numbers evenly: number i is one when the running share crosses an integer.
    const coexistence = Math.floor((i + 1) * coexistenceRatio + 1e-9) > Math.floor(i * coexistenceRatio + 1e-9)
    return {
      phoneNumberId: `620000000000${k}`,
      wabaId: `310000000000${k}`,
      displayPhoneNumber: `551199990${k}`,
      verifiedName: `Loja ${i + 1}`,
      mode: coexistence ? 'coexistence' : 'cloud_api'
    }
  })
}

/**
 * Starts a scenario on a simulator: configures its numbers and plays traffic with real timers.
 *
 * @example
 * const play = runScenario(sim.control, { numbers: 2, inboundRate: 5, durationMs: 2000 })
 * const stats = await play.done
 */
export function runScenario (sim: SimulatorControl, options: ScenarioOptions = {}): ScenarioHandle {
  const o = ScenarioSchema.parse(options)
  const configs = typeof o.numbers === 'number' ? scenarioNumbers(o.numbers, o.coexistenceRatio) : o.numbers as NumberConfigInput[]
  const numbers = configs.map((c) => sim.configureNumber(c))
  const rnd = seededRandom(o.seed)
  const users = new Map<string, SimUser[]>(numbers.map((n) => [n.phoneNumberId, generateUsers({ phoneNumberId: n.phoneNumberId, wabaId: n.wabaId, displayPhoneNumber: n.displayPhoneNumber }, o.usersPerNumber, o.seed)]))
  const recent = new Map<string, string[]>() // phoneNumberId → recent inbound wamids, for reactions/edits
  const stats: ScenarioStats = { inbound: 0, echoes: 0, contactChanges: 0, accountUpdates: 0, undelivered: 0 }
  const debt = new Map<string, number>()
  const pending = new Set<Promise<unknown>>()
  let events = 0
  let stopped = false
  let finish: (s: ScenarioStats) => void = () => {}
  const done = new Promise<ScenarioStats>((resolve) => { finish = resolve })

  const track = (p: Promise<{ delivered: boolean }>): void => {
    const q = p.then((r) => { if (!r.delivered) stats.undelivered++ }, () => { stats.undelivered++ })
    pending.add(q)
    void q.finally(() => pending.delete(q))
  }
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)] as T
  const pickType = (): InboundType => {
    const total = INBOUND_MIX.reduce((s, [, w]) => s + w, 0)
    let r = rnd() * total
    for (const [t, w] of INBOUND_MIX) { if ((r -= w) < 0) return t }
    return 'text'
  }
  /** Events due this tick for a (number, kind) at `rate` per second, carrying the fraction over. */
  const due = (key: string, rate: number): number => {
    const d = (debt.get(key) ?? 0) + rate * o.tickMs / 1000
    const whole = Math.floor(d)
    debt.set(key, d - whole)
    return whole
  }

  if (o.announce) {
    for (const wabaId of new Set(numbers.map((n) => n.wabaId))) {
      stats.accountUpdates++
      track(sim.accountUpdate({ event: 'PARTNER_ADDED', wabaId }))
    }
  }

  const tick = (): void => {
    for (const n of numbers) {
      const people = users.get(n.phoneNumberId) as SimUser[]
      for (let i = due(`in:${n.phoneNumberId}`, o.inboundRate); i > 0 && budget(); i--) {
        const u = pick(people)
        let type = pickType()
        const refs = recent.get(n.phoneNumberId) ?? []
        if ((type === 'reaction' || type === 'edit' || type === 'revoke' || type === 'interactive' || type === 'button') && refs.length === 0) type = 'text'
        const input: InboundInput = { phoneNumberId: n.phoneNumberId, from: u.waId, name: u.name, type }
        if (type === 'text') input.text = pick(USER_TEXTS)
        if (refs.length > 0) input.refId = pick(refs)
        stats.inbound++
        const p = sim.inbound(input)
        track(p.then((r) => {
          refs.push(r.wamid)
          if (refs.length > 20) refs.shift()
          recent.set(n.phoneNumberId, refs)
          return r.delivery
        }))
      }
      if (n.mode !== 'coexistence') continue
      for (let i = due(`echo:${n.phoneNumberId}`, o.echoRate); i > 0 && budget(); i--) {
        stats.echoes++
        track(sim.echo({ phoneNumberId: n.phoneNumberId, to: pick(people).waId, text: 'Enviado pelo app 📱' }))
      }
      for (let i = due(`contact:${n.phoneNumberId}`, o.contactChangeRate); i > 0 && budget(); i--) {
        const u = pick(people)
        stats.contactChanges++
        track(sim.contactChange({ phoneNumberId: n.phoneNumberId, phone: u.waId, action: rnd() < 0.9 ? 'add' : 'remove', fullName: u.name }))
      }
    }
    if (o.maxEvents !== undefined && events >= o.maxEvents) void stop()
  }
  const budget = (): boolean => {
    if (o.maxEvents !== undefined && events >= o.maxEvents) return false
    events++
    return true
  }

  const interval = setInterval(tick, o.tickMs)
  const timeout = o.durationMs !== undefined ? setTimeout(() => { void stop() }, o.durationMs) : undefined

  async function stop (): Promise<ScenarioStats> {
    if (!stopped) {
      stopped = true
      clearInterval(interval)
      if (timeout !== undefined) clearTimeout(timeout)
      await Promise.allSettled([...pending])
      finish({ ...stats })
    }
    return await done
  }

  return { numbers, done, stop }
}

/**
 * The gentle demo of `SIM_DEMO=1`: one Cloud API number and two coexistence numbers, a user
 * message every two seconds per number, an occasional app echo and contact change.
 */
export function demoScenario (): ScenarioOptions {
  return { numbers: 3, coexistenceRatio: 2 / 3, inboundRate: 0.5, echoRate: 0.1, contactChangeRate: 0.02, usersPerNumber: 12, tickMs: 250, seed: 7 }
}
