/**
 * Configuration from the environment, parsed once at a service's root (`main.ts`) with zod and
 * frozen. Each section is a zod schema over the environment variables it reads; a service picks
 * the sections it needs, and a bad or missing value stops the start with one line naming it.
 *
 * @example
 * const config = loadConfig(process.env, { http: httpSection(8080), kafka: kafkaSection, log: logSection })
 * config.kafka.brokers // ['127.0.0.1:9092']
 */
import { z } from 'zod'

/** Thrown by {@link loadConfig}; `message` is one line naming each bad variable. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID'
  readonly issues: readonly { variable: string, message: string }[]
  constructor (issues: { variable: string, message: string }[]) {
    super('invalid configuration: ' + issues.map((i) => `${i.variable}: ${i.message}`).join('; '))
    this.name = 'ConfigError'
    this.issues = issues
  }
}

const hostPort = /^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/

const csv = (s: string): string[] => s.split(',').map((p) => p.trim()).filter((p) => p.length > 0)

/** `host:port,host:port` → string[] */
export const brokerList = z.string({ error: 'is required' }).transform((s, ctx) => {
  const list = csv(s)
  if (list.length === 0) ctx.addIssue({ code: 'custom', message: 'needs at least one host:port' })
  for (const b of list) if (!hostPort.test(b)) ctx.addIssue({ code: 'custom', message: `"${b}" is not host:port` })
  return list
})

/**
 * `appId:secret,appId:secret2` → Map(appId → [secret, secret2]). Several secrets per app id are
 * allowed so a secret can be rotated without dropping webhooks signed with the old one.
 */
export const appSecrets = z.string({ error: 'is required' }).transform((s, ctx) => {
  const map = new Map<string, string[]>()
  for (const pair of csv(s)) {
    const i = pair.indexOf(':')
    const appId = i > 0 ? pair.slice(0, i) : ''
    const secret = i > 0 ? pair.slice(i + 1) : ''
    if (!/^\d+$/.test(appId) || secret.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'expected appId:secret pairs (numeric app id, non-empty secret)' })
      return z.NEVER
    }
    map.set(appId, [...(map.get(appId) ?? []), secret])
  }
  if (map.size === 0) ctx.addIssue({ code: 'custom', message: 'needs at least one appId:secret pair' })
  return map as ReadonlyMap<string, readonly string[]>
})

/** base64 of exactly 32 bytes → Buffer (AES-256 key). */
export const key32 = z.string({ error: 'is required' }).transform((s, ctx) => {
  const buf = Buffer.from(s, 'base64')
  if (buf.length !== 32 || buf.toString('base64').replace(/=+$/, '') !== s.trim().replace(/=+$/, '')) {
    ctx.addIssue({ code: 'custom', message: 'must be 32 bytes, base64-encoded (openssl rand -base64 32)' })
    return z.NEVER
  }
  return buf
})

const port = z.coerce.number({ error: 'must be a port number' }).int().min(1).max(65535)
const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/** `PORT` with a service's default, `HOST` (default 0.0.0.0). */
export const httpSection = (defaultPort: number) => z.object({
  PORT: port.default(defaultPort),
  HOST: z.string().min(1).default('0.0.0.0')
}).transform((e) => ({ port: e.PORT, host: e.HOST }))

export const logSection = z.object({
  LOG_LEVEL: z.enum(logLevels).default('info')
}).transform((e) => ({ level: e.LOG_LEVEL }))

export const databaseSection = z.object({
  DATABASE_URL: z.string({ error: 'is required' }).regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
  /** Connections in the service's Postgres pool (default 20). */
  DATABASE_POOL_MAX: z.coerce.number({ error: 'must be a number' }).int('must be a whole number').min(1, 'must be at least 1').max(1000, 'must be at most 1000').default(20)
}).transform((e) => ({ url: e.DATABASE_URL, poolMax: e.DATABASE_POOL_MAX }))

export const kafkaSection = z.object({
  KAFKA_BROKERS: brokerList,
  KAFKA_TOPIC_PREFIX: z.string().regex(/^[A-Za-z0-9._-]*$/, 'only letters, digits, . _ -').default('wa.'),
  KAFKA_CLIENT_ID: z.string().min(1).optional()
}).transform((e) => ({ brokers: e.KAFKA_BROKERS, topicPrefix: e.KAFKA_TOPIC_PREFIX, clientId: e.KAFKA_CLIENT_ID }))

export const metaWebhookSection = z.object({
  META_APP_SECRETS: appSecrets,
  META_VERIFY_TOKEN: z.string({ error: 'is required' }).min(1, 'must not be empty')
}).transform((e) => ({ appSecrets: e.META_APP_SECRETS, verifyToken: e.META_VERIFY_TOKEN }))

export const metaGraphSection = z.object({
  META_GRAPH_URL: z.url({ error: 'must be a URL' }).default('https://graph.facebook.com'),
  META_GRAPH_VERSION: z.string().regex(/^v\d+\.\d+$/, 'must look like v24.0').default('v24.0')
}).transform((e) => ({ graphUrl: e.META_GRAPH_URL.replace(/\/+$/, ''), graphVersion: e.META_GRAPH_VERSION }))

/**
 * The current token key, and optionally previous ones (comma-separated base64) that can still
 * decrypt tokens written before a rotation until they are re-encrypted.
 */
export const cryptoSection = z.object({
  COEXIST_ENCRYPTION_KEY: key32,
  COEXIST_ENCRYPTION_KEYS_PREVIOUS: z.string().optional().transform((s, ctx) => {
    const keys: Buffer[] = []
    for (const part of csv(s ?? '')) {
      const r = key32.safeParse(part)
      if (!r.success) { ctx.addIssue({ code: 'custom', message: 'each key must be 32 bytes, base64-encoded' }); return z.NEVER }
      keys.push(r.data)
    }
    return keys
  })
}).transform((e) => ({ encryptionKey: e.COEXIST_ENCRYPTION_KEY, previousEncryptionKeys: e.COEXIST_ENCRYPTION_KEYS_PREVIOUS as readonly Buffer[] }))

export const adminSection = z.object({
  COEXIST_ADMIN_KEY: z.string({ error: 'is required' }).min(16, 'must be at least 16 characters')
}).transform((e) => ({ adminKey: e.COEXIST_ADMIN_KEY }))

/**
 * The sections every service with a database shares (sync, outbound-sender, billing): log,
 * Postgres, Kafka, the Graph API, token encryption and the admin key. A service adds its HTTP
 * section (its default port) and its own.
 */
export const dataServiceSections = {
  log: logSection,
  db: databaseSection,
  kafka: kafkaSection,
  meta: metaGraphSection,
  crypto: cryptoSection,
  admin: adminSection
}

type Sections = Record<string, z.ZodType>
export type ConfigOf<S extends Sections> = { readonly [K in keyof S]: Readonly<z.output<S[K]>> }

function deepFreeze<T> (value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value) && !Buffer.isBuffer(value) && !(value instanceof Map)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}

/**
 * Parses the given sections from `env`. Empty strings count as unset, so `FOO=` falls back to
 * the default. Throws a {@link ConfigError} naming every bad variable at once.
 */
export function loadConfig<S extends Sections> (env: Record<string, string | undefined>, sections: S): ConfigOf<S> {
  const clean: Record<string, string> = {}
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') clean[k] = v
  const out: Record<string, unknown> = {}
  const issues: { variable: string, message: string }[] = []
  for (const [name, schema] of Object.entries(sections)) {
    const r = schema.safeParse(clean)
    if (r.success) out[name] = r.data
    else for (const i of r.error.issues) issues.push({ variable: String(i.path[0] ?? name), message: i.message })
  }
  if (issues.length > 0) throw new ConfigError(issues)
  return deepFreeze(out) as ConfigOf<S>
}
