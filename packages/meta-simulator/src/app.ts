/**
 * The simulator's Fastify app: Graph API routes at the root (`/{version}/...`), media downloads
 * under `/_media`, and the control API under `/_sim`. Built apart from listening so tests can
 * `inject()` into it.
 */
import Fastify, { LogController, type FastifyInstance } from 'fastify'
import type { Logger } from '@coexist/logger'
import { graphError } from './graph/graph-error.ts'
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
    // Fastify gives each request a child logger; ours runs its bindings through the redaction
    // formatters, a cost on every send of a benchmark. With request logging off, a silent
    // logger's child could never write a line: the logger itself serves (as Fastify does with
    // no logger at all).
    childLoggerFactory: (logger, bindings, opts) => logger.level === 'silent' ? logger : logger.child(bindings, opts),
    // Media uploads go up to 100 MB at Meta.
    bodyLimit: 110 * 1024 * 1024,
    forceCloseConnections: true
  }) as unknown as FastifyInstance
  void app.register(controlRoutes, { prefix: '/_sim', sim: deps.sim })
  void app.register(graphRoutes, { sim: deps.sim })
  // Unknown Graph paths answer like Graph does (code 100, "Unknown path components"); unknown
  // control paths answer problem+json.
  app.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split('?')[0] ?? ''
    if (path.startsWith('/_sim')) {
      return await reply.code(404).type('application/problem+json').send({ type: 'about:blank', title: 'SIM_NOT_FOUND', status: 404, code: 'SIM_NOT_FOUND', detail: `no control route ${request.method} ${path}` })
    }
    const e = graphError(100, { message: `Unknown path components: ${path}` })
    return await reply.code(e.status).send(e.body)
  })
  return app
}
