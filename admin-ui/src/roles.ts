// The role records the console edits (DreamFactory's shapes plus Rampart's field rules), and
// the pure helpers the role editor needs: unit-tested without a browser.

export type FieldRule = 'hidden' | 'read_only' | { mask: string }

export interface Access {
  id?: number
  service_id: number | null
  component: string
  verb_mask: number
  requestor_mask: number
  filters: string | { name: string; operator: string; value: unknown }[]
  filter_op: string
  field_rules: Record<string, FieldRule>
}

export interface Lookup {
  id?: number
  name: string
  value: string
  private: boolean
  description?: string | null
}

export interface Role {
  id: number
  name: string
  description: string | null
  is_active: boolean
  role_service_access_by_role_id: Access[]
  lookup_by_role_id: Lookup[]
}

export const MASKS = ['full', 'last4', 'email', 'hash', 'null'] as const

/** What each mask makes of a value, as the role editor shows it. */
export const MASK_EXAMPLES: Record<(typeof MASKS)[number], string> = {
  full: '****',
  last4: '****6789',
  email: 'a***@example.com',
  hash: 'a salted hash',
  null: 'null',
}

/** A field rule as one choice of a select: '' (in clear), hidden, read_only or mask:<kind>. */
export function ruleChoice(rule: FieldRule | undefined): string {
  if (rule === undefined) return ''
  if (typeof rule === 'string') return rule
  return `mask:${rule.mask}`
}

/** The field rule of a select's choice; undefined for "in clear". */
export function ruleOf(choice: string): FieldRule | undefined {
  if (choice === 'hidden' || choice === 'read_only') return choice
  if (choice.startsWith('mask:')) return { mask: choice.slice(5) }
  return undefined
}

/** The components an access row can name for a schema, grouped as the role editor offers them. */
export function componentOptions(tables: string[], functions: string[]): { group: string; options: { value: string; label: string }[] }[] {
  return [
    { group: 'Tables and views', options: tables.map((t) => ({ value: `_table/${t}/*`, label: t })) },
    {
      group: 'Wildcards',
      options: [
        { value: '_table/*', label: 'All tables and views' },
        { value: '*', label: 'Everything in the service' },
        { value: '_func/*', label: 'All functions' },
        { value: '_proc/*', label: 'All procedures' },
        { value: '_schema/*', label: 'The schema of every table' },
      ],
    },
    { group: 'Functions', options: functions.map((f) => ({ value: `_func/${f}`, label: `${f}()` })) },
  ].filter((g) => g.options.length > 0)
}

/**
 * The tables of a schema that access rows on a service name or cover by a wildcard: what the
 * preview offers to read (the server still decides what the role gets).
 */
export function tablesReached(access: Access[], serviceId: number | null, tables: string[]): string[] {
  // Rows without GET read nothing (a row with no verbs is how a table is shut off).
  const rows = access.filter((a) => (a.service_id === serviceId || a.service_id === null) && (a.verb_mask & 1) !== 0)
  if (rows.some((a) => a.component === '*' || a.component === '_table/*' || a.component === '_table')) return tables
  const named = new Set(rows.map((a) => tableOf(a.component)).filter((t): t is string => t !== null))
  return tables.filter((t) => named.has(t))
}

/** The one table a component names (`_table/orders/*`, `_table/orders`), else null. */
export function tableOf(component: string): string | null {
  const m = /^_table\/([^/*]+)(\/\*)?$/.exec(component)
  return m ? m[1] : null
}

/**
 * A row filter as text. DreamFactory's list form (`[{name, operator, value}]`) becomes the
 * equivalent expression; values that are lookups (`{tenant}`) or numbers stay bare.
 */
export function filterText(filters: Access['filters'], op: string): string {
  if (typeof filters === 'string') return filters
  return filters
    .map((f) => {
      const v = f.value
      let value: string
      if (v === null || v === undefined) value = 'null'
      else if (typeof v === 'number' || typeof v === 'boolean') value = String(v)
      else if (/^\{[\w.]+\}$/.test(String(v))) value = String(v)
      else value = `'${String(v).replace(/'/g, "''")}'`
      return `${f.name} ${f.operator} ${value}`
    })
    .join(` ${op.toLowerCase()} `)
}

/** The character index of a UTF-8 byte offset in `text` (the server counts bytes). */
export function charIndex(text: string, bytes: number): number {
  const enc = new TextEncoder()
  let used = 0
  let i = 0
  for (const ch of text) {
    if (used >= bytes) break
    used += enc.encode(ch).length
    i += ch.length
  }
  return i
}

/** A new, empty access row for a service. */
export function blankAccess(serviceId: number | null): Access {
  return { service_id: serviceId, component: '', verb_mask: 1, requestor_mask: 1, filters: '', filter_op: 'AND', field_rules: {} }
}
