// "See as this role": a table exactly as the role reads it. The rows come from the server's
// preview endpoint, which runs the request through the real pipeline as the role (row
// filter, masks, hidden fields, lookups) — nothing here imitates the rules.
import { useEffect, useRef, useState } from 'preact/hooks'
import { api } from '../api'
import { useLoad } from '../load'
import { LoadStatus } from '../LoadStatus'
import { tablesReached, type Role } from '../roles'
import { OutcomeLine, useRun, valueOf } from '../ui'
import { RolePage } from './RoleTabs'
import { useSchemas } from './RoleEditor'

type Rows = Record<string, unknown>[]

export function RolePreview(props: { id: number }) {
  const [load] = useLoad(() => api<Role>('GET', `/api/v2/system/role/${props.id}?related=role_service_access_by_role_id`), [props.id])
  const [users] = useLoad(() => api<{ resource: { id: number; email: string }[] }>('GET', '/api/v2/system/user').then((r) => r.resource))
  const { services, schemaOf } = useSchemas()
  const [service, setService] = useState<number | null>(null)
  const [table, setTable] = useState('')
  const [asUser, setAsUser] = useState('')
  const [filter, setFilter] = useState('')
  const [rows, setRows] = useState<Rows | null>(null)
  const [read, setRead] = useState('')
  const { busy, outcome, run } = useRun()
  const role = load.state === 'ready' ? load.data : null
  const access = role?.role_service_access_by_role_id ?? []
  const serviceId = service ?? access.find((a) => a.service_id)?.service_id ?? services[0]?.id ?? null
  const svc = services.find((s) => s.id === serviceId)
  const schema = schemaOf(serviceId)
  const reached = tablesReached(access, serviceId, schema?.table.map((t) => t.name) ?? [])
  const chosen = reached.includes(table) ? table : reached[0] ?? ''
  const readRows = () => {
    if (!role || !svc || !chosen) return
    setRows(null)
    run(async () => {
      const q = new URLSearchParams({ limit: '50' })
      if (asUser) q.set('as_user', asUser)
      if (filter.trim()) q.set('filter', filter.trim())
      const r = await api<{ resource: Rows }>(
        'GET',
        `/api/v2/system/role/${role.id}/preview/${encodeURIComponent(svc.name)}/${encodeURIComponent(chosen)}?${q}`,
      )
      setRows(r.resource)
      setRead(chosen)
    })
  }
  // The first table the role reaches is shown at once.
  const first = useRef(true)
  useEffect(() => {
    if (first.current && svc && chosen) {
      first.current = false
      readRows()
    }
  }, [svc, chosen])
  if (!role) return <LoadStatus load={load} loading="Loading the role…" />
  const show = (e: Event) => {
    e.preventDefault()
    readRows()
  }
  const columns = rows ? [...new Set(rows.flatMap((r) => Object.keys(r)))] : []
  return (
    <RolePage id={role.id} title={`See as ${role.name}`} current="See as this role">
      <p class="muted">Rows exactly as the role gets them, from the server's own checks.</p>
      <form class="grid" onSubmit={show}>
        <label for="preview-service">Service</label>
        <select id="preview-service" value={serviceId ?? ''} onChange={(e) => (setService(Number((e.target as HTMLSelectElement).value)), setTable(''))}>
          {services.map((s) => (
            <option value={s.id}>{s.name}</option>
          ))}
        </select>
        <label for="preview-table">Table</label>
        <select id="preview-table" required value={chosen} onChange={(e) => setTable((e.target as HTMLSelectElement).value)}>
          {reached.length === 0 && <option value="">{schema ? 'This role reaches no table of this service' : 'Loading the tables…'}</option>}
          {reached.map((t) => (
            <option value={t}>{t}</option>
          ))}
        </select>
        <label for="preview-user">As user</label>
        <select id="preview-user" aria-describedby="preview-user-help" value={asUser} onChange={(e) => setAsUser((e.target as HTMLSelectElement).value)}>
          <option value="">Nobody (an app key)</option>
          {users.state === 'ready' &&
            users.data.map((u) => (
              <option value={u.id}>{u.email}</option>
            ))}
        </select>
        <small id="preview-user-help">Whose {'{user.…}'} lookups the row filter uses.</small>
        <label for="preview-filter">Filter</label>
        <input id="preview-filter" class="mono" placeholder="optional, as a client would send it" value={filter} onInput={(e) => setFilter(valueOf(e))} />
        <div class="actions">
          <button type="submit" disabled={busy || !svc || !chosen}>
            Show rows
          </button>
        </div>
        <OutcomeLine outcome={outcome} />
      </form>
      {busy && <p aria-live="polite">Reading as {role.name}…</p>}
      {rows && rows.length === 0 && <p class="empty">This role sees no rows of {read}.</p>}
      {rows && rows.length > 0 && (
        <div class="scroll">
          <table>
            <caption>
              {read} as {role.name} ({rows.length} rows{rows.length === 50 ? ', the first 50' : ''})
            </caption>
            <thead>
              <tr>
                {columns.map((c) => (
                  <th scope="col">{c}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr>
                  {columns.map((c) => (
                    <td>{cell(r[c])}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </RolePage>
  )
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '—'
  return typeof v === 'object' ? JSON.stringify(v) : String(v)
}
