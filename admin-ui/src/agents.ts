// Ready-to-paste MCP client configurations for an app: stdio through the rampart-mcp bridge
// (Claude Desktop, Cursor, VS Code) and Streamable HTTP straight to the server.

export const KEY_PLACEHOLDER = "<the app's API key>"

export interface AgentConfig {
  client: string
  file: string
  text: string
}

export function agentConfigs(origin: string, key: string | null, readOnly: boolean): AgentConfig[] {
  const apiKey = key ?? KEY_PLACEHOLDER
  const env: Record<string, string> = { RAMPART_URL: origin, RAMPART_API_KEY: apiKey }
  if (readOnly) env.RAMPART_MCP_READ_ONLY = 'true'
  const stdio = { command: 'rampart-mcp', env }
  const json = (v: unknown) => JSON.stringify(v, null, 2)
  return [
    { client: 'Claude Desktop', file: 'claude_desktop_config.json', text: json({ mcpServers: { rampart: stdio } }) },
    { client: 'Cursor', file: '.cursor/mcp.json', text: json({ mcpServers: { rampart: stdio } }) },
    { client: 'VS Code', file: '.vscode/mcp.json', text: json({ servers: { rampart: { type: 'stdio', ...stdio } } }) },
    {
      client: 'Streamable HTTP',
      file: 'any MCP client that speaks HTTP',
      text: json({ servers: { rampart: { type: 'http', url: `${origin}/mcp`, headers: { 'X-DreamFactory-API-Key': apiKey } } } }),
    },
  ]
}

/** A first request to try with a key: a table the role names, else the list of its tables. */
export function tryCommand(origin: string, key: string, service: string, table: string | null): string {
  const path = table ? `_table/${encodeURIComponent(table)}` : '_table'
  return `curl -w '\\n' -H "X-DreamFactory-API-Key: ${key}" "${origin}/api/v2/${encodeURIComponent(service)}/${path}"`
}
