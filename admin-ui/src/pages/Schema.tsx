// The schema browser: every table, view and function the service's login sees, with a
// table's fields, keys and relationships. Large schemas stay responsive: the list is filtered
// as you type and shown a page at a time.
import { useMemo, useState } from 'preact/hooks'
import { api } from '../api'
import { useLoad } from '../load'
import { LoadStatus } from '../LoadStatus'
import { Link } from '../router'

interface Field {
  name: string
  type: string
  db_type: string
  allow_null: boolean
  is_primary_key: boolean
  is_foreign_key: boolean
  ref_table: string | null
  ref_field: string | null
  default: string | null
}
interface Relation {
  name: string
  type: string
  ref_table: string
  field: string
  ref_field: string
}
export interface SchemaTable {
  name: string
  is_view: boolean
  description: string | null
  primary_key: string[]
  field: Field[]
  related: Relation[]
}
interface SchemaFunction {
  name: string
  kind: string
  /** in, out, in_out, variadic, or table (a column of RETURNS TABLE). */
  args: { name: string; type: string; mode: string }[]
  returns: string
}
export interface ServiceSchema {
  service: string
  table: SchemaTable[]
  function: SchemaFunction[]
}

const PAGE = 100

export function Schema(props: { id: number }) {
  const [refresh, setRefresh] = useState(false)
  const [load, reload] = useLoad(
    () => api<ServiceSchema>('GET', `/api/v2/system/service/${props.id}/schema${refresh ? '?refresh=true' : ''}`),
    [props.id, refresh],
  )
  const [filter, setFilter] = useState('')
  const [shown, setShown] = useState(PAGE)
  const [selected, setSelected] = useState<string | null>(null)
  const tables = load.state === 'ready' ? load.data.table : []
  const matching = useMemo(() => {
    const f = filter.trim().toLowerCase()
    return f ? tables.filter((t) => t.name.toLowerCase().includes(f)) : tables
  }, [tables, filter])
  const table = tables.find((t) => t.name === selected) ?? null

  return (
    <section aria-labelledby="schema-title">
      <p>
        <Link to="/services">← Services</Link> · <Link to={`/services/${props.id}`}>Connection</Link>
      </p>
      <div class="heading">
        <h1 id="schema-title">Schema{load.state === 'ready' ? ` of ${load.data.service}` : ''}</h1>
        <button
          type="button"
          class="secondary"
          disabled={load.state === 'loading'}
          onClick={() => (refresh ? reload() : setRefresh(true))}
        >
          Refresh schema
        </button>
      </div>
      <LoadStatus load={load} loading="Reading the schema…" />
      {load.state === 'ready' && (
        <div class="split">
          <div class="list">
            <label for="table-filter">Find a table</label>
            <input
              id="table-filter"
              type="search"
              value={filter}
              onInput={(e) => {
                setFilter((e.target as HTMLInputElement).value)
                setShown(PAGE)
              }}
            />
            <p class="muted" aria-live="polite">
              {matching.length} of {tables.length} tables and views
            </p>
            {tables.length === 0 && <p class="empty">The login sees no table in this database.</p>}
            <ul aria-label="Tables and views">
              {matching.slice(0, shown).map((t) => (
                <li key={t.name}>
                  <button
                    type="button"
                    class={t.name === selected ? 'item selected' : 'item'}
                    aria-pressed={t.name === selected}
                    onClick={() => setSelected(t.name)}
                  >
                    {t.name}
                    {t.is_view && <span class="tag">view</span>}
                  </button>
                </li>
              ))}
            </ul>
            {matching.length > shown && (
              <button type="button" class="secondary" onClick={() => setShown(shown + PAGE)}>
                Show {Math.min(PAGE, matching.length - shown)} more
              </button>
            )}
          </div>
          <div class="detail">
            {table ? <TableDetail table={table} /> : <p class="empty">Choose a table to see its fields and relationships.</p>}
            <h2>Functions</h2>
            {load.data.function.length === 0 ? (
              <p class="empty">No function or procedure.</p>
            ) : (
              <ul class="plain">
                {load.data.function.map((f) => (
                  <li key={f.name}>
                    <code>
                      {f.name}({f.args.filter((a) => a.mode !== 'out' && a.mode !== 'table').map((a) => `${a.name} ${a.type}`.trim()).join(', ')}) → {f.returns}
                    </code>{' '}
                    <span class="tag">{f.kind}</span>
                  </li>
                ))}
              </ul>
            )}
          </div>
        </div>
      )}
    </section>
  )
}

function TableDetail(props: { table: SchemaTable }) {
  const t = props.table
  return (
    <div>
      <h2>
        {t.name} {t.is_view && <span class="tag">view</span>}
      </h2>
      {t.description && <p>{t.description}</p>}
      <table>
        <caption class="sr-only">Fields of {t.name}</caption>
        <thead>
          <tr>
            <th scope="col">Field</th>
            <th scope="col">Type</th>
            <th scope="col">Null</th>
            <th scope="col">Key</th>
          </tr>
        </thead>
        <tbody>
          {t.field.map((f) => (
            <tr key={f.name}>
              <td>
                <code>{f.name}</code>
              </td>
              <td>{f.db_type}</td>
              <td>{f.allow_null ? 'yes' : 'no'}</td>
              <td>
                {f.is_primary_key ? 'primary' : ''}
                {f.is_foreign_key ? `→ ${f.ref_table}.${f.ref_field}` : ''}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Relationships</h3>
      {t.related.length === 0 ? (
        <p class="empty">None.</p>
      ) : (
        <ul class="plain">
          {t.related.map((r) => (
            <li key={r.name}>
              <code>{r.name}</code>: {r.type.replace('_', ' ')} {r.ref_table}
            </li>
          ))}
        </ul>
      )}
    </div>
  )
}
