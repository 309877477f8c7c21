/**
 * Coexist's event contracts: protobuf schemas generated from `proto/` (protoc-gen-es, committed
 * under `src/gen`; `npm run contracts:generate` regenerates, `npm test` fails on drift).
 * Each `XxxSchema` works with `@bufbuild/protobuf`'s `create`, `toBinary`, `fromBinary`, `toJson`.
 *
 * @example
 * import { create, toBinary } from '@bufbuild/protobuf'
 * import { OutboundRequestSchema } from '@coexist/contracts'
 * const req = create(OutboundRequestSchema, { requestId, tenantId, phoneNumberId, acceptedAt: BigInt(Date.now()) })
 * const bytes = toBinary(OutboundRequestSchema, req)
 */
import { createRegistry, type DescMessage, type Registry } from '@bufbuild/protobuf'
import { file_coexist_webhook_v1_webhook } from './gen/coexist/webhook/v1/webhook_pb.js'
import { file_coexist_outbound_v1_outbound } from './gen/coexist/outbound/v1/outbound_pb.js'
import { file_coexist_events_v1_events } from './gen/coexist/events/v1/events_pb.js'
import { file_coexist_billing_v1_billing } from './gen/coexist/billing/v1/billing_pb.js'

export * from './gen/coexist/webhook/v1/webhook_pb.js'
export * from './gen/coexist/outbound/v1/outbound_pb.js'
export * from './gen/coexist/events/v1/events_pb.js'
export * from './gen/coexist/billing/v1/billing_pb.js'

/** Every contract file, for registries and reflection. */
export const CONTRACT_FILES = [
  file_coexist_webhook_v1_webhook,
  file_coexist_outbound_v1_outbound,
  file_coexist_events_v1_events,
  file_coexist_billing_v1_billing
] as const

/**
 * A registry of every contract message and enum, e.g. for `toJson(schema, msg, { registry })`
 * or to find a schema from a record's `schema` header.
 */
export const contractRegistry: Registry = createRegistry(...CONTRACT_FILES)

/**
 * The message schema named by a full protobuf type name (`coexist.webhook.v1.RawWebhook`, the
 * value of a record's `schema` header); undefined for a name that is not a contract.
 */
export function findContractSchema (typeName: string): DescMessage | undefined {
  return contractRegistry.getMessage(typeName)
}
