// Apps and their API keys: the list, and a form to create one. A new key is shown once, on
// the app's page; it is never stored in the browser.
import { useEffect, useRef, useState } from 'preact/hooks'
import { api } from '../api'
import { useLoad } from '../load'
import { LoadStatus } from '../LoadStatus'
import { currentRoute, Link, navigate, param } from '../router'
import type { Role } from '../roles'
import { checkedOf, OutcomeLine, useRun, valueOf } from '../ui'
import { handOver } from '../keys'

export interface App {
  id: number
  name: string
  description: string | null
  is_active: boolean
  role_id: number | null
  read_only: boolean
}

/** Every role, for the default-role choices. */
export function useRoles() {
  return useLoad(() => api<{ resource: Role[] }>('GET', '/api/v2/system/role').then((r) => r.resource))[0]
}

export function Apps() {
  const [load] = useLoad(() => api<{ resource: App[] }>('GET', '/api/v2/system/app').then((r) => r.resource))
  const roles = useRoles()
  const roleName = (id: number | null) =>
    id === null ? 'none' : roles.state === 'ready' ? roles.data.find((r) => r.id === id)?.name ?? `#${id}` : '…'
  return (
    <section aria-labelledby="apps-title">
      <div class="heading">
        <h1 id="apps-title">Apps and API keys</h1>
        <Link to="/apps/new" class="button">
          New app
        </Link>
      </div>
      <p class="muted">An app holds one API key; requests with it get the app's default role.</p>
      <LoadStatus load={load} loading="Loading apps…" />
      {load.state === 'ready' && load.data.length === 0 && <p class="empty">No app yet. Create one with “New app” to get an API key.</p>}
      {load.state === 'ready' && load.data.length > 0 && (
        <table>
          <caption class="sr-only">Apps</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Default role</th>
              <th scope="col">Read-only</th>
              <th scope="col">Active</th>
            </tr>
          </thead>
          <tbody>
            {load.data.map((a) => (
              <tr key={a.id}>
                <td>
                  <Link to={`/apps/${a.id}`}>{a.name}</Link>
                </td>
                <td>{roleName(a.role_id)}</td>
                <td>{a.read_only ? 'Yes' : 'No'}</td>
                <td>{a.is_active ? 'Yes' : 'No'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}

/** The settings an app is created and edited with. */
export interface AppSettings {
  name: string
  description: string
  role: string
  readOnly: boolean
}

/** The fields of an app's settings (name, description, default role, read-only). */
export function AppFields(props: { value: AppSettings; onChange: (v: AppSettings) => void; nameFromRole?: boolean }) {
  const roles = useRoles()
  const v = props.value
  const set = (patch: Partial<AppSettings>) => props.onChange({ ...v, ...patch })
  // A new app for a chosen role is first named after it (once; the admin may rename it).
  const named = useRef(!props.nameFromRole)
  useEffect(() => {
    if (named.current || roles.state !== 'ready' || !v.role) return
    named.current = true
    const role = roles.data.find((r) => String(r.id) === v.role)
    if (role && !v.name) set({ name: `${role.name}-app` })
  }, [roles, v.role])
  return (
    <>
      <label for="app-name">Name</label>
      <input id="app-name" required value={v.name} onInput={(e) => set({ name: valueOf(e) })} />
      <label for="app-description">Description</label>
      <input id="app-description" value={v.description} onInput={(e) => set({ description: valueOf(e) })} />
      <label for="app-role">Default role</label>
      <select id="app-role" value={v.role} onChange={(e) => set({ role: (e.target as HTMLSelectElement).value })}>
        <option value="">No role (reaches nothing)</option>
        {roles.state === 'ready' && roles.data.map((r) => <option value={r.id}>{r.name}</option>)}
      </select>
      <label class="check">
        <input type="checkbox" checked={v.readOnly} onChange={(e) => set({ readOnly: checkedOf(e) })} /> Read-only key (refuses writes whatever its role allows)
      </label>
    </>
  )
}

/** The API's fields for app settings. */
export function appRecord(v: AppSettings) {
  return { name: v.name.trim(), description: v.description.trim() || null, role_id: v.role ? Number(v.role) : null, read_only: v.readOnly }
}

export function NewApp() {
  // Arriving from a role's page, that role is the default.
  const [settings, setSettings] = useState<AppSettings>({ name: '', description: '', role: param(currentRoute(), 'role') ?? '', readOnly: false })
  const { busy, outcome, run } = useRun()
  const create = (e: Event) => {
    e.preventDefault()
    run(async () => {
      const r = await api<{ resource: { id: number; api_key: string }[] }>('POST', '/api/v2/system/app', {
        resource: [{ ...appRecord(settings), is_active: true }],
      })
      handOver(r.resource[0].id, r.resource[0].api_key)
      navigate(`/apps/${r.resource[0].id}`)
    })
  }
  return (
    <section aria-labelledby="new-app-title">
      <p>
        <Link to="/apps">← Apps</Link>
      </p>
      <h1 id="new-app-title">New app</h1>
      <form class="grid" onSubmit={create}>
        <AppFields value={settings} onChange={setSettings} nameFromRole />
        <div class="actions">
          <button type="submit" disabled={busy}>
            Create app
          </button>
        </div>
        <OutcomeLine outcome={outcome} />
      </form>
    </section>
  )
}
