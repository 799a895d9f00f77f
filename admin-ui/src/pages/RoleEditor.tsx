// The role editor: access rows (service, component chosen from the introspected schema or a
// wildcard, verbs, requestor), each with its row filter — checked by the server's own parser
// as the admin types, the mistake shown at its position — and its field rules chosen from the
// table's columns; the role's lookups. Everything is saved in one request (one transaction).
import { useEffect, useRef, useState } from 'preact/hooks'
import { api } from '../api'
import { useLoad } from '../load'
import { LoadStatus } from '../LoadStatus'
import { navigate } from '../router'
import type { Service } from '../services'
import type { SchemaTable, ServiceSchema } from './Schema'
import {
  blankAccess,
  charIndex,
  componentOptions,
  filterText,
  MASK_EXAMPLES,
  MASKS,
  ruleChoice,
  ruleOf,
  tableOf,
  type Access,
  type Role,
} from '../roles'
import { VERBS, bit } from '../verbs'
import { checkedOf, DeleteRecord, OutcomeLine, useRun, valueOf } from '../ui'
import { RolePage } from './RoleTabs'
import { flash } from '../flash'
import { LookupsEditor, useLookups } from './LookupsEditor'

/** An access row being edited: a stable key for rendering and its filter as text. */
type Row = Access & { key: number; text: string }

let next = 1

/** The database services and, once asked for, each one's schema (shared by all rows). */
export function useSchemas(): {
  services: Service[]
  schemaOf: (id: number | null) => ServiceSchema | null
} {
  const [services, setServices] = useState<Service[]>([])
  const [schemas, setSchemas] = useState<Record<number, ServiceSchema>>({})
  const asked = useRef(new Set<number>())
  useEffect(() => {
    api<{ resource: Service[] }>('GET', '/api/v2/system/service')
      .then((r) => setServices(r.resource.filter((s) => s.type === 'pgsql')))
      .catch(() => setServices([]))
  }, [])
  const schemaOf = (id: number | null) => {
    if (id === null) return null
    if (!asked.current.has(id)) {
      asked.current.add(id)
      api<ServiceSchema>('GET', `/api/v2/system/service/${id}/schema`)
        .then((s) => setSchemas((all) => ({ ...all, [id]: s })))
        .catch(() => undefined)
    }
    return schemas[id] ?? null
  }
  return { services, schemaOf }
}

export function RoleEditor(props: { id?: number }) {
  const editing = props.id !== undefined
  const [load] = useLoad<Role | null>(
    () => (editing ? api<Role>('GET', `/api/v2/system/role/${props.id}?related=*`) : Promise.resolve(null)),
    [props.id],
  )
  const { services, schemaOf } = useSchemas()
  const [name, setName] = useState('')
  const [description, setDescription] = useState('')
  const [active, setActive] = useState(true)
  const [rows, setRows] = useState<Row[]>([])
  const [removed, setRemoved] = useState<number[]>([])
  const lookups = useLookups('role_id')
  const { busy, outcome, run } = useRun()

  useEffect(() => {
    if (load.state !== 'ready') return
    const r = load.data
    setName(r?.name ?? '')
    setDescription(r?.description ?? '')
    setActive(r?.is_active ?? true)
    setRows((r?.role_service_access_by_role_id ?? []).map((a) => ({ ...a, key: next++, text: filterText(a.filters, a.filter_op) })))
    lookups.reset(r?.lookup_by_role_id ?? [])
    setRemoved([])
  }, [load])
  // A new role starts with one row on the first database, ready for its table to be chosen.
  const fresh = load.state === 'ready' && load.data === null
  useEffect(() => {
    if (fresh && services.length > 0) setRows((rs) => (rs.length > 0 ? rs : [{ ...blankAccess(services[0].id), key: next++, text: '' }]))
  }, [fresh, services])

  if (load.state !== 'ready') return <LoadStatus load={load} loading="Loading the role…" />
  const stored = load.data

  const change = (key: number, patch: Partial<Row>) => setRows((rs) => rs.map((r) => (r.key === key ? { ...r, ...patch } : r)))

  const save = (e: Event) => {
    e.preventDefault()
    run(async () => {
      const access = [
        // A row whose table was never chosen grants nothing and is left out.
        ...rows.filter((r) => r.component !== '').map(({ key: _k, text, ...a }) => ({ ...a, filters: text.trim(), filter_op: 'AND' })),
        ...removed.map((id) => ({ id, role_id: null })),
      ]
      const record = {
        name: name.trim(),
        description: description.trim() || null,
        is_active: active,
        role_service_access_by_role_id: access,
        lookup_by_role_id: lookups.changes(),
      }
      if (stored) {
        await api('PATCH', `/api/v2/system/role/${stored.id}`, record)
        // Reload the stored rows (new ones now have ids) without leaving the page.
        const fresh = await api<Role>('GET', `/api/v2/system/role/${stored.id}?related=*`)
        setRows(fresh.role_service_access_by_role_id.map((a) => ({ ...a, key: next++, text: filterText(a.filters, a.filter_op) })))
        lookups.reset(fresh.lookup_by_role_id)
        setRemoved([])
        return 'Saved.'
      }
      const r = await api<{ resource: { id: number }[] }>('POST', '/api/v2/system/role', { resource: [record] })
      const id = r.resource[0].id
      flash(`Role ${record.name} created.`, { to: `/apps/new?role=${id}`, label: 'Next: create an app key with it' })
      navigate(`/roles/${id}`)
    })
  }

  return (
    <RolePage id={stored?.id} title={stored ? `Role ${stored.name}` : 'New role'} current="Access">
      <form onSubmit={save}>
        <div class="grid">
          <label for="role-name">Name</label>
          <input id="role-name" required value={name} onInput={(e) => setName(valueOf(e))} />
          <label for="role-description">Description</label>
          <input id="role-description" value={description} onInput={(e) => setDescription(valueOf(e))} />
          <label class="check">
            <input type="checkbox" checked={active} onChange={(e) => setActive(checkedOf(e))} /> Active
          </label>
        </div>

        <h2>Access</h2>
        <p class="muted">Nothing is reached unless a row grants it.</p>
        {rows.length === 0 && <p class="empty">No access rows: this role reaches nothing.</p>}
        {rows.map((row, i) => (
          <AccessRow
            key={row.key}
            n={i + 1}
            row={row}
            services={services}
            schema={schemaOf(row.service_id)}
            named={(table) => rows.some((r) => r.service_id === row.service_id && tableOf(r.component) === table)}
            onShutOff={(table) =>
              setRows((rs) => [...rs, { ...blankAccess(row.service_id), component: `_table/${table}/*`, verb_mask: 0, key: next++, text: '' }])
            }
            onChange={(patch) => change(row.key, patch)}
            onRemove={() => {
              if (row.id) setRemoved((r) => [...r, row.id!])
              setRows((rs) => rs.filter((r) => r.key !== row.key))
            }}
          />
        ))}
        <button
          type="button"
          class="secondary"
          onClick={() => setRows((rs) => [...rs, { ...blankAccess(services[0]?.id ?? null), key: next++, text: '' }])}
        >
          Add access row
        </button>

        <LookupsEditor lookups={lookups} />

        <div class="actions savebar">
          <button type="submit" disabled={busy}>
            {stored ? 'Save role' : 'Create role'}
          </button>
          {stored && (
            <DeleteRecord
              noun="role"
              name={stored.name}
              text="Apps and users that hold it lose its access at once. This cannot be undone."
              path={`/api/v2/system/role/${stored.id}`}
              back="/roles"
              busy={busy}
              run={run}
            />
          )}
        </div>
        <OutcomeLine outcome={outcome} />
      </form>
    </RolePage>
  )
}

/** The component choices of a schema, computed once per schema (shared by all its rows). */
const choices = new WeakMap<ServiceSchema, ReturnType<typeof componentOptions>>()
function choicesOf(schema: ServiceSchema) {
  let c = choices.get(schema)
  if (!c) {
    c = componentOptions(
      schema.table.map((t) => t.name),
      schema.function.map((f) => f.name),
    )
    choices.set(schema, c)
  }
  return c
}

/** The select's value for "a component typed by hand". */
const PATTERN = '\u0000pattern'

/**
 * What an access row reaches: a table, a wildcard or a function picked from the introspected
 * schema, or a pattern typed by hand. The schema's choices are rendered once the select is
 * approached (pointer or focus), so a role with many rows on a 1,000-table schema opens quickly.
 */
function ComponentPicker(props: {
  id: string
  value: string
  schema: ServiceSchema | null
  /** Whether the row holds anything else (a filter, field rules), so a table must be chosen. */
  required: boolean
  onChange: (component: string) => void
}) {
  const { id, value, schema } = props
  const groups = schema ? choicesOf(schema) : null
  const known = groups?.some((g) => g.options.some((o) => o.value === value)) ?? true
  const [typing, setTyping] = useState(false)
  const [full, setFull] = useState(false)
  const pattern = typing || (value !== '' && !known)
  const label = groups?.flatMap((g) => g.options).find((o) => o.value === value)?.label ?? value
  return (
    <>
      <label>
        Table
        <select
          class="component"
          required={props.required}
          value={pattern ? PATTERN : value}
          onFocus={() => setFull(true)}
          onPointerEnter={() => setFull(true)}
          onChange={(e) => {
            const v = (e.target as HTMLSelectElement).value
            setTyping(v === PATTERN)
            if (v !== PATTERN) props.onChange(v)
          }}
        >
          {value === '' && !pattern && <option value="">Choose…</option>}
          {full && groups
            ? groups.map((g) => (
                <optgroup label={g.group}>
                  {g.options.map((o) => (
                    <option value={o.value}>{o.label}</option>
                  ))}
                </optgroup>
              ))
            : value !== '' && !pattern && <option value={value}>{label}</option>}
          <option value={PATTERN}>A pattern (type it)…</option>
        </select>
      </label>
      {pattern && (
        <label>
          Component
          <input
            id={`${id}-component`}
            required
            class="mono"
            placeholder="e.g. _table/order*"
            value={value}
            onInput={(e) => props.onChange(valueOf(e))}
          />
        </label>
      )}
    </>
  )
}

/**
 * What a grant on a table also opens: its related records, readable through `related` unless
 * a row of the role names the related table (its own limits; with no verbs, none at all).
 */
function RelatedReach(props: { table: SchemaTable; named: (table: string) => boolean; onShutOff: (table: string) => void }) {
  const open = props.table.related.filter((r) => !props.named(r.ref_table))
  if (open.length === 0) return null
  const tables = [...new Set(open.map((r) => r.ref_table))]
  return (
    <div class="related-reach">
      <p class="muted">
        Also readable, embedded in its records (<code>related</code>): {open.map((r) => `${r.ref_table} (${r.name})`).join(', ')}.
      </p>
      {tables.map((t) => (
        <button type="button" class="secondary" onClick={() => props.onShutOff(t)}>
          Block {t}
        </button>
      ))}
    </div>
  )
}

type Check = { valid: true } | { valid: false; message: string; position: number; hint: string | null } | null

/** The server's verdict on a row filter, asked for a moment after the admin stops typing. */
function useFilterCheck(text: string, serviceId: number | null, table: string | null): Check {
  const [check, setCheck] = useState<Check>(null)
  useEffect(() => {
    if (!text.trim()) {
      setCheck(null)
      return
    }
    let live = true
    const timer = setTimeout(() => {
      api<Check>('POST', '/api/v2/system/filter', { filter: text, service_id: table ? serviceId : undefined, table: table ?? undefined })
        .then((c) => live && setCheck(c))
        .catch(() => live && setCheck(null))
    }, 250)
    return () => {
      live = false
      clearTimeout(timer)
    }
  }, [text, serviceId, table])
  return check
}

function AccessRow(props: {
  n: number
  row: Row
  services: Service[]
  schema: ServiceSchema | null
  /** Whether a row of the role names this table of the row's service. */
  named: (table: string) => boolean
  /** Adds a row that shuts a related table off (no verbs). */
  onShutOff: (table: string) => void
  onChange: (patch: Partial<Row>) => void
  onRemove: () => void
}) {
  const { n, row, schema, onChange } = props
  const id = `access-${row.key}`
  const tableName = tableOf(row.component)
  const table = tableName ? schema?.table.find((t) => t.name === tableName) ?? null : null
  const check = useFilterCheck(row.text, row.service_id, tableName)
  const [open, setOpen] = useState((row.id === undefined && row.verb_mask !== 0) || row.text !== '' || Object.keys(row.field_rules).length > 0)
  const rules = Object.keys(row.field_rules).length
  return (
    <fieldset class="access" aria-label={`Access row ${n}`}>
      <legend>
        Access row {n}
        {row.component && <span class="muted"> — {row.component}</span>}
        {row.component && row.verb_mask === 0 && <span> (blocked: no verbs, not even embedded)</span>}
      </legend>
      <div class="access-line">
        <label>
          Service
          <select value={row.service_id ?? ''} onChange={(e) => onChange({ service_id: Number((e.target as HTMLSelectElement).value) })}>
            {props.services.map((s) => (
              <option value={s.id}>{s.name}</option>
            ))}
          </select>
        </label>
        <ComponentPicker
          id={id}
          value={row.component}
          schema={schema}
          required={row.text.trim() !== '' || rules > 0}
          onChange={(component) => onChange({ component })}
        />
        <fieldset class="verbs">
          <legend>Verbs</legend>
          {VERBS.map((v) => (
            <label class="inline">
              <input
                type="checkbox"
                checked={(row.verb_mask & bit(v)) !== 0}
                onChange={(e) => onChange({ verb_mask: checkedOf(e) ? row.verb_mask | bit(v) : row.verb_mask & ~bit(v) })}
              />
              {v}
            </label>
          ))}
        </fieldset>
        <label title="Who may use the row: API calls (REST and MCP tools), server-side scripts, or both.">
          Used by
          <select value={row.requestor_mask} onChange={(e) => onChange({ requestor_mask: Number((e.target as HTMLSelectElement).value) })}>
            <option value={1}>API and MCP</option>
            <option value={2}>Scripts</option>
            <option value={3}>API, MCP and scripts</option>
          </select>
        </label>
      </div>
      <div class="actions">
        <button type="button" class="secondary" aria-expanded={open} aria-controls={`${id}-detail`} onClick={() => setOpen(!open)}>
          {open ? 'Hide' : 'Show'} row filter and field rules
          {!open && (rules > 0 || row.text) ? ` (${[row.text && 'a filter', rules && `${rules} field rule${rules === 1 ? '' : 's'}`].filter(Boolean).join(', ')})` : ''}
        </button>
        <button type="button" class="secondary" onClick={props.onRemove}>
          Remove<span class="sr-only"> access row {n}</span>
        </button>
      </div>
      <div id={`${id}-detail`} class="detail" hidden={!open}>
        <label for={`${id}-filter`}>Row filter</label>
        <input
          id={`${id}-filter`}
          class="wide mono"
          placeholder="e.g. tenant_id = 1, or tenant_id = {tenant}"
          value={row.text}
          aria-invalid={check?.valid === false}
          aria-describedby={`${id}-filter-help ${id}-filter-check`}
          onInput={(e) => onChange({ text: valueOf(e) })}
        />
        <small id={`${id}-filter-help`} class="muted">
          Only matching rows are read or written.
        </small>
        <div id={`${id}-filter-check`} aria-live="polite">
          {check?.valid === false && (
            <div class="error">
              <pre class="caret" aria-hidden="true">
                {row.text}
                {'\n'}
                {' '.repeat(charIndex(row.text, check.position))}^
              </pre>
              <p>
                {check.message} (at character {charIndex(row.text, check.position) + 1}){check.hint ? `; ${check.hint}` : ''}
              </p>
            </div>
          )}
          {check?.valid === true && <p class="ok">The filter is valid.</p>}
        </div>
        {table && <RelatedReach table={table} named={props.named} onShutOff={props.onShutOff} />}
        <h3>Field rules</h3>
        {!tableName && <p class="muted">Field rules apply to one table: choose one above.</p>}
        {tableName && !table && <p class="muted">{schema ? `No table ${tableName} in this service.` : 'Loading the columns…'}</p>}
        {table && (
          <div class="scroll">
          <table class="rules">
            <caption class="sr-only">Field rules for {table.name}</caption>
            <thead>
              <tr>
                <th scope="col">Field</th>
                <th scope="col">Type</th>
                <th scope="col">Rule</th>
              </tr>
            </thead>
            <tbody>
              {table.field.map((f) => (
                <tr key={f.name}>
                  <th scope="row">{f.name}</th>
                  <td>{f.db_type}</td>
                  <td>
                    <select
                      aria-label={`Rule for ${f.name}`}
                      value={ruleChoice(row.field_rules[f.name])}
                      onChange={(e) => {
                        const rule = ruleOf((e.target as HTMLSelectElement).value)
                        const next = { ...row.field_rules }
                        if (rule === undefined) delete next[f.name]
                        else next[f.name] = rule
                        onChange({ field_rules: next })
                      }}
                    >
                      <option value="">In clear</option>
                      <option value="read_only">Read-only</option>
                      {MASKS.map((m) => (
                        <option value={`mask:${m}`}>
                          Masked ({m}): {MASK_EXAMPLES[m]}
                        </option>
                      ))}
                      <option value="hidden">Hidden</option>
                    </select>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          </div>
        )}
      </div>
    </fieldset>
  )
}
