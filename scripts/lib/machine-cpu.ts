/**
 * Where the machine's CPU goes during a bench phase (Linux /proc), for the benches: CPU time of
 * every process between two snapshots, grouped into the bench's roles (its service processes,
 * the bench process itself), Postgres, the Kafka broker, and everything else on the machine,
 * with the machine's idle time. Processes that exit between the snapshots are not counted.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'

/** Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux everywhere that matters). */
const HZ = 100

export interface CpuSnapshot {
  at: number
  /** Machine-wide jiffies from /proc/stat. */
  busy: number
  idle: number
  /** pid → [name, user + system ticks of all its threads]. */
  procs: Map<number, [string, number]>
}

function read (path: string): string | undefined {
  try { return readFileSync(path, 'utf8') } catch { return undefined }
}

/** User + system clock ticks of a /proc/<pid>[/task/<tid>]/stat line (after the command name, which may hold spaces). */
function statTicks (stat: string): number {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(rest[11]) + Number(rest[12])
}

/** The whole machine's busy and idle CPU time so far, in clock ticks (/proc/stat; zeros where it is not there). */
export function machineTicks (): { busy: number, idle: number } {
  const stat = read('/proc/stat')?.split('\n', 1)[0]?.trim().split(/\s+/).slice(1).map(Number)
  if (stat === undefined) return { busy: 0, idle: 0 }
  // user nice system idle iowait irq softirq steal (guest time is already in user)
  return {
    idle: (stat[3] ?? 0) + (stat[4] ?? 0),
    busy: (stat[0] ?? 0) + (stat[1] ?? 0) + (stat[2] ?? 0) + (stat[5] ?? 0) + (stat[6] ?? 0) + (stat[7] ?? 0)
  }
}

/**
 * CPU time (user + system) a process, or one of its threads when `tid` is given, has used so
 * far, in ms (a multiple of the 10-ms clock tick); NaN when it is not there.
 */
export function processCpuMs (pid: number, tid?: number): number {
  const s = read(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`)
  return s === undefined ? NaN : statTicks(s) * (1000 / HZ)
}

/** Resident set size of a process now and at its peak (Linux VmRSS and VmHWM), in MiB; NaN when it is not there. */
export function processRssMiB (pid: number): { rss: number, peak: number } {
  const s = read(`/proc/${pid}/status`)
  const mib = (name: string): number => {
    const m = s === undefined ? null : new RegExp(`${name}:\\s+(\\d+) kB`).exec(s)
    return m === null ? NaN : Number(m[1]) / 1024
  }
  return { rss: mib('VmRSS'), peak: mib('VmHWM') }
}

/** A snapshot of every process's CPU time (empty where /proc is not there). */
export function cpuSnapshot (): CpuSnapshot {
  const procs = new Map<number, [string, number]>()
  const { busy, idle } = machineTicks()
  let pids: string[] = []
  try { pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d)) } catch {}
  for (const d of pids) {
    const s = read(`/proc/${d}/stat`)
    if (s === undefined) continue
    let name = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'))
    if (name === 'java') name = (read(`/proc/${d}/cmdline`) ?? '').includes('kafka.Kafka') ? 'kafka' : 'java'
    if (name.startsWith('postgres')) name = 'postgres'
    procs.set(Number(d), [name, statTicks(s)])
  }
  return { at: performance.now(), busy, idle, procs }
}

/**
 * CPU seconds between two snapshots by role: `roles` names pids; processes named postgres and
 * the Kafka broker's JVM are grouped as `postgres` and `kafka`; the rest is `other` (and by name
 * in `others`, busiest first).
 */
export function cpuByRole (a: CpuSnapshot, b: CpuSnapshot, roles: Record<string, readonly number[]>): { seconds: number, busy: number, total: number, byRole: Map<string, number>, others: Array<[string, number]> } {
  const byRole = new Map<string, number>()
  const other = new Map<string, number>()
  const roleOf = new Map<number, string>()
  for (const [role, pids] of Object.entries(roles)) for (const p of pids) roleOf.set(p, role)
  for (const [pid, [name, ticks]] of b.procs) {
    const d = ticks - (a.procs.get(pid)?.[1] ?? 0)
    if (d <= 0) continue
    const role = roleOf.get(pid) ?? (name === 'postgres' || name === 'kafka' ? name : undefined)
    if (role !== undefined) byRole.set(role, (byRole.get(role) ?? 0) + d / HZ)
    else other.set(name, (other.get(name) ?? 0) + d / HZ)
  }
  const others = [...other].sort((x, y) => y[1] - x[1])
  byRole.set('other', others.reduce((n, [, t]) => n + t, 0))
  const busy = (b.busy - a.busy) / HZ
  return { seconds: (b.at - a.at) / 1000, busy, total: busy + (b.idle - a.idle) / HZ, byRole, others }
}

/**
 * CPU between two snapshots, as lines to print: each role's core-seconds, share of a core and
 * µs per event (see {@link cpuByRole}).
 */
export function cpuReport (a: CpuSnapshot, b: CpuSnapshot, roles: Record<string, readonly number[]>, events: number): string[] {
  const { seconds, busy, total, byRole, others } = cpuByRole(a, b, roles)
  const fmt = (s: number): string => `${s.toFixed(1)} core-s, ${(s / seconds * 100).toFixed(0)} % of a core, ${(s * 1e6 / events).toFixed(1)} µs/event`
  const lines = [`machine: ${availableParallelism()} cores over ${seconds.toFixed(1)} s, busy ${total > 0 ? (busy / total * 100).toFixed(0) : '?'} % (${busy.toFixed(1)} core-s)`]
  for (const role of [...Object.keys(roles), 'postgres', 'kafka']) lines.push(`  ${role}: ${fmt(byRole.get(role) ?? 0)}`)
  lines.push(`  everything else: ${fmt(byRole.get('other') ?? 0)} (${others.slice(0, 4).map(([n, t]) => `${n} ${t.toFixed(1)}`).join(', ')})`)
  return lines
}

/** HotSpot's JIT compiler threads (`C1 CompilerThread0`, `C2 CompilerThread1`, …; comm keeps 15 characters). */
export const BROKER_JIT_THREADS = /^C[12] CompilerThre/

/**
 * CPU seconds so far of the threads of `pid` whose name matches `name` (Linux
 * /proc/<pid>/task/<tid>/comm, 15 characters), e.g. HotSpot's JIT compilers (`C1 CompilerThre…`,
 * `C2 CompilerThre…`); NaN when the process is not there.
 */
export function threadsCpuSeconds (pid: number, name: RegExp): number {
  let tids: string[]
  try { tids = readdirSync(`/proc/${pid}/task`) } catch { return NaN }
  let ticks = 0
  for (const tid of tids) {
    const comm = read(`/proc/${pid}/task/${tid}/comm`)
    const s = comm !== undefined && name.test(comm.trim()) ? read(`/proc/${pid}/task/${tid}/stat`) : undefined
    if (s === undefined) continue // not matching, or ended meanwhile
    ticks += statTicks(s)
  }
  return ticks / HZ
}
