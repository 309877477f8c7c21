/**
 * Finds or starts the infrastructure that tests and `npm start` run on, in this order:
 * 1. `DATABASE_URL` / `KAFKA_BROKERS` when set;
 * 2. testcontainers, where a container runtime (Docker) answers;
 * 3. the machine itself: Postgres at 127.0.0.1:5432 (started with pg_ctlcluster when down) and a
 *    single-node KRaft Kafka from Maven Central jars (infra/kafka/kafka-local.sh).
 */
import { execFile, execFileSync } from 'node:child_process'
import { connect } from 'node:net'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const KAFKA_LOCAL = fileURLToPath(new URL('../../infra/kafka/kafka-local.sh', import.meta.url))

export interface Started<T> { value: T, how: string, stop: () => Promise<void> }
const noop = async (): Promise<void> => {}

function log (msg: string): void { process.stderr.write(`coexist: ${msg}\n`) }

function portOpen (port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host })
    const done = (ok: boolean): void => { s.destroy(); resolve(ok) }
    s.setTimeout(timeoutMs, () => done(false))
    s.once('connect', () => done(true))
    s.once('error', () => done(false))
  })
}

/**
 * A free port pair (broker, controller) from `start` upward in steps of 2; the first pick is
 * random so concurrent runs (several shells, a test run beside a benchmark) do not race for one.
 */
export async function freePortPair (start: number, span = 50): Promise<number> {
  const offset = Math.floor(Math.random() * span)
  for (let i = 0; i < span; i++) {
    const p = start + 2 * ((offset + i) % span)
    if (!(await portOpen(p)) && !(await portOpen(p + 1))) return p
  }
  throw new Error(`no free port pair in ${start}..${start + 2 * span} for a local broker`)
}

let runtimeChecked: Promise<boolean> | undefined
/** True when testcontainers finds a working container runtime within a few seconds. */
function containerRuntimeAvailable (): Promise<boolean> {
  runtimeChecked ??= (async () => {
    if (process.env.COEXIST_NO_CONTAINERS === '1') return false
    try {
      await run('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 5000 })
    } catch {
      return false
    }
    try {
      const { getContainerRuntimeClient } = await import('testcontainers')
      await getContainerRuntimeClient()
      return true
    } catch {
      return false
    }
  })()
  return runtimeChecked
}

/** A Postgres server URL (database `postgres`) that the caller may create databases on. */
export async function ensurePostgres (): Promise<Started<string>> {
  if (process.env.DATABASE_URL) return { value: process.env.DATABASE_URL, how: 'DATABASE_URL', stop: noop }
  if (await containerRuntimeAvailable()) {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql')
    const c = await new PostgreSqlContainer('postgres:16-alpine').start()
    return { value: c.getConnectionUri(), how: 'testcontainers', stop: async () => { await c.stop() } }
  }
  if (!(await portOpen(5432))) {
    log('Postgres is not answering on 127.0.0.1:5432: starting it with pg_ctlcluster')
    try {
      const clusters = execFileSync('pg_lsclusters', ['--no-header'], { encoding: 'utf8' }).trim().split('\n')
      for (const line of clusters) {
        const [version, name] = line.trim().split(/\s+/)
        if (version && name) execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, name, 'start'], { stdio: 'inherit' })
      }
    } catch (err) {
      throw new Error('no Postgres: set DATABASE_URL, run a Docker engine, or install PostgreSQL locally (trust auth on 127.0.0.1:5432)', { cause: err })
    }
    for (let i = 0; i < 40 && !(await portOpen(5432)); i++) await new Promise((resolve) => setTimeout(resolve, 250))
  }
  return { value: 'postgres://postgres@127.0.0.1:5432/postgres', how: 'local Postgres on 127.0.0.1:5432', stop: noop }
}

export interface KafkaLocalOptions { port?: number, home?: string }

/** Kafka bootstrap servers. */
export async function ensureKafka (opts: KafkaLocalOptions = {}): Promise<Started<string[]>> {
  if (process.env.KAFKA_BROKERS) return { value: process.env.KAFKA_BROKERS.split(','), how: 'KAFKA_BROKERS', stop: noop }
  if (await containerRuntimeAvailable()) {
    const { KafkaContainer } = await import('@testcontainers/kafka')
    const c = await new KafkaContainer('apache/kafka:4.1.1').withKraft().start()
    return { value: [`${c.getHost()}:${c.getMappedPort(9093)}`], how: 'testcontainers', stop: async () => { await c.stop() } }
  }
  const env = { ...process.env, ...(opts.port ? { KAFKA_LOCAL_PORT: String(opts.port) } : {}), ...(opts.home ? { KAFKA_LOCAL_HOME: opts.home } : {}) }
  const wasRunning = await run('bash', [KAFKA_LOCAL, 'status'], { env }).then(() => true, () => false)
  const { stdout } = await run('bash', [KAFKA_LOCAL, 'start'], { env, timeout: 600_000 })
  const brokers = stdout.trim().split('\n').pop()!.split(',')
  return {
    value: brokers,
    how: wasRunning ? `local Kafka already running at ${brokers.join(',')}` : `local Kafka (KRaft, Maven Central jars) at ${brokers.join(',')}`,
    stop: wasRunning ? noop : async () => { await run('bash', [KAFKA_LOCAL, 'stop'], { env }) }
  }
}
