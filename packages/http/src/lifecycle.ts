import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from '@coexist/logger'
import type { FastifyInstance } from 'fastify'

export interface ListenOptions {
  /** Default '0.0.0.0' (a container's interfaces). */
  host?: string
  port: number
}

/** Starts serving; resolves with the bound address (`http://0.0.0.0:8081`). */
export async function listen (app: FastifyInstance, opts: ListenOptions): Promise<string> {
  return await app.listen({ host: opts.host ?? '0.0.0.0', port: opts.port })
}

export interface GracefulShutdownOptions {
  logger: Logger
  /** Releases what the service opened (Kafka clients, db pool), after the HTTP server closed. */
  onShutdown?: () => Promise<void>
  /** Whole-shutdown limit; past it the process exits with 1. Default 25 s (under Kubernetes' 30 s grace). */
  timeoutMs?: number
  /**
   * Time between failing readiness and closing the server, so load balancers stop routing
   * here before connections are refused. Default 5 s.
   */
  drainMs?: number
  /** Default ['SIGTERM', 'SIGINT']. */
  signals?: NodeJS.Signals[]
  /** Default `process.exit`; tests pass a recorder. */
  exit?: (code: number) => void
}

export interface ShutdownHandle {
  /** Runs the shutdown (as a signal would); resolves with the exit code passed to `exit`. */
  shutdown: (reason: string) => Promise<number>
  /** Removes the signal listeners. */
  uninstall: () => void
}

/**
 * Graceful shutdown for a service's `main.ts`, and the only place that exits the process. On the
 * first signal: mark not ready, wait `drainMs`, close the app (Fastify finishes in-flight
 * requests), run `onShutdown`, exit 0. A failure, the time limit or a second signal exits 1.
 *
 * @example
 * installGracefulShutdown(app, { logger, onShutdown: async () => { await bus.close(); await db.destroy() } })
 */
export function installGracefulShutdown (app: FastifyInstance, opts: GracefulShutdownOptions): ShutdownHandle {
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT']
  const exit = opts.exit ?? ((code: number) => process.exit(code))
  const timeoutMs = opts.timeoutMs ?? 25_000
  const drainMs = opts.drainMs ?? 5_000
  const log = opts.logger
  let running: Promise<number> | undefined
  let exitCode: number | undefined

  /** Exits once; later calls return the code the process already exits with. */
  const finish = (code: number): number => {
    if (exitCode === undefined) { exitCode = code; exit(code) }
    return exitCode
  }

  const run = async (reason: string): Promise<number> => {
    log.info({ reason, drainMs, timeoutMs }, 'shutting down')
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<number>((resolve) => {
      timer = setTimeout(() => {
        log.error({ timeoutMs }, 'shutdown timed out; exiting')
        resolve(1)
      }, timeoutMs) // not unref'd: the deadline must fire even if nothing else keeps the loop alive
    })
    const work = (async (): Promise<number> => {
      app.markNotReady()
      if (drainMs > 0) await sleep(drainMs)
      await app.close()
      if (opts.onShutdown !== undefined) await opts.onShutdown()
      log.info('shutdown complete')
      return 0
    })().catch((err: unknown) => {
      log.error({ err }, 'shutdown failed')
      return 1
    })
    const code = await Promise.race([work, deadline])
    clearTimeout(timer)
    return finish(code)
  }

  const onSignal = (signal: NodeJS.Signals): void => {
    if (running !== undefined) {
      log.warn({ signal }, 'second signal during shutdown; exiting now')
      finish(1)
      return
    }
    running = run(signal)
  }

  for (const s of signals) process.on(s, onSignal)
  return {
    shutdown: (reason) => (running ??= run(reason)),
    uninstall: () => { for (const s of signals) process.off(s, onSignal) }
  }
}

export interface ServeOptions extends GracefulShutdownOptions, ListenOptions {}

/**
 * What a service's `run<Name>(config, opts)` takes besides its configuration: its logger, and
 * the shutdown settings tests change (no signal handlers, no drain, an exit recorder).
 */
export type ServiceRunOptions = Pick<GracefulShutdownOptions, 'logger' | 'exit' | 'signals' | 'drainMs'>

/** A service listening with graceful shutdown installed, as {@link serve} returns it. */
export interface RunningService<A extends FastifyInstance = FastifyInstance> {
  app: A
  /** `http://host:port` it answers on (127.0.0.1 when it listens on every interface). */
  url: string
  /** The bound port (the one the OS chose when `port` was 0). */
  port: number
  /** Graceful shutdown, as a signal runs it; resolves with the exit code passed to `exit`. */
  shutdown: (reason: string) => Promise<number>
  handle: ShutdownHandle
}

/**
 * The end of every service's start: installs graceful shutdown ({@link installGracefulShutdown})
 * and listens. If listening fails, the signal handlers are removed and the error thrown.
 */
export async function serve<A extends FastifyInstance> (app: A, opts: ServeOptions): Promise<RunningService<A>> {
  const handle = installGracefulShutdown(app, opts)
  try {
    await listen(app, opts)
  } catch (err) {
    handle.uninstall()
    throw err
  }
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : opts.port
  const host = opts.host === undefined || opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host
  return { app, url: `http://${host}:${port}`, port, shutdown: handle.shutdown, handle }
}
