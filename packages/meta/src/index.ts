export * from './errors.ts'
export * from './webhook-schemas.ts'
export * from './webhook-parse.ts'
export * from './signature.ts'
