// The service records the console edits (DreamFactory's shapes; secrets never come back).
export interface Service {
  id: number
  name: string
  label: string
  type: string
  is_active: boolean
  description: string | null
  config: Record<string, unknown>
}

/** The connection fields the service form edits; other config keys are kept as they are. */
export interface Connection {
  host: string
  port: string
  database: string
  username: string
  password: string
  sslmode: string
}

export const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'] as const

export function connectionOf(config: Record<string, unknown>): Connection {
  const text = (k: string, d = '') => (config[k] === undefined || config[k] === null ? d : String(config[k]))
  return {
    host: text('host', '127.0.0.1'),
    port: text('port', '5432'),
    database: text('database'),
    username: text('username'),
    password: '',
    sslmode: text('sslmode', 'prefer'),
  }
}

/**
 * The config to send: the stored config with the form's fields over it. An empty password
 * is left out, which the server reads as "unchanged" for an existing service.
 */
export function configOf(base: Record<string, unknown>, c: Connection): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base, host: c.host.trim(), database: c.database.trim(), username: c.username.trim(), sslmode: c.sslmode }
  const port = Number(c.port)
  out.port = Number.isInteger(port) && port > 0 ? port : c.port
  delete out.password
  if (c.password !== '') out.password = c.password
  return out
}

/** A service name made from a database name (until the admin names it): lower case, a
 *  letter first, then letters, digits, _ and -. */
export function serviceNameOf(database: string): string {
  return database
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '_')
    .replace(/^[^a-z]+/, '')
}
