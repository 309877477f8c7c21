/**
 * `node services/<service>/src/main.ts` as `npm start` runs it, for the three services with a
 * database (ingress has its own test): a bad environment stops the process before it connects to
 * anything, with exit 1 and one line naming every bad variable, and no secret printed.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const SERVICES = ['sync', 'outbound-sender', 'billing']
const ADMIN_KEY = 'cx_admin_do-not-print-this-0123456789'

async function run (service: string, env: Record<string, string>): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const main = fileURLToPath(new URL(`../../services/${service}/src/main.ts`, import.meta.url))
  const child = spawn(process.execPath, [main], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
  return { code, stdout, stderr }
}

for (const service of SERVICES) {
  t.test(`${service}: a bad environment exits 1 naming each bad variable`, async (t) => {
    const r = await run(service, {
      DATABASE_URL: 'mysql://127.0.0.1/coexist',
      DATABASE_POOL_MAX: '0',
      KAFKA_BROKERS: '127.0.0.1:9092',
      COEXIST_ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64'),
      COEXIST_ADMIN_KEY: ADMIN_KEY
    })
    t.equal(r.code, 1)
    const lines = r.stderr.trim().split('\n')
    t.equal(lines.length, 1, `one line: ${r.stderr}`)
    t.match(lines[0], new RegExp(`^${service}: invalid configuration: `))
    t.match(lines[0], /DATABASE_URL: must be a postgres:\/\/ URL/)
    t.match(lines[0], /DATABASE_POOL_MAX: must be at least 1/)
    t.notMatch(r.stderr + r.stdout, ADMIN_KEY, 'no secret printed')
  })
}
