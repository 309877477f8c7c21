/**
 * `pnpm bench outbound`: exact per-number throughput and neighbour isolation of the outbound
 * sender, against the simulator with real Kafka and Postgres. The code lives with the service
 * (services/outbound-sender/test/bench/outbound-bench.ts), whose dependencies it uses.
 */
await import('../../services/outbound-sender/test/bench/outbound-bench.ts')
