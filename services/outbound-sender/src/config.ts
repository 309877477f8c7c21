/**
 * The outbound sender's own configuration section (read by `main.ts` through @coexist/config).
 * Every knob has a safe default; a bad value stops the start with a message naming it.
 */
import { z } from 'zod'

const action = z.enum(['resend', 'do_not_resend'])
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')
const int = (min: number, max: number) => z.coerce.number({ error: 'must be a number' }).int().min(min).max(max)

export const outboundSection = z.object({
  /** `all` (default): API, worker and consumers; `api`: the API only; `worker`: worker and consumers (HTTP for health). */
  OUTBOUND_ROLES: z.enum(['all', 'api', 'worker']).default('all'),
  /** What to do when a send left and no answer came in time (outcome unknown). */
  OUTBOUND_ON_TIMEOUT: action.default('do_not_resend'),
  /** … when the connection was reset after the request was written. */
  OUTBOUND_ON_CONNECTION_LOST: action.default('resend'),
  /** … when Meta's edge answered 5xx/429 without a Graph error body. */
  OUTBOUND_ON_EDGE_ERROR: action.default('resend'),
  /** … when a worker stopped between claiming a send and recording its outcome. */
  OUTBOUND_ON_ABANDONED: action.default('do_not_resend'),
  OUTBOUND_MAX_ATTEMPTS: int(1, 100).default(6),
  OUTBOUND_RETRY_WINDOW_MS: int(1000, 7 * 24 * 3600_000).default(15 * 60_000),
  /** Inbound user messages and Business App echoes take tokens from the number's bucket. */
  OUTBOUND_COUNT_INBOUND: bool.default(true),
  OUTBOUND_COUNT_ECHOES: bool.default(true),
  /** Messages one recipient may get back to back before the 1 per 6 s pace (Meta tolerates up to 45). */
  OUTBOUND_PAIR_BURST: int(1, 45).default(20),
  /** Requests held per partition before it is paused (backlogs beyond a lane's few seconds are parked in Postgres). */
  OUTBOUND_MAX_PENDING_PER_PARTITION: int(100, 1_000_000).default(1000),
  /** Requests held in memory over all partitions (≈ 5 KB each). */
  OUTBOUND_MAX_HELD: int(100, 10_000_000).default(10_000),
  OUTBOUND_GRAPH_TIMEOUT_MS: int(1000, 120_000).default(30_000),
  /** Keep-alive connections to the Graph API. */
  OUTBOUND_GRAPH_CONNECTIONS: int(1, 4096).default(256),
  /**
   * Sends claimed or in flight at once over all numbers (≈ total rate × (claim + round trip));
   * shared by the numbers in proportion to their limits while short. Beyond the connections,
   * requests wait in the Graph client.
   */
  OUTBOUND_MAX_IN_FLIGHT: int(1, 100_000).default(1024),
  OUTBOUND_GROUP_ID: z.string().min(1).default('outbound-sender'),
  OUTBOUND_INSTANCE_ID: z.string().min(1).optional()
}).transform((e) => ({
  roles: e.OUTBOUND_ROLES,
  policy: {
    onTimeout: e.OUTBOUND_ON_TIMEOUT,
    onConnectionLost: e.OUTBOUND_ON_CONNECTION_LOST,
    onEdgeError: e.OUTBOUND_ON_EDGE_ERROR,
    onAbandoned: e.OUTBOUND_ON_ABANDONED,
    maxAttempts: e.OUTBOUND_MAX_ATTEMPTS,
    retryWindowMs: e.OUTBOUND_RETRY_WINDOW_MS,
    // A previous owner's attempt may still be in flight until its Graph timeout passes.
    abandonedGraceMs: e.OUTBOUND_GRAPH_TIMEOUT_MS + 5000
  },
  traffic: { inbound: e.OUTBOUND_COUNT_INBOUND, echoes: e.OUTBOUND_COUNT_ECHOES },
  pairBurst: e.OUTBOUND_PAIR_BURST,
  maxPendingPerPartition: e.OUTBOUND_MAX_PENDING_PER_PARTITION,
  maxHeld: e.OUTBOUND_MAX_HELD,
  graphTimeoutMs: e.OUTBOUND_GRAPH_TIMEOUT_MS,
  graphConnections: e.OUTBOUND_GRAPH_CONNECTIONS,
  maxInFlight: e.OUTBOUND_MAX_IN_FLIGHT,
  groupId: e.OUTBOUND_GROUP_ID,
  instanceId: e.OUTBOUND_INSTANCE_ID
}))
