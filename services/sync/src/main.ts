/**
 * `node services/sync/src/main.ts`: the sync service process, port 8081 by default. The only
 * module that reads process.env or exits; `run.ts` does the wiring (the environment is the
 * architecture's table, see the README).
 */
import { ConfigError } from '@coexist/config'
import { createLogger } from '@coexist/logger'
import { loadSyncConfig, runSync, type SyncConfig } from './run.ts'

let config: SyncConfig
try {
  config = loadSyncConfig(process.env)
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  process.stderr.write(`sync: ${err.message}\n`)
  process.exit(1)
}

const logger = createLogger({ level: config.log.level, name: 'sync' })
try {
  await runSync(config, { logger })
} catch (err) {
  logger.fatal({ err }, 'sync could not start')
  process.exit(1)
}
