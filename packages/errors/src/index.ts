/**
 * Coded errors. Each package declares one catalog of stable, prefixed codes (`ING_`, `SYNC_`,
 * `OUT_`, `BILL_`, `META_`, `BUS_`, `HTTP_`, `DB_`) with behaviour as data; callers decide by
 * `code` (walking `cause`), never by message text.
 *
 * @example
 * export const OutErrors = defineErrors('OUT_', {
 *   OUT_NUMBER_NOT_FOUND: { status: 404, message: 'phone number not found' },
 *   OUT_WINDOW_CLOSED: { status: 422, message: 'customer service window is closed; send a template' }
 * })
 * throw OutErrors.OUT_NUMBER_NOT_FOUND.create({ detail: { phoneNumberId } })
 * if (hasCode(err, 'OUT_NUMBER_NOT_FOUND')) …
 */

export interface ErrorSpec {
  /** Human message; stable wording but never matched on. */
  message: string
  /** HTTP status when this error reaches an API caller. */
  status?: number
  /** Whether trying the same thing again later can succeed. */
  retryable?: boolean
  /** Suggested wait before a retry, in milliseconds. */
  backoffMs?: number
}

export interface CreateOptions {
  /** Replaces the catalog message (keep it human; it is shown to API callers). */
  message?: string
  cause?: unknown
  /** Structured, non-secret detail for logs and problem+json bodies. */
  detail?: Record<string, unknown>
}

/** An error with a stable code and behaviour as data. */
export class CoexistError extends Error {
  readonly code: string
  readonly status: number
  readonly retryable: boolean
  readonly backoffMs: number | undefined
  readonly detail: Record<string, unknown> | undefined

  constructor (code: string, spec: ErrorSpec, opts: CreateOptions = {}) {
    super(opts.message ?? spec.message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = 'CoexistError'
    this.code = code
    this.status = spec.status ?? 500
    this.retryable = spec.retryable ?? false
    this.backoffMs = spec.backoffMs
    this.detail = opts.detail
  }
}

export interface ErrorFactory<C extends string> {
  readonly code: C
  readonly spec: Readonly<ErrorSpec>
  create: (opts?: CreateOptions) => CoexistError & { code: C }
  /** True when `err` (or any error in its cause chain) has this code. */
  is: (err: unknown) => boolean
}

export type ErrorCatalog<S extends Record<string, ErrorSpec>> = { readonly [K in keyof S & string]: ErrorFactory<K> }

/**
 * Declares a package's error catalog. Throws at definition time if a code lacks the prefix, so
 * a mistake shows in the first test that imports the package.
 */
export function defineErrors<const S extends Record<string, ErrorSpec>> (prefix: string, specs: S): ErrorCatalog<S> {
  const out: Record<string, ErrorFactory<string>> = {}
  for (const [code, spec] of Object.entries(specs)) {
    if (!code.startsWith(prefix) || !/^[A-Z][A-Z0-9_]+$/.test(code)) throw new Error(`error code ${code} must be SCREAMING_SNAKE with prefix ${prefix}`)
    const frozen = Object.freeze({ ...spec })
    out[code] = Object.freeze({
      code,
      spec: frozen,
      create: (opts?: CreateOptions) => new CoexistError(code, frozen, opts) as CoexistError & { code: string },
      is: (err: unknown) => hasCode(err, code)
    })
  }
  return Object.freeze(out) as unknown as ErrorCatalog<S>
}

/** Walks `err` and its `cause` chain; returns the first error with a string `code`, if any. */
export function findCode (err: unknown, depth = 0): string | undefined {
  if (err === null || typeof err !== 'object' || depth > 16) return undefined
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string') return code
  return findCode((err as { cause?: unknown }).cause, depth + 1)
}

/** True when `err` or an error in its cause chain carries `code`. */
export function hasCode (err: unknown, code: string, depth = 0): boolean {
  if (err === null || typeof err !== 'object' || depth > 16) return false
  if ((err as { code?: unknown }).code === code) return true
  return hasCode((err as { cause?: unknown }).cause, code, depth + 1)
}

/** The first CoexistError in the cause chain, if any. */
export function findCoexistError (err: unknown, depth = 0): CoexistError | undefined {
  if (err instanceof CoexistError) return err
  if (err === null || typeof err !== 'object' || depth > 16) return undefined
  return findCoexistError((err as { cause?: unknown }).cause, depth + 1)
}
