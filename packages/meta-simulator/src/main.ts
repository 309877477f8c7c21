/**
 * Standalone simulator: `node packages/meta-simulator/src/main.ts` (the lead wires
 * `npm run simulator` to it).
 *
 * Environment: PORT (default 8090), HOST (default 0.0.0.0), LOG_LEVEL, META_GRAPH_VERSION
 * (default v24.0), SIM_WEBHOOK_URL (where signed webhooks go), SIM_APP_SECRET (signs them;
 * required with SIM_WEBHOOK_URL), SIM_APP_ID, SIM_DEMO=1 (registers demo numbers and plays a
 * gentle scenario).
 */
import { z } from 'zod'
import { httpSection, loadConfig, logSection } from '@coexist/config'
import { createLogger } from '@coexist/logger'
import { demoScenario, runScenario, type ScenarioHandle } from './scenarios/run-scenario.ts'
import { startSimulator } from './start-simulator.ts'

const simSection = z.object({
  SIM_WEBHOOK_URL: z.url({ error: 'must be a URL' }).optional(),
  SIM_APP_ID: z.string().regex(/^\d+$/, 'must be a numeric app id').optional(),
  SIM_APP_SECRET: z.string().min(1).optional(),
  SIM_DEMO: z.enum(['0', '1', 'true', 'false'], { error: 'must be 0 or 1' }).default('0'),
  META_GRAPH_VERSION: z.string().regex(/^v\d+\.\d+$/, 'must look like v24.0').default('v24.0')
}).superRefine((e, ctx) => {
  if (e.SIM_WEBHOOK_URL !== undefined && e.SIM_APP_SECRET === undefined) {
    ctx.addIssue({ code: 'custom', path: ['SIM_APP_SECRET'], message: 'is required when SIM_WEBHOOK_URL is set' })
  }
}).transform((e) => ({
  webhookUrl: e.SIM_WEBHOOK_URL,
  appId: e.SIM_APP_ID,
  appSecret: e.SIM_APP_SECRET,
  demo: e.SIM_DEMO === '1' || e.SIM_DEMO === 'true',
  graphVersion: e.META_GRAPH_VERSION
}))

let config
try {
  config = loadConfig(process.env, { http: httpSection(8090), log: logSection, sim: simSection })
} catch (err) {
  process.stderr.write(`meta-simulator: ${(err as Error).message}\n`)
  process.exit(1)
}

const logger = createLogger({ level: config.log.level, name: 'meta-simulator' })
const running = await startSimulator({
  port: config.http.port,
  host: config.http.host,
  graphVersion: config.sim.graphVersion,
  logger,
  ...(config.sim.webhookUrl !== undefined && config.sim.appSecret !== undefined
    ? { webhookTarget: { url: config.sim.webhookUrl, appSecret: config.sim.appSecret, ...(config.sim.appId !== undefined ? { appId: config.sim.appId } : {}) } }
    : {})
})
logger.info({ url: running.url, graphVersion: running.graphVersion, webhookUrl: config.sim.webhookUrl ?? null }, 'meta simulator listening')

let demo: ScenarioHandle | undefined
if (config.sim.demo) {
  demo = runScenario(running.sim, demoScenario())
  for (const n of demo.numbers) {
    logger.info({ phoneNumberId: n.phoneNumberId, wabaId: n.wabaId, mode: n.mode, mps: n.mps }, `demo number; access token sim-token-${n.phoneNumberId}`)
  }
}

let stopping = false
async function shutdown (signal: string): Promise<void> {
  if (stopping) return
  stopping = true
  logger.info({ signal }, 'meta simulator stopping')
  const force = setTimeout(() => { process.exit(1) }, 10_000)
  force.unref()
  await demo?.stop()
  await running.close()
  process.exit(0)
}
process.on('SIGINT', () => { void shutdown('SIGINT') })
process.on('SIGTERM', () => { void shutdown('SIGTERM') })
