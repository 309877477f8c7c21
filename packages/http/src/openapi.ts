import fastifySwagger from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { PROBLEM_CONTENT_TYPE, ProblemSchema } from './problem.ts'

export const OPENAPI_PATH = '/v1/openapi.json'

/** Security schemes of the document: either header carries the same API key. */
const SECURITY_SCHEMES = {
  bearerAuth: { type: 'http', scheme: 'bearer', description: 'API key as a bearer token: `Authorization: Bearer <key>`' },
  apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'API key in the `X-API-Key` header' }
} as const
const ROUTE_SECURITY: ReadonlyArray<Record<string, readonly string[]>> = [{ bearerAuth: [] }, { apiKeyHeader: [] }]

export interface OpenApiPluginOptions {
  title: string
  description: string | undefined
  version: string
}

/**
 * @fastify/swagger over the routes' zod schemas (fastify-type-provider-zod's transforms), served
 * at `GET /v1/openapi.json`. Routes that need a key get the security requirement; routes with
 * `schema.hide` (health, metrics, this document) are left out. Routes that document their
 * responses also get a `default` response: the problem+json body every error has.
 */
export const openApiPlugin = fp(async (app: FastifyInstance, opts: OpenApiPluginOptions) => {
  const problemResponse = {
    description: 'Error: an RFC 9457 problem document; decide by `code`',
    content: { [PROBLEM_CONTENT_TYPE]: { schema: z.toJSONSchema(ProblemSchema, { target: 'draft-2020-12', io: 'output' }) } }
  }
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: opts.title, version: opts.version, ...(opts.description !== undefined ? { description: opts.description } : {}) },
      components: { securitySchemes: SECURITY_SCHEMES }
    },
    transform: (doc) => {
      const out = jsonSchemaTransform(doc)
      const schema = { ...out.schema } as Record<string, unknown>
      if (schema.hide === true) return out
      const mode = doc.route.config?.auth ?? 'none'
      if (mode !== 'none' && schema.security === undefined) schema.security = ROUTE_SECURITY
      const response = schema.response as Record<string, unknown> | undefined
      if (response !== undefined && response.default === undefined) schema.response = { ...response, default: problemResponse }
      return { url: out.url, schema }
    },
    transformObject: jsonSchemaTransformObject
  })

  app.get(OPENAPI_PATH, { config: { auth: 'none' }, schema: { hide: true } }, async () => app.swagger())
}, { name: '@coexist/http/openapi', fastify: '5.x' })
