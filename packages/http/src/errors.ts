import { defineErrors } from '@coexist/errors'

/**
 * The HTTP layer's error catalog. Every problem+json answer the bootstrap produces carries one of
 * these codes; clients decide by `code`, never by `title` or `detail`.
 */
export const httpErrors = defineErrors('HTTP_', {
  HTTP_VALIDATION: { status: 400, message: 'the request does not match the schema' },
  HTTP_INVALID_JSON: { status: 400, message: 'the request body is not valid JSON' },
  HTTP_BAD_REQUEST: { status: 400, message: 'the request is malformed' },
  HTTP_TENANT_REQUIRED: { status: 400, message: 'an admin key must name the tenant: pass tenant_id' },
  HTTP_UNAUTHENTICATED: { status: 401, message: 'a valid API key is required (Authorization: Bearer <key> or X-API-Key)' },
  HTTP_FORBIDDEN: { status: 403, message: 'this API key may not do this' },
  HTTP_NOT_FOUND: { status: 404, message: 'no such route' },
  HTTP_PAYLOAD_TOO_LARGE: { status: 413, message: 'the request body is too large' },
  HTTP_URI_TOO_LONG: { status: 414, message: 'a path parameter is too long' },
  HTTP_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'unsupported content type' },
  HTTP_RATE_LIMITED: { status: 429, message: 'too many requests; retry later', retryable: true },
  HTTP_INTERNAL: { status: 500, message: 'internal error' }
})

export type HttpErrorCode = keyof typeof httpErrors
