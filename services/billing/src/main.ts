/**
 * `node services/billing/src/main.ts`: the billing service process, port 8083 by default. The
 * only module that reads process.env or exits; `run.ts` does the wiring (the environment is the
 * architecture's table and the service's own variables, see the READMEs).
 */
import { ConfigError } from '@coexist/config'
import { createLogger } from '@coexist/logger'
import { loadBillingConfig, runBilling, type BillingConfig } from './run.ts'

let config: BillingConfig
try {
  config = loadBillingConfig(process.env)
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  process.stderr.write(`billing: ${err.message}\n`)
  process.exit(1)
}

const logger = createLogger({ level: config.log.level, name: 'billing' })
try {
  await runBilling(config, { logger })
} catch (err) {
  logger.fatal({ err }, 'billing could not start')
  process.exit(1)
}
