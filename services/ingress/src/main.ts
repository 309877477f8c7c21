/**
 * `node services/ingress/src/main.ts`: the only module that reads process.env. Environment:
 * PORT (8080), HOST, KAFKA_BROKERS, KAFKA_TOPIC_PREFIX, META_APP_SECRETS, META_VERIFY_TOKEN,
 * LOG_LEVEL, and INGRESS_BODY_LIMIT_BYTES, INGRESS_PUBLISH_TIMEOUT_MS, INGRESS_DRAIN_MS,
 * INGRESS_TOPIC_PARTITIONS, INGRESS_TOPIC_REPLICATION (see config.ts).
 */
import { ConfigError } from '@coexist/config'
import { createLogger } from '@coexist/logger'
import { loadIngressConfig, type IngressConfig } from './config.ts'
import { runIngress } from './run.ts'

let config: IngressConfig
try {
  config = loadIngressConfig(process.env)
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  process.stderr.write(`ingress: ${err.message}\n`)
  process.exit(1)
}

const logger = createLogger({ level: config.log.level, name: 'ingress' })
try {
  await runIngress(config, { logger })
} catch (err) {
  logger.fatal({ err }, 'ingress could not start')
  process.exit(1)
}
