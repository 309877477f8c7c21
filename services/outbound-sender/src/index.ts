/**
 * `@coexist/outbound-sender`: what other workspace packages (the cross-service tests) start
 * in-process, the same functions `main.ts` uses.
 */
export { buildApp, type OutboundAppDeps } from './app.ts'
export { startOutboundRuntime, type OutboundRuntime, type OutboundRuntimeDeps } from './runtime.ts'
export { outboundSection } from './config.ts'
export { NumberDirectory } from './worker/number-directory.ts'
export { loadOutboundConfig, runOutbound, type OutboundConfig, type RunOutboundOptions } from './run.ts'
