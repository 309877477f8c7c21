import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf'
import { DomainEventSchema, type DomainEvent } from '@coexist/contracts'
import { sql, type DbExecutor } from '@coexist/db'

/** Who an event is about: every DomainEvent carries these. */
export interface EventSubject {
  tenantId: string
  phoneNumberId: string
  wabaId: string
}

type EventCase = NonNullable<DomainEvent['event']['case']>
type EventValue<C extends EventCase> = Extract<MessageInitShape<typeof DomainEventSchema>['event'], { case: C }>['value']

/** A domain event ready for the outbox. */
export interface PendingEvent {
  eventId: string
  eventType: string
  key: string
  tenantId: string
  payload: Uint8Array
}

const snake = (s: string): string => s.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase())

/**
 * Builds one DomainEvent. `eventId` must be deterministic for the fact (a replay re-creates the
 * same id, so readers dedupe); the record key is the phone number id (the WABA id for WABA-level
 * facts), so one number's events stay in order on one partition.
 */
export function domainEvent<C extends EventCase> (subject: EventSubject, eventId: string, occurredAt: Date | number,
  kind: C, value: EventValue<C>): PendingEvent {
  const ms = typeof occurredAt === 'number' ? occurredAt : occurredAt.getTime()
  const msg = create(DomainEventSchema, {
    eventId,
    tenantId: subject.tenantId,
    phoneNumberId: subject.phoneNumberId,
    wabaId: subject.wabaId,
    occurredAt: BigInt(Math.trunc(ms)),
    event: { case: kind, value } as MessageInitShape<typeof DomainEventSchema>['event']
  })
  return {
    eventId,
    eventType: snake(kind),
    key: subject.phoneNumberId !== '' ? subject.phoneNumberId : subject.wabaId,
    tenantId: subject.tenantId,
    payload: toBinary(DomainEventSchema, msg)
  }
}

/**
 * Writes events to the outbox in the caller's transaction (one statement), so they exist exactly
 * when the change they report is committed. The relay publishes them to wa.events.v1.
 */
export async function enqueueEvents (db: DbExecutor, events: readonly PendingEvent[]): Promise<void> {
  if (events.length === 0) return
  await sql`
    INSERT INTO event_outbox (event_id, event_type, key, tenant_id, payload)
    SELECT * FROM unnest(${events.map((e) => e.eventId)}::text[], ${events.map((e) => e.eventType)}::text[],
      ${events.map((e) => e.key)}::text[], ${events.map((e) => e.tenantId)}::text[],
      ${events.map((e) => Buffer.from(e.payload.buffer, e.payload.byteOffset, e.payload.byteLength))}::bytea[])
  `.execute(db)
}
