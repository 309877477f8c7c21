/**
 * The control API under `/_sim/` (JSON): numbers, recorded sends, faults, webhook target,
 * customer service windows, reset, and emitting webhooks. Bodies are validated with zod; a bad
 * body answers `application/problem+json` with the path of each bad field.
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { z } from 'zod'
import { EmitSchema, NumberConfigSchema, type NumberConfigInput } from '../control/control-schemas.ts'
import type { Simulator } from '../simulator.ts'
import type { WebhookBody } from '../webhooks/webhook-emitter.ts'
import { runScenario, ScenarioSchema, type ScenarioHandle } from '../scenarios/run-scenario.ts'

export interface ControlRoutesOptions { sim: Simulator }

const SendsQuery = z.object({
  phone_number_id: z.string().optional(),
  phoneNumberId: z.string().optional(),
  since: z.coerce.number().int().min(0).optional(),
  bodies: z.enum(['true', 'false']).optional()
})

const WebhooksQuery = z.object({ limit: z.coerce.number().int().min(1).max(100_000).default(100) })

function problem (reply: FastifyReply, status: number, code: string, detail: string, issues?: Array<{ path: string, message: string }>): FastifyReply {
  return reply.code(status).type('application/problem+json').send({
    type: 'about:blank', title: code, status, code, detail, ...(issues !== undefined ? { issues } : {})
  })
}

/** Registers `/_sim/...` (mount with prefix `/_sim`). */
export const controlRoutes: FastifyPluginAsync<ControlRoutesOptions> = async (app, { sim }) => {
  let scenario: ScenarioHandle | undefined

  app.setErrorHandler(async (err, _request, reply) => {
    if (err instanceof z.ZodError) {
      return problem(reply, 400, 'SIM_INVALID_BODY', 'request body is not valid',
        err.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })))
    }
    const e = err as { code?: unknown, statusCode?: number, message?: string }
    const message = e.message ?? String(err)
    if (e.code === 'SIM_UNKNOWN_NUMBER') return problem(reply, 404, e.code, message)
    // Fastify's own errors (bad JSON, body too large) carry their status; anything else is ours.
    return problem(reply, e.statusCode ?? 500, typeof e.code === 'string' ? e.code : 'SIM_INTERNAL', message)
  })

  app.get('/health', async () => ({ ok: true, numbers: sim.listNumbers().length }))

  app.post('/numbers', async (request, reply) => {
    const input = request.body
    if (Array.isArray(input)) {
      const parsed = z.array(NumberConfigSchema).parse(input)
      return await reply.code(201).send({ data: parsed.map((n) => sim.configureNumber(n as NumberConfigInput)) })
    }
    return await reply.code(201).send(sim.configureNumber(NumberConfigSchema.parse(input) as NumberConfigInput))
  })

  app.get('/numbers', async () => ({ data: sim.listNumbers() }))

  app.get<{ Params: { id: string } }>('/numbers/:id', async (request, reply) => {
    const n = sim.getNumber(request.params.id)
    return n === undefined ? problem(reply, 404, 'SIM_UNKNOWN_NUMBER', `unknown phone number ${request.params.id}`) : n
  })

  app.delete<{ Params: { id: string } }>('/numbers/:id', async (request, reply) =>
    sim.removeNumber(request.params.id) ? await reply.code(204).send() : problem(reply, 404, 'SIM_UNKNOWN_NUMBER', `unknown phone number ${request.params.id}`))

  app.get('/sends', async (request) => {
    const q = SendsQuery.parse(request.query)
    const phoneNumberId = q.phone_number_id ?? q.phoneNumberId
    return sim.sends({
      ...(phoneNumberId !== undefined ? { phoneNumberId } : {}),
      ...(q.since !== undefined ? { since: q.since } : {}),
      withoutBodies: q.bodies === 'false'
    })
  })

  app.post('/faults', async (request) => sim.setFaults(request.body as never))

  app.post('/webhook-target', async (request) => {
    sim.setWebhookTarget(request.body as never)
    return { ok: true }
  })

  app.delete('/webhook-target', async () => {
    sim.setWebhookTarget(null)
    return { ok: true }
  })

  app.post('/windows', async (request) => {
    sim.openWindow(request.body as never)
    return { ok: true }
  })

  app.post('/reset', async (request) => {
    await scenario?.stop()
    scenario = undefined
    sim.reset((request.body ?? {}) as never)
    return { ok: true }
  })

  app.post('/emit', async (request) => {
    const e = EmitSchema.parse(request.body)
    const bodies: WebhookBody[] = e.raw !== undefined ? [e.raw] : e.body !== undefined ? [e.body] : sim.generate(e.generate as never)
    const results = await Promise.all(bodies.map((b) => sim.emit(b, e.options)))
    return { results, bodies: e.raw === undefined ? bodies : undefined }
  })

  app.get('/webhooks', async (request) => {
    const { limit } = WebhooksQuery.parse(request.query)
    const all = sim.deliveries()
    return { stats: sim.stats(), deliveries: all.slice(Math.max(0, all.length - limit)) }
  })

  app.get('/syncs', async () => ({ data: sim.syncRequests() }))

  app.get('/subscriptions', async () => ({ data: sim.subscriptions() }))

  app.post('/scenario', async (request, reply) => {
    const s = ScenarioSchema.parse(request.body ?? {})
    await scenario?.stop()
    scenario = runScenario(sim, s)
    return await reply.code(202).send({ ok: true, numbers: scenario.numbers })
  })

  app.delete('/scenario', async () => {
    const stats = await scenario?.stop()
    scenario = undefined
    return { ok: true, stats: stats ?? null }
  })

  app.addHook('onClose', async () => { await scenario?.stop() })
}
