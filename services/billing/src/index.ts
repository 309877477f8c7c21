/**
 * `@coexist/billing`: what other workspace packages (the cross-service tests) start in-process,
 * the same functions `main.ts` uses.
 */
export { buildApp, type BillingAppDeps } from './app.ts'
export { BILLING_PRODUCER, startBillingRuntime, type BillingRuntime, type BillingRuntimeDeps } from './runtime.ts'
export { loadBillingConfig, runBilling, type BillingConfig, type RunBillingOptions } from './run.ts'
