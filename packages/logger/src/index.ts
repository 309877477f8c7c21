/**
 * The root pino logger. Secrets are redacted wherever they appear in a log object, at any depth:
 * keys that name access tokens, app secrets, API keys, passwords or the Authorization header, and
 * any string that carries a bearer token. Services create one root logger in `main.ts` and pass
 * `child()` loggers down.
 *
 * @example
 * const log = createLogger({ level: 'info', name: 'ingress' })
 * log.child({ phoneNumberId }).info({ accessToken: 'EAAG…' }, 'x') // accessToken: "[REDACTED]"
 */
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino'

export type { Logger } from 'pino'

export const REDACTED = '[REDACTED]'

/** Key names whose values are never logged (compared without case, `-` and `_`). */
const SECRET_KEY = /(token|secret|authorization|apikey|password|passwd|cookie|encryptionkey|adminkey|xhubsignature|signature256)/i
const BEARER = /\b(Bearer|OAuth)\s+[A-Za-z0-9._~+/=-]{8,}/g
/** Meta access tokens start with EAA…; they are long and must never reach a log line. */
const META_TOKEN = /\bEAA[A-Za-z0-9]{20,}/g

const BINDING_KEYS = ['accessToken', 'access_token', 'token', 'appSecret', 'app_secret', 'secret', 'apiKey', 'api_key',
  'authorization', 'Authorization', 'password', 'encryptionKey', 'adminKey', 'headers', 'config', 'number', 'body']

const normaliseKey = (k: string): string => k.replace(/[-_\s]/g, '')

/** Returns a copy of `value` with secrets replaced; leaves the input untouched. */
export function redactSecrets (value: unknown, depth = 0, seen = new WeakSet<object>()): any {
  if (typeof value === 'string') return value.replace(BEARER, `$1 ${REDACTED}`).replace(META_TOKEN, REDACTED)
  if (value === null || typeof value !== 'object' || depth > 12) return value
  if (seen.has(value)) return '[Circular]'
  seen.add(value)
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1, seen))
  if (value instanceof Error) return value
  if (Buffer.isBuffer(value)) return `[Buffer ${value.length}]`
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY.test(normaliseKey(k)) && v !== undefined && v !== null && v !== '' ? REDACTED : redactSecrets(v, depth + 1, seen)
  }
  return out
}

export interface CreateLoggerOptions {
  level?: LoggerOptions['level']
  name?: string
  /** Extra bindings on every line (service, version…). */
  base?: Record<string, unknown>
}

/** Creates the root logger; pass a destination stream to capture lines (tests read it). */
export function createLogger (opts: CreateLoggerOptions = {}, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? 'info',
    base: { ...(opts.name !== undefined ? { service: opts.name } : {}), ...opts.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      // Runs on every object passed to a log call and on child bindings, at any depth.
      log: (obj) => redactSecrets(obj) as Record<string, unknown>,
      bindings: (b) => redactSecrets(b) as Record<string, unknown>
    },
    hooks: {
      // Message strings can carry secrets too (e.g. an error message quoting a header).
      logMethod (args, method) {
        for (let i = 0; i < args.length; i++) if (typeof args[i] === 'string') args[i] = redactSecrets(args[i]) as never
        method.apply(this, args)
      }
    },
    serializers: {
      // Child bindings skip `formatters.log` but do pass through serializers, so keys that
      // commonly carry secrets or nest them are covered there too.
      ...Object.fromEntries(BINDING_KEYS.map((k) => [k, (v: unknown) => redactSecrets({ [k]: v })[k as never]])),
      err: (e: unknown) => redactSecrets(pino.stdSerializers.err(e as Error)) as never
    }
  }
  return destination !== undefined ? pino(options, destination) : pino(options)
}
