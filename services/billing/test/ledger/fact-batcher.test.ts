import t from 'tap'
import { FactBatcher } from '../../src/ledger/fact-batcher.ts'
import type { Fact, MessageFact } from '../../src/ledger/facts.ts'
import { logger } from '../harness.ts'

const wamidOf = (f: Fact): string => (f as MessageFact).wamid
const fact = (wamid: string): Fact => ({ kind: 'echo', wamid, phoneNumberId: 'p', wabaId: null, recipient: 'r', ts: 0 })

t.test('facts submitted together go into one transaction; each caller resolves after it', async (t) => {
  const batches: string[][] = []
  const b = new FactBatcher({ logger, lingerMs: 5, apply: async (facts) => { batches.push(facts.map(wamidOf)) } })
  await Promise.all([b.submit([fact('a')]), b.submit([fact('b'), fact('c')]), b.submit([])])
  t.same(batches, [['a', 'b', 'c']])
})

t.test('options left undefined take their defaults', async (t) => {
  const batches: number[] = []
  const b = new FactBatcher({ logger, maxFacts: undefined, lingerMs: undefined, apply: async (facts) => { batches.push(facts.length) } })
  await Promise.all(Array.from({ length: 50 }, (_, i) => b.submit([fact(String(i))])))
  t.same(batches, [50])
})

t.test('batches are capped; facts arriving during a transaction go into the next one', async (t) => {
  const batches: number[] = []
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  const b = new FactBatcher({ logger, lingerMs: 1, maxFacts: 3, apply: async (facts) => { batches.push(facts.length); if (batches.length === 1) await gate } })
  const first = b.submit([fact('1')])
  await new Promise((resolve) => setTimeout(resolve, 10)) // the first transaction is running
  const rest = [2, 3, 4, 5, 6].map((i) => b.submit([fact(String(i))]))
  release()
  await Promise.all([first, ...rest])
  t.same(batches, [1, 3, 2])
})

t.test('one bad record does not fail the others: its facts are retried alone and only it rejects', async (t) => {
  const applied: string[][] = []
  const b = new FactBatcher({
    logger,
    lingerMs: 5,
    apply: async (facts) => {
      applied.push(facts.map(wamidOf))
      if (facts.some((f) => wamidOf(f) === 'bad')) throw Object.assign(new Error('check violation'), { code: '23514' })
    }
  })
  const results = await Promise.allSettled([b.submit([fact('ok1')]), b.submit([fact('bad')]), b.submit([fact('ok2')])])
  t.same(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled'])
  t.same(applied, [['ok1', 'bad', 'ok2'], ['ok1'], ['bad'], ['ok2']])
  await b.flush()
})
