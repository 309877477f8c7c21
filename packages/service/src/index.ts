export { startDataClients, type DataClients, type DataClientsOptions, type DataServiceConfig } from './clients.ts'
