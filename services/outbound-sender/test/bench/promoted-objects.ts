/**
 * Preloaded into the bench's worker process with BENCH_PROMOTED=1 (`node --import <this>`): what
 * the worker's sends leave to the old generation, by allocation site. From `from` to `to` seconds
 * after the process starts it runs V8's sampling heap profiler keeping the samples of objects a
 * mark-compact frees and dropping those a scavenge frees; a scavenge at the end drops the young
 * garbage still uncollected. What is left is what was promoted in the window (the young objects
 * a mark-compact freed meanwhile are counted too, a few MB a mark-compact), written as V8's
 * sampling profile JSON to BENCH_PROMOTED_FILE. The bench prints it with {@link summarizePromoted}.
 * The profiler's own bookkeeping raises the worker's peak RSS (266 MB in the first run against
 * 237–245 without): leave it off for memory figures.
 */
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import v8 from 'node:v8'
import vm from 'node:vm'

interface CallFrame { functionName: string, url: string, lineNumber: number }
interface ProfileNode { callFrame: CallFrame, selfSize: number, children: ProfileNode[] }
export interface SamplingProfile { head: ProfileNode }

const file = process.env.BENCH_PROMOTED_FILE
if (file !== undefined) {
  const from = Number(process.env.BENCH_PROMOTED_FROM ?? 12) * 1000
  const to = Number(process.env.BENCH_PROMOTED_TO ?? 20) * 1000
  const session = new Session()
  session.connect()
  setTimeout(() => {
    void (async () => {
      await session.post('HeapProfiler.enable')
      await session.post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: false })
      setTimeout(() => {
        void (async () => {
          v8.setFlagsFromString('--expose-gc')
          const gc = vm.runInNewContext('gc') as (o: { type: 'minor', execution: 'sync' }) => void
          gc({ type: 'minor', execution: 'sync' })
          const { profile } = await session.post('HeapProfiler.getSamplingProfile')
          await session.post('HeapProfiler.stopSampling')
          writeFileSync(file, JSON.stringify({ seconds: (to - from) / 1000, profile }))
        })()
      }, to - from).unref()
    })()
  }, from).unref()
}

/** `[file://]/…/node_modules/.pnpm/x@1/node_modules/x/lib/a.js` → `x/lib/a.js`; our files from the repository root. */
function shortUrl (url: string): string {
  return url.replace(/^(?:file:\/\/)?.*\/node_modules\/\.pnpm\/[^/]+\/node_modules\//, '').replace(/^(?:file:\/\/)?.*?\/(?=(services|packages)\/)/, '')
}

const ours = (url: string): boolean => /^(services|packages)\//.test(shortUrl(url))

/**
 * Lines to print: MB promoted (and per second), then the largest shares by the nearest frame in
 * our own code (services/, packages/) on the allocation's stack, and by file.
 */
export function summarizePromoted (data: { seconds: number, profile: SamplingProfile }, top = 12): string[] {
  const byOurs = new Map<string, number>()
  const byFile = new Map<string, number>()
  let total = 0
  const walk = (n: ProfileNode, nearest: string): void => {
    const f = n.callFrame
    const here = ours(f.url) ? `${f.functionName === '' ? '(anonymous)' : f.functionName} ${shortUrl(f.url)}:${f.lineNumber + 1}` : nearest
    if (n.selfSize > 0) {
      total += n.selfSize
      byOurs.set(here, (byOurs.get(here) ?? 0) + n.selfSize)
      const fileKey = f.url === '' ? '(V8 and native)' : shortUrl(f.url)
      byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + n.selfSize)
    }
    for (const c of n.children) walk(c, here)
  }
  walk(data.profile.head, '(no frame of ours)')
  const mb = (b: number): string => (b / 1048576).toFixed(1)
  const rows = (m: Map<string, number>): string => [...m].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([k, b]) => `${k} ${(100 * b / Math.max(1, total)).toFixed(1)} %`).join('; ')
  return [
    `worker objects promoted in ${data.seconds} s: ${mb(total)} MB (${mb(total / data.seconds)} MB/s; sampled every 16 KiB)`,
    `promoted, by the nearest frame of ours: ${rows(byOurs)}`,
    `promoted, by file: ${rows(byFile)}`
  ]
}
