// Tenant walls for billing's routes. A tenant key sees its own tenant only: naming another
// tenant, or asking for another tenant's line, WABA or invoice, answers 404 (never 403, which
// would confirm it exists). An admin key sees every tenant, or the one it names.
import type { FastifyRequest } from 'fastify'
import { requireRole } from '@coexist/http'
import { BillErrors } from '../errors.ts'
import type { TenantScope } from '../store/usage.ts'

/** The tenant scope of a read: the caller's tenant, or for admins the named tenant or all (null). */
export function readScope (request: FastifyRequest, tenantId?: string): TenantScope {
  const p = requireRole(request, 'read')
  if (p.isAdmin) return tenantId ?? null
  if (p.tenantId === null || (tenantId !== undefined && tenantId !== p.tenantId)) throw BillErrors.BILL_NOT_FOUND.create()
  return p.tenantId
}

/** One tenant a read is about (invoices, balances): admins must name it. */
export function oneTenant (request: FastifyRequest, tenantId?: string): string {
  const scope = readScope(request, tenantId)
  if (scope === null) throw BillErrors.BILL_INVALID_REQUEST.create({ message: 'name the tenant with tenant_id' })
  return scope
}
