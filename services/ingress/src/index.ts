/**
 * `@coexist/ingress`: what other workspace packages (the cross-service tests) start in-process,
 * the same functions `main.ts` uses.
 */
export { runIngress, ingressTopicSpecs, type RunIngressOptions, type RunningIngress } from './run.ts'
export { loadIngressConfig, type IngressConfig } from './config.ts'
export { buildApp, type IngressDeps } from './app.ts'
