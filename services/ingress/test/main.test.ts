/**
 * `node services/ingress/src/main.ts` as `npm start` runs it: a bad environment stops it with a
 * message naming the variable; a good one serves webhooks and exits 0 on SIGTERM.
 */
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { serializeLikeMeta, signBody } from '@coexist/meta'
import { inboundTextWebhook } from '@coexist/meta/fixtures'
import { testKafkaBrokers, testTopicPrefix } from '@coexist/testkit'
import { APP_ID, APP_SECRET, VERIFY_TOKEN } from './helpers.ts'

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url))

function start (env: Record<string, string>) {
  const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { out += d.toString() })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { child, exited, output: () => out }
}

const freePort = (): Promise<number> => new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const a = s.address()
    s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0))
  })
})

t.test('a bad environment: exit 1 with the variable named, no secret printed', async (t) => {
  const p = start({ KAFKA_BROKERS: '127.0.0.1:9092', META_APP_SECRETS: 'not-a-pair', META_VERIFY_TOKEN: 'vt', INGRESS_BODY_LIMIT_BYTES: '10' })
  t.equal(await p.exited, 1)
  t.match(p.output(), /ingress: invalid configuration: .*META_APP_SECRETS/)
  t.match(p.output(), /INGRESS_BODY_LIMIT_BYTES/)
  t.notMatch(p.output(), 'not-a-pair')
})

t.test('serves signed webhooks, then exits 0 on SIGTERM', async (t) => {
  const port = await freePort()
  const p = start({
    PORT: String(port),
    HOST: '127.0.0.1',
    KAFKA_BROKERS: testKafkaBrokers().join(','),
    KAFKA_TOPIC_PREFIX: testTopicPrefix(),
    META_APP_SECRETS: `${APP_ID}:${APP_SECRET}`,
    META_VERIFY_TOKEN: VERIFY_TOKEN,
    INGRESS_DRAIN_MS: '50',
    INGRESS_TOPIC_PARTITIONS: '1',
    LOG_LEVEL: 'info'
  })
  t.teardown(() => { if (p.child.exitCode === null) p.child.kill('SIGKILL') })
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  while (!(await fetch(`${url}/health/ready`).then((r) => r.ok, () => false))) {
    if (Date.now() > deadline || p.child.exitCode !== null) t.fail(`not ready: ${p.output()}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const body = serializeLikeMeta(inboundTextWebhook({ wamid: 'wamid.MAIN_0001' }))
  const res = await fetch(`${url}/webhooks/meta/${APP_ID}`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(body, APP_SECRET) } })
  t.equal(res.status, 200)
  p.child.kill('SIGTERM')
  t.equal(await p.exited, 0)
  t.match(p.output(), /"msg":"ingress listening"/)
  t.match(p.output(), /"msg":"shutdown complete"/)
  t.notMatch(p.output(), APP_SECRET)
})
