/**
 * `node services/outbound-sender/src/main.ts`: the outbound-sender service process, port 8082 by default. The
 * only module that reads process.env or exits; `run.ts` does the wiring (the environment is the
 * architecture's table and the service's own variables, see the READMEs).
 */
import { ConfigError } from '@coexist/config'
import { createLogger } from '@coexist/logger'
import { loadOutboundConfig, runOutbound, type OutboundConfig } from './run.ts'

let config: OutboundConfig
try {
  config = loadOutboundConfig(process.env)
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  process.stderr.write(`outbound-sender: ${err.message}\n`)
  process.exit(1)
}

const logger = createLogger({ level: config.log.level, name: 'outbound-sender' })
try {
  await runOutbound(config, { logger })
} catch (err) {
  logger.fatal({ err }, 'outbound-sender could not start')
  process.exit(1)
}
