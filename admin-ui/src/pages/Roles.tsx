// The roles list: searchable and paged, so a hundred roles stay quick to scan.
import { useMemo, useState } from 'preact/hooks'
import { api } from '../api'
import { useLoad } from '../load'
import { LoadStatus } from '../LoadStatus'
import { Link } from '../router'
import type { Role } from '../roles'
import { valueOf } from '../ui'

const PAGE = 50

export function Roles() {
  const [load] = useLoad(() =>
    api<{ resource: Role[] }>('GET', '/api/v2/system/role?related=role_service_access_by_role_id').then((r) => r.resource),
  )
  const [find, setFind] = useState('')
  const [shown, setShown] = useState(PAGE)
  const roles = load.state === 'ready' ? load.data : []
  const matching = useMemo(() => {
    const f = find.trim().toLowerCase()
    return f ? roles.filter((r) => r.name.toLowerCase().includes(f) || (r.description ?? '').toLowerCase().includes(f)) : roles
  }, [roles, find])
  return (
    <section aria-labelledby="roles-title">
      <div class="heading">
        <h1 id="roles-title">Roles</h1>
        <Link to="/roles/new" class="button">
          New role
        </Link>
      </div>
      <p class="muted">A role decides what an app key or a user reaches: services, tables and verbs, hidden or masked fields, and which rows.</p>
      <LoadStatus load={load} loading="Loading roles…" />
      {load.state === 'ready' && roles.length === 0 && <p class="empty">No role yet. Create one with “New role”.</p>}
      {roles.length > 0 && (
        <>
          <label for="role-find">Find a role</label>{' '}
          <input id="role-find" type="search" value={find} onInput={(e) => (setFind(valueOf(e)), setShown(PAGE))} />
          <table>
            <caption class="sr-only">Roles</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Description</th>
                <th scope="col">Access rows</th>
                <th scope="col">Active</th>
              </tr>
            </thead>
            <tbody>
              {matching.slice(0, shown).map((r) => (
                <tr key={r.id}>
                  <td>
                    <Link to={`/roles/${r.id}`}>{r.name}</Link>
                  </td>
                  <td>{r.description}</td>
                  <td>{r.role_service_access_by_role_id?.length ?? 0}</td>
                  <td>{r.is_active ? 'Yes' : 'No'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p class="muted" aria-live="polite">
            {Math.min(shown, matching.length)} of {matching.length} roles shown.
            {matching.length > shown && (
              <>
                {' '}
                <button type="button" class="secondary" onClick={() => setShown(shown + PAGE)}>
                  Show more
                </button>
              </>
            )}
          </p>
        </>
      )}
    </section>
  )
}
