/**
 * `@coexist/meta`: everything about Meta's WhatsApp Cloud API that services share.
 *
 * - Webhooks: zod schemas per field (`WEBHOOK_VALUE_SCHEMAS`), `parseEnvelope`, `parseChangeValue`,
 *   `parseWebhook`, `changeRoutingKeys`, `inboundSender`; never throwing on bad input.
 * - Signatures: `verifySignature`, `createSignatureVerifier`, `signBody`, `checkVerifyChallenge`.
 * - Errors: `META_ERROR_TABLE`, `classifyMetaError`, `metaRetryDelayMs`, `MetaApiError`, `MetaErrors`.
 * - Sending: request/response schemas (`SendMessageBodySchema`, `SendMessageInputSchema`, …) and
 *   the undici Graph client (`createGraphClient`).
 * - Fixtures live in `@coexist/meta/fixtures`.
 */
export * from './errors.ts'
export * from './webhook-schemas.ts'
export * from './webhook-parse.ts'
export * from './webhook-serialize.ts'
export * from './signature.ts'
export * from './send-schemas.ts'
export * from './graph-client.ts'
