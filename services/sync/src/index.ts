/**
 * `@coexist/sync`: what other workspace packages (the cross-service tests) start in-process,
 * the same functions `main.ts` uses.
 */
export { buildApp, type SyncAppDeps } from './app.ts'
export { startSyncRuntime, type SyncRuntime, type SyncRuntimeDeps } from './runtime.ts'
export { loadSyncConfig, runSync, type RunSyncOptions, type SyncConfig } from './run.ts'
