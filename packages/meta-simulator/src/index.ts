/**
 * `@coexist/meta-simulator`: a stand-in for Meta's WhatsApp Cloud API (Graph API + signed webhook
 * emitter) for tests, benchmarks and the demo. Never used in production.
 */
export { createManualClock, systemClock, type Clock, type ManualClock } from './clock.ts'
export { buildApp, type BuildAppDeps } from './app.ts'
export { startSimulator, type RunningSimulator, type StartSimulatorOptions } from './start-simulator.ts'
export {
  Simulator, newWamid, DEFAULT_GRAPH_VERSION, SERVICE_WINDOW_MS, SYNC_WINDOW_MS,
  type SimulatorControl, type SimulatorOptions, type SendRecord, type RejectionRecord, type UsageRecord,
  type ReadRecord, type SendsReport, type SendsFilter, type FaultsView, type NumberView, type InboundInput,
  type InboundResult, type SyncRequestRecord, type GraphAnswer
} from './simulator.ts'
export {
  NumberConfigSchema, FaultsSchema, WebhookTargetSchema, WindowSchema, ResetSchema, EmitSchema, GenerateSchema,
  HistoryScenarioSchema, ContactsScenarioSchema, PairLimitSchema, StatusEmissionSchema,
  type NumberConfig, type NumberConfigInput, type FaultsInput, type WebhookTargetInput, type WindowInput,
  type ResetInput, type EmitInput, type GenerateInput
} from './control/control-schemas.ts'
export { SlidingWindowCounter, maxCountInWindow } from './limits/sliding-window.ts'
export { PairLimiter, DEFAULT_PAIR_LIMIT, type PairLimitSettings } from './limits/pair-limiter.ts'
export { graphError, type GraphErrorAnswer } from './graph/graph-error.ts'
export { DEFAULT_RATES, countryOf, parsePricingAnalyticsField, pricingAnalytics } from './graph/pricing-analytics.ts'
export {
  WebhookEmitter, batchWebhooks, DEFAULT_RETRY,
  type WebhookTarget, type RetryPolicy, type EmitOptions, type EmitManyOptions, type DeliveryResult,
  type DeliveryRecord, type DeliveryAttempt, type EmitterStats, type WebhookBody, type WebhookEmitterOptions
} from './webhooks/webhook-emitter.ts'
export * from './webhooks/builders.ts'
/** Meta's wire serialisation (non-ASCII as `\uXXXX`, `/` as `\/`); the emitter signs these bytes. */
export { serializeLikeMeta as encodeMetaJson } from '@coexist/meta'
export { generateHistory, generateContactsSync, generateUsers, type HistoryScenario, type ContactsScenario, type GeneratedHistory, type HistoryItem, type SimUser } from './webhooks/history-generator.ts'
export { runScenario, demoScenario, scenarioNumbers, ScenarioSchema, INBOUND_MIX, type ScenarioOptions, type ScenarioHandle, type ScenarioStats } from './scenarios/run-scenario.ts'
export { seededRandom, shuffle } from './random.ts'
