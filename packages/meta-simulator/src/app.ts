/**
 * The simulator's Fastify app: Graph API routes at the root (`/{version}/...`), media downloads
 * under `/_media`, and the control API under `/_sim`. Built apart from listening so tests can
 * `inject()` into it.
 */
import Fastify, { LogController, type FastifyInstance } from 'fastify'
import type { Logger } from '@coexist/logger'
import { controlRoutes } from './routes/control-routes.ts'
import { graphRoutes } from './routes/graph-routes.ts'
import type { Simulator } from './simulator.ts'

export interface BuildAppDeps {
  sim: Simulator
  logger?: Logger
}

/** Builds the simulator's HTTP app around a {@link Simulator}. */
export function buildApp (deps: BuildAppDeps): FastifyInstance {
  const app = Fastify({
    ...(deps.logger !== undefined ? { loggerInstance: deps.logger } : { logger: false }),
    logController: new LogController({ disableRequestLogging: true }),
    // Media uploads go up to 100 MB at Meta.
    bodyLimit: 110 * 1024 * 1024,
    forceCloseConnections: true
  }) as unknown as FastifyInstance
  void app.register(controlRoutes, { prefix: '/_sim', sim: deps.sim })
  void app.register(graphRoutes, { sim: deps.sim })
  return app
}
