import t from 'tap'
import { summarizePromoted, type SamplingProfile } from './promoted-objects.ts'

type Node = SamplingProfile['head']
const node = (functionName: string, url: string, selfSize: number, children: Node[] = []): Node => ({ callFrame: { functionName, url, lineNumber: 9 }, selfSize, children })
const MB = 1048576

t.test('promoted bytes are summed, per second, and shared out by the nearest frame of ours and by file', async (t) => {
  const profile: SamplingProfile = {
    head: node('(root)', '', 0, [
      node('#send', 'file:///repo/services/outbound-sender/src/worker/send-worker.ts', 1 * MB, [
        // undici's allocations under our #send count for #send (nearest frame of ours) and for undici's file
        node('writeH1', '/repo/node_modules/.pnpm/undici@8.12.4/node_modules/undici/lib/dispatcher/client-h1.js', 5 * MB)
      ]),
      node('onStreamRead', 'node:internal/stream_base_commons', 2 * MB),
      node('', '', 2 * MB)
    ])
  }
  const [total, byOurs, byFile] = summarizePromoted({ seconds: 5, profile })
  t.equal(total, 'worker objects promoted in 5 s: 10.0 MB (2.0 MB/s; sampled every 16 KiB)')
  t.equal(byOurs, 'promoted, by the nearest frame of ours: #send services/outbound-sender/src/worker/send-worker.ts:10 60.0 %; (no frame of ours) 40.0 %')
  t.equal(byFile, 'promoted, by file: undici/lib/dispatcher/client-h1.js 50.0 %; node:internal/stream_base_commons 20.0 %; (V8 and native) 20.0 %; services/outbound-sender/src/worker/send-worker.ts 10.0 %')
})

t.test('the listing keeps the largest shares', async (t) => {
  const profile: SamplingProfile = { head: node('(root)', '', 0, Array.from({ length: 5 }, (_, i) => node(`f${i}`, `file:///repo/packages/x/src/f${i}.ts`, (i + 1) * MB))) }
  const [, byOurs] = summarizePromoted({ seconds: 1, profile }, 2)
  t.equal(byOurs, 'promoted, by the nearest frame of ours: f4 packages/x/src/f4.ts:10 33.3 %; f3 packages/x/src/f3.ts:10 26.7 %')
})
