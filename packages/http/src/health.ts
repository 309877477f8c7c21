import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

/** A readiness check: resolves true when its dependency works. A throw counts as a failure. */
export type ReadinessCheck = () => Promise<boolean>

export type CheckResult = 'ok' | 'failed' | 'timeout'

export interface ReadinessReport {
  status: 'ready' | 'not_ready' | 'shutting_down'
  checks: Record<string, CheckResult>
  /** Names of the checks that did not pass (only when not ready). */
  failed?: string[]
}

export interface HealthPluginOptions {
  readiness: Record<string, ReadinessCheck>
  /** Per-check time limit; a slower check counts as failed. */
  timeoutMs: number
}

async function runCheck (name: string, check: ReadinessCheck, timeoutMs: number, log: FastifyBaseLogger): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<CheckResult>((resolve) => { timer = setTimeout(resolve, timeoutMs, 'timeout') })
  const attempt = (async (): Promise<CheckResult> => (await check()) ? 'ok' : 'failed')()
    .catch((err: unknown): CheckResult => {
      log.warn({ err, check: name }, 'readiness check threw')
      return 'failed'
    })
  try {
    const result = await Promise.race([attempt, timeout])
    if (result === 'timeout') log.warn({ check: name, timeoutMs }, 'readiness check timed out')
    return result
  } finally {
    clearTimeout(timer)
  }
}

/**
 * `GET /health/live` (200 while the process serves) and `GET /health/ready` (200 only when every
 * check passes within the time limit, 503 otherwise and once `app.markNotReady()` was called;
 * from then on every response also carries `Connection: close`).
 */
export const healthPlugin = fp(async (app: FastifyInstance, opts: HealthPluginOptions) => {
  let shuttingDown = false
  const checks = Object.entries(opts.readiness)

  app.decorate('markNotReady', () => { shuttingDown = true })
  // Also when the app is closed some other way than installGracefulShutdown.
  app.addHook('preClose', async () => { shuttingDown = true })
  // Once shutting down, every answer (in-flight ones too) closes its connection: otherwise
  // keep-alive clients hold the server open past close() and keep sending to a leaving pod.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (shuttingDown) reply.header('connection', 'close')
    return payload
  })

  const routeOpts = { config: { auth: 'none', rateLimit: false }, schema: { hide: true } } as const

  app.get('/health/live', routeOpts, async (_request, reply) => {
    return reply.header('cache-control', 'no-store').send({ status: 'live' })
  })

  app.get('/health/ready', routeOpts, async (request, reply) => {
    reply.header('cache-control', 'no-store')
    if (shuttingDown) return reply.code(503).send({ status: 'shutting_down', checks: {} } satisfies ReadinessReport)
    const results = await Promise.all(checks.map(async ([name, check]) => [name, await runCheck(name, check, opts.timeoutMs, request.log)] as const))
    const failed = results.filter(([, r]) => r !== 'ok').map(([name]) => name)
    const report: ReadinessReport = failed.length === 0
      ? { status: 'ready', checks: Object.fromEntries(results) }
      : { status: 'not_ready', checks: Object.fromEntries(results), failed }
    return reply.code(failed.length === 0 ? 200 : 503).send(report)
  })
}, { name: '@coexist/http/health', fastify: '5.x' })
