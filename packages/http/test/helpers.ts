import { createLogger, type Logger } from '@coexist/logger'
import type { Test } from 'tap'
import { createHttpApp, type CreateHttpAppOptions, type HttpApp, type ResolvedApiKey } from '../src/index.ts'

export const ADMIN_KEY = 'bootstrap-admin-key-0123456789abcdef'
export const TENANT_A_KEY = 'ck_tenant_a_9f8e7d6c5b4a39281706'
export const TENANT_B_KEY = 'ck_tenant_b_1a2b3c4d5e6f70819203'
export const OPS_ADMIN_KEY = 'ck_ops_admin_55aa55aa55aa55aa55aa'

/** A key table as a service would hold it (there: hashed, in Postgres). */
const KEYS: Readonly<Record<string, ResolvedApiKey>> = {
  [TENANT_A_KEY]: { keyId: 'key_a', tenantId: 'tenant_a', roles: ['messages:send'] },
  [TENANT_B_KEY]: { keyId: 'key_b', tenantId: 'tenant_b', roles: [] },
  [OPS_ADMIN_KEY]: { keyId: 'key_ops', tenantId: null, roles: ['admin'] }
}

export const resolveApiKey = async (plain: string): Promise<ResolvedApiKey | null> => KEYS[plain] ?? null

/** Log lines captured from a real pino logger (parsed JSON objects and the raw text). */
export interface LogCapture { logger: Logger, lines: () => Record<string, unknown>[], text: () => string }

export function captureLogs (level = 'debug'): LogCapture {
  const raw: string[] = []
  const logger = createLogger({ level, name: 'http-test' }, { write: (s: string) => { raw.push(s) } })
  return { logger, lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>), text: () => raw.join('') }
}

/** createHttpApp with test defaults; closed at teardown. */
export async function buildTestApp (t: Test, overrides: Partial<CreateHttpAppOptions> = {}): Promise<HttpApp> {
  const app = await createHttpApp({
    logger: createLogger({ level: 'silent' }),
    service: 'http-test',
    readiness: {},
    auth: { adminKey: ADMIN_KEY, resolveApiKey },
    ...overrides
  })
  t.teardown(() => app.close())
  return app
}

export const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` })
