import { STATUS_CODES } from 'node:http'
import { findCoexistError } from '@coexist/errors'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { z } from 'zod'
import { httpErrors, type HttpErrorCode } from './errors.ts'

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

/** One bad field of a request: `path` names where it is (`body.template.name`, `query.limit`). */
export const FieldErrorSchema = z.object({
  path: z.string(),
  message: z.string()
})

/**
 * An RFC 9457 problem document as Coexist answers it. `code` is the stable machine-readable
 * code; `title` is the HTTP reason phrase; `detail` a human message for this occurrence.
 * Routes may reference this schema in their `response` map so the OpenAPI document shows it.
 */
export const ProblemSchema = z.looseObject({
  type: z.string(),
  title: z.string(),
  status: z.number().int().min(400).max(599),
  code: z.string(),
  detail: z.string(),
  requestId: z.string().optional(),
  errors: z.array(FieldErrorSchema).optional()
})

export type FieldError = z.infer<typeof FieldErrorSchema>
export type Problem = z.infer<typeof ProblemSchema>

/** Fastify's own errors that clients cause, mapped to our stable codes. */
const FASTIFY_CODES: Readonly<Record<string, HttpErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'HTTP_PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'HTTP_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_JSON_BODY: 'HTTP_INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'HTTP_INVALID_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'HTTP_BAD_REQUEST',
  FST_ERR_BAD_URL: 'HTTP_BAD_REQUEST',
  FST_ERR_INVALID_URL: 'HTTP_BAD_REQUEST',
  FST_ERR_MAX_PARAM_LENGTH: 'HTTP_URI_TOO_LONG',
  FST_ERR_NOT_FOUND: 'HTTP_NOT_FOUND'
}

/** Fastify's `validationContext` → the first segment of a field path. */
const CONTEXT_NAMES: Readonly<Record<string, string>> = { querystring: 'query' }

const typeFor = (code: string): string => `urn:coexist:problem:${code}`

/** Builds a problem document (the `detail` record of a CoexistError becomes extension members). */
export function buildProblem (code: string, status: number, detail: string, extra: Record<string, unknown> = {}): Problem {
  // Standard members are written last so an extension member can never replace them.
  return { ...extra, type: typeFor(code), title: STATUS_CODES[status] ?? 'Error', status, code, detail }
}

/** Sends a problem document, bypassing the route's response serializer (whose schemas describe successes). */
export function sendProblem (reply: FastifyReply, problem: Problem): FastifyReply {
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify({ ...problem, requestId: reply.request.id }))
}

interface ValidationIssue { instancePath?: string, message?: string, params?: Record<string, unknown> }

/** `/template/name` in the body → `body.template.name`; the root of the body → `body`. */
function fieldPath (context: string | undefined, instancePath: string | undefined): string {
  const head = CONTEXT_NAMES[context ?? ''] ?? context ?? 'request'
  const segments = (instancePath ?? '').split('/').filter((s) => s !== '')
  return [head, ...segments].join('.')
}

function validationProblem (err: FastifyError): Problem {
  const issues = (err.validation ?? []) as ValidationIssue[]
  const errors: FieldError[] = issues.map((i) => ({ path: fieldPath(err.validationContext, i.instancePath), message: i.message ?? 'invalid' }))
  const spec = httpErrors.HTTP_VALIDATION.spec
  const where = errors.length === 1 ? `: ${errors[0]?.path ?? ''}` : ` (${errors.length} fields)`
  return buildProblem('HTTP_VALIDATION', spec.status ?? 400, `${spec.message}${where}`, { errors })
}

/**
 * Maps any error to a problem document and decides whether it is ours to log as a failure.
 * Internal details (messages of unknown errors, stacks) never reach the body.
 */
export function problemFromError (err: unknown): { problem: Problem, internal: boolean } {
  const fe = err as Partial<FastifyError> | null
  if (fe !== null && typeof fe === 'object' && Array.isArray(fe.validation)) {
    return { problem: validationProblem(fe as FastifyError), internal: false }
  }
  const coded = findCoexistError(err)
  if (coded !== undefined) {
    return { problem: buildProblem(coded.code, coded.status, coded.message, coded.detail), internal: coded.status >= 500 }
  }
  const code = typeof fe?.code === 'string' ? FASTIFY_CODES[fe.code] : undefined
  if (code !== undefined) {
    const spec = httpErrors[code].spec
    return { problem: buildProblem(code, spec.status ?? 400, spec.message), internal: false }
  }
  // Other client errors raised by plugins or handlers (`statusCode` 4xx): their message is meant
  // for the caller; keep the status, use the generic code.
  const status = typeof fe?.statusCode === 'number' ? fe.statusCode : 500
  if (status >= 400 && status < 500) {
    return { problem: buildProblem('HTTP_BAD_REQUEST', status, typeof fe?.message === 'string' && fe.message !== '' ? fe.message : httpErrors.HTTP_BAD_REQUEST.spec.message), internal: false }
  }
  return { problem: buildProblem('HTTP_INTERNAL', 500, httpErrors.HTTP_INTERNAL.spec.message), internal: true }
}

/** Installs the one error handler and the not-found handler, both answering problem+json. */
export const problemPlugin = fp(async (app: FastifyInstance) => {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const { problem, internal } = problemFromError(err)
    if (internal) request.log.error({ err }, 'request failed')
    else request.log.info({ code: problem.code, status: problem.status }, 'request rejected')
    return sendProblem(reply, problem)
  })
  app.setNotFoundHandler((_request, reply) => {
    const spec = httpErrors.HTTP_NOT_FOUND.spec
    return sendProblem(reply, buildProblem('HTTP_NOT_FOUND', spec.status ?? 404, spec.message))
  })
}, { name: '@coexist/http/problem', fastify: '5.x' })
