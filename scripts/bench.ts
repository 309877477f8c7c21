/**
 * `pnpm bench <name>` (or `npm run bench -- <name>`): runs tests/bench/<name>.bench.ts on real
 * infrastructure (the same as `npm test`: env, testcontainers, or local Postgres and Kafka) and
 * prints its figures. Without a name it lists the benchmarks.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { createDb, migrateToLatest } from '@coexist/db'
import { ensureKafka, ensurePostgres, freePortPair } from './lib/infra.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const dir = join(root, 'tests', 'bench')
const names = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.bench.ts')).map((f) => f.replace(/\.bench\.ts$/, '')) : []
const name = process.argv[2]
if (name === undefined || !names.includes(name)) {
  console.log(`usage: pnpm bench <name>   benchmarks: ${names.join(', ') || '(none yet)'}`)
  process.exit(name === undefined ? 0 : 2)
}

// The broker runs as Kafka's own start script runs it (kafka-server-start.sh: a fixed 1 GB heap;
// kafka-run-class.sh: G1, full JIT), not with the small heap and fast-start options tests use: it
// shares the cores with what is measured. With the tests' heap (128 MB growing to 512 MB), G1
// took 8-9 core-s during the billing bench's backlog against 0.1 with 1 GB fixed.
process.env.KAFKA_LOCAL_HEAP ??= '1g'
process.env.KAFKA_LOCAL_HEAP_MIN ??= '1g'
process.env.KAFKA_LOCAL_JVM_OPTS ??= '-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent'
const kafkaHome = mkdtempSync(join(tmpdir(), 'coexist-bench-kafka-'))
const [pgs, kafka] = await Promise.all([ensurePostgres(), ensureKafka({ port: Number(process.env.COEXIST_BENCH_KAFKA_PORT ?? await freePortPair(29092)), home: kafkaHome })])
/** Written by infra/kafka/kafka-local.sh when it starts the broker in `kafkaHome`. */
const kafkaPidFile = join(kafkaHome, 'kafka.pid')
const dbName = `coexist_bench_${randomBytes(3).toString('hex')}`
const admin = async (q: string): Promise<void> => {
  const c = new pg.Client({ connectionString: pgs.value }); await c.connect()
  try { await c.query(q) } finally { await c.end() }
}
let status = 1
try {
  await admin(`CREATE DATABASE "${dbName}"`)
  const url = new URL(pgs.value); url.pathname = '/' + dbName
  const db = createDb(url.toString(), { max: 1 }); await migrateToLatest(db); await db.destroy()
  const r = spawnSync(process.execPath, ['--expose-gc', join(dir, `${name}.bench.ts`), ...process.argv.slice(3)], {
    cwd: root,
    stdio: 'inherit',
    env: {
      ...process.env,
      DATABASE_URL: url.toString(),
      COEXIST_TEST_PG_URL: pgs.value,
      KAFKA_BROKERS: kafka.value.join(','),
      // The local broker's process, when this run started one: benchmarks can read its CPU time.
      ...(existsSync(kafkaPidFile) ? { COEXIST_BENCH_KAFKA_PID: readFileSync(kafkaPidFile, 'utf8').trim() } : {}),
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent'
    }
  })
  status = r.status ?? 1
} finally {
  await admin(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).catch(() => {})
  await kafka.stop(); await pgs.stop()
  rmSync(kafkaHome, { recursive: true, force: true })
}
process.exit(status)
