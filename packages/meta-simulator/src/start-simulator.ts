/** Starts the simulator in-process (tests, benchmarks) or from `main.ts`. */
import type { FastifyInstance } from 'fastify'
import { buildApp } from './app.ts'
import { Simulator, type SimulatorControl, type SimulatorOptions } from './simulator.ts'

export interface StartSimulatorOptions extends SimulatorOptions {
  /** Default 8090; 0 picks a free port. */
  port?: number
  /** Default 127.0.0.1. */
  host?: string
}

export interface RunningSimulator {
  /** Base URL of the server, e.g. `http://127.0.0.1:40123` (control API at `${url}/_sim`). */
  url: string
  /** Base URL for the Graph client (`META_GRAPH_URL`); the version goes after it. */
  graphUrl: string
  /** Graph version the simulator advertises (`META_GRAPH_VERSION`); any `vN.M` is accepted. */
  graphVersion: string
  /** In-process equivalent of the HTTP control API. */
  control: SimulatorControl
  /** The core, for what the control surface does not cover (e.g. the emitter). */
  sim: Simulator
  app: FastifyInstance
  close: () => Promise<void>
}

/**
 * Starts a simulator and listens.
 *
 * @example
 * const sim = await startSimulator({ port: 0, clock: createManualClock() })
 * t.teardown(sim.close)
 * sim.control.configureNumber({ phoneNumberId: '620000000000001', wabaId: '310000000000001', displayPhoneNumber: '5511999990000' })
 * // Graph client: { baseUrl: sim.graphUrl, version: sim.graphVersion }, token 'sim-token-620000000000001'
 */
export async function startSimulator (opts: StartSimulatorOptions = {}): Promise<RunningSimulator> {
  const sim = new Simulator(opts)
  const app = buildApp({ sim, ...(opts.logger !== undefined ? { logger: opts.logger } : {}) })
  const host = opts.host ?? '127.0.0.1'
  await app.listen({ port: opts.port ?? 8090, host })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : opts.port ?? 8090
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host
  const url = opts.baseUrl ?? `http://${shownHost}:${port}`
  sim.baseUrl = url
  let closing: Promise<void> | undefined
  return {
    url,
    graphUrl: url,
    graphVersion: sim.graphVersion,
    control: sim,
    sim,
    app,
    close: async () => {
      closing ??= (async () => {
        await sim.close()
        await app.close()
      })()
      await closing
    }
  }
}
