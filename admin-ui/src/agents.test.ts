import { describe, expect, it } from 'vitest'
import { agentConfigs, KEY_PLACEHOLDER, tryCommand } from './agents'
import { handOver, takeKey } from './keys'

describe('agent configurations', () => {
  it('put the server and the key where each client reads them', () => {
    const [claude, cursor, vscode, http] = agentConfigs('http://127.0.0.1:8080', 'k-123', false)
    expect(JSON.parse(claude.text).mcpServers.rampart.env).toEqual({ RAMPART_URL: 'http://127.0.0.1:8080', RAMPART_API_KEY: 'k-123' })
    expect(JSON.parse(cursor.text)).toEqual(JSON.parse(claude.text))
    expect(JSON.parse(vscode.text).servers.rampart.type).toBe('stdio')
    expect(JSON.parse(http.text).servers.rampart).toEqual({
      type: 'http',
      url: 'http://127.0.0.1:8080/mcp',
      headers: { 'X-DreamFactory-API-Key': 'k-123' },
    })
  })
  it('use a placeholder without a key, and say read-only when the app is', () => {
    const [claude] = agentConfigs('https://api.example.com', null, true)
    const env = JSON.parse(claude.text).mcpServers.rampart.env
    expect(env.RAMPART_API_KEY).toBe(KEY_PLACEHOLDER)
    expect(env.RAMPART_MCP_READ_ONLY).toBe('true')
  })
})

describe('a new key', () => {
  it('is handed over once, to its own app only', () => {
    handOver(7, 'secret')
    expect(takeKey(8)).toBeNull()
    expect(takeKey(7)).toBe('secret')
    expect(takeKey(7)).toBeNull()
  })
})

describe('a first request', () => {
  it('reads a table the role names, else lists what it reaches', () => {
    expect(tryCommand('http://h:1', 'k', 'db', 'orders')).toBe('curl -w \'\\n\' -H "X-DreamFactory-API-Key: k" "http://h:1/api/v2/db/_table/orders"')
    expect(tryCommand('http://h:1', 'k', 'db', null)).toBe('curl -w \'\\n\' -H "X-DreamFactory-API-Key: k" "http://h:1/api/v2/db/_table"')
  })
})
