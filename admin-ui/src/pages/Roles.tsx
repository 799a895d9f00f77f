// The roles list: searchable and paged, so a hundred roles stay quick to scan.
import { api } from '../api'
import { useLoad } from '../load'
import { LoadStatus } from '../LoadStatus'
import { Link } from '../router'
import type { Role } from '../roles'
import { useFinder, valueOf } from '../ui'

export function Roles() {
  const [load] = useLoad(() =>
    api<{ resource: Role[] }>('GET', '/api/v2/system/role?related=role_service_access_by_role_id').then((r) => r.resource),
  )
  const roles = load.state === 'ready' ? load.data : []
  const { find, setFind, visible, more } = useFinder(roles, (r) => `${r.name} ${r.description ?? ''}`)
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
          <input id="role-find" type="search" value={find} onInput={(e) => setFind(valueOf(e))} />
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
              {visible.map((r) => (
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
          {more}
        </>
      )}
    </section>
  )
}
