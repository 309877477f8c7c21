import t from 'tap'
import { machineTicks, processCpuMs, processRssMiB } from '../../scripts/lib/machine-cpu.ts'

t.test('a process and its main thread: CPU time in whole clock ticks, the thread within the process', async (t) => {
  const all = processCpuMs(process.pid)
  const main = processCpuMs(process.pid, process.pid)
  t.ok(Number.isInteger(all / 10) && Number.isInteger(main / 10), `${all} / ${main} ms`)
  t.ok(main >= 0 && main <= processCpuMs(process.pid), 'the main thread is part of the process')
})

t.test('a process that is not there gives NaN', async (t) => {
  t.ok(Number.isNaN(processCpuMs(2 ** 31 - 1)))
  t.ok(Number.isNaN(processCpuMs(process.pid, 2 ** 31 - 1)))
})

t.test('the machine: busy and idle clock ticks so far, never going back', async (t) => {
  const a = machineTicks()
  const b = machineTicks()
  t.ok(a.busy + a.idle > 0)
  t.ok(b.busy >= a.busy && b.idle >= a.idle)
})

t.test('resident set size now and at its peak, in MiB; NaN for a process that is not there', async (t) => {
  const { rss, peak } = processRssMiB(process.pid)
  const own = process.memoryUsage.rss() / 2 ** 20
  t.ok(rss > 1 && Math.abs(rss - own) < 64, `${rss.toFixed(1)} MiB against process.memoryUsage ${own.toFixed(1)}`)
  t.ok(peak >= rss, `peak ${peak.toFixed(1)} MiB`)
  const gone = processRssMiB(2 ** 31 - 1)
  t.ok(Number.isNaN(gone.rss) && Number.isNaN(gone.peak))
})
