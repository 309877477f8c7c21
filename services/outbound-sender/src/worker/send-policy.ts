/**
 * What the worker does after a failed send attempt, decided by error code (Meta's code and our
 * coded errors, walking `cause`), never by message text. Pure: the lane applies the decision.
 */
import { findCoexistError } from '@coexist/errors'
import { findMetaApiError, type MetaErrorClassification } from '@coexist/meta'

/** `resend`: try again (may duplicate a message to the customer); `do_not_resend`: mark `unknown`. */
export type UnknownOutcomeAction = 'resend' | 'do_not_resend'

export interface SendPolicy {
  /** Attempts per request for ordinary retryable errors (Meta 5xx codes, connection refused…). */
  maxAttempts: number
  /** Extra attempts allowed for throughput (130429) and pair-rate (131056) answers. */
  maxThrottledAttempts: number
  /** First back-off of ordinary retries (ms); doubles per attempt, with jitter. */
  baseBackoffMs: number
  /** Cap of one back-off (ms). */
  maxBackoffMs: number
  /** A retry that would start later than this after the first attempt goes to the DLQ (ms). */
  retryWindowMs: number
  /** The request left and no answer came in time. Default do_not_resend. */
  onTimeout: UnknownOutcomeAction
  /** The connection was reset/closed after the request was written, before an answer. Default resend. */
  onConnectionLost: UnknownOutcomeAction
  /** Meta's edge answered 5xx/429 without a Graph error body. Default resend. */
  onEdgeError: UnknownOutcomeAction
  /** A worker stopped between claiming a send and recording its outcome (crash, kill). Default do_not_resend. */
  onAbandoned: UnknownOutcomeAction
  /**
   * An attempt found `sending` by another worker is treated as abandoned only this long after it
   * was claimed (ms): its worker may still be alive (a rebalance) and record the outcome itself.
   * Longer than the Graph timeout.
   */
  abandonedGraceMs: number
}

export const DEFAULT_SEND_POLICY: SendPolicy = {
  maxAttempts: 6,
  maxThrottledAttempts: 12,
  baseBackoffMs: 500,
  maxBackoffMs: 60_000,
  retryWindowMs: 15 * 60_000,
  onTimeout: 'do_not_resend',
  onConnectionLost: 'resend',
  onEdgeError: 'resend',
  onAbandoned: 'do_not_resend',
  abandonedGraceMs: 35_000
}

/** How an attempt failed, in the terms the worker acts on. */
export type FailureClass =
  | { kind: 'throughput', meta: MetaErrorClassification }
  | { kind: 'pair_rate', meta: MetaErrorClassification }
  | { kind: 'retryable', meta: MetaErrorClassification | undefined, hintMs: number | undefined, code: string }
  | { kind: 'permanent', meta: MetaErrorClassification | undefined, code: string }
  | { kind: 'unknown_outcome', cause: 'timeout' | 'connection_lost' | 'edge_error' | 'unexpected', code: string }

/** Classifies an error thrown by the Graph client. */
export function classifyFailure (err: unknown): FailureClass {
  const meta = findMetaApiError(err)
  if (meta !== undefined) {
    const c = meta.classification
    if (c.kind === 'throughput') return { kind: 'throughput', meta: c }
    if (c.kind === 'pair_rate') return { kind: 'pair_rate', meta: c }
    if (c.retryable) return { kind: 'retryable', meta: c, hintMs: c.backoffMs, code: 'META_API_ERROR' }
    return { kind: 'permanent', meta: c, code: 'META_API_ERROR' }
  }
  const coded = findCoexistError(err)
  switch (coded?.code) {
    case 'META_CONNECT_FAILED': // nothing was written: safe to retry
      return { kind: 'retryable', meta: undefined, hintMs: undefined, code: coded.code }
    case 'META_OUTCOME_UNKNOWN': {
      const reason = coded.detail?.reason
      const cause = reason === 'timeout' ? 'timeout' : reason === 'network' ? 'connection_lost' : reason === 'http_status' ? 'edge_error' : 'unexpected'
      return { kind: 'unknown_outcome', cause, code: coded.code }
    }
    case 'META_TIMEOUT':
      return { kind: 'unknown_outcome', cause: 'timeout', code: coded.code }
    case 'META_REQUEST_INVALID':
      return { kind: 'permanent', meta: undefined, code: coded.code }
    case 'META_RESPONSE_INVALID': // a 2xx we cannot read: it may well have been sent
      return { kind: 'unknown_outcome', cause: 'unexpected', code: coded.code }
    default:
      return { kind: 'unknown_outcome', cause: 'unexpected', code: coded?.code ?? 'UNCODED' }
  }
}

/** The action for an unknown outcome under the policy. */
export function unknownOutcomeAction (policy: SendPolicy, cause: 'timeout' | 'connection_lost' | 'edge_error' | 'unexpected'): UnknownOutcomeAction {
  if (cause === 'connection_lost') return policy.onConnectionLost
  if (cause === 'edge_error') return policy.onEdgeError
  return policy.onTimeout
}

/**
 * Capped exponential back-off with "equal jitter": half the step fixed, half random, so retries
 * of many requests spread out instead of arriving together. `attempt` is 1 for the first retry.
 * Never shorter than the wait Meta's table suggests (e.g. 60 s for 131057), up to `maxBackoffMs`;
 * the caller compares the hint with the retry window first (131049's 24 h goes to the DLQ).
 */
export function backoffMs (policy: SendPolicy, attempt: number, hintMs: number | undefined, random: () => number = Math.random): number {
  const step = Math.min(policy.maxBackoffMs, policy.baseBackoffMs * 2 ** Math.max(0, attempt - 1))
  return Math.max(Math.min(hintMs ?? 0, policy.maxBackoffMs), Math.round(step / 2 + random() * step / 2))
}
