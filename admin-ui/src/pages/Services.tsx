// The services list: the databases this server serves, with loading, empty and error states.
import { api } from '../api'
import { useLoad } from '../load'
import { LoadStatus } from '../LoadStatus'
import { Link } from '../router'
import type { Service } from '../services'
import { GetStarted } from './GetStarted'

export function Services() {
  const [load] = useLoad(() => api<{ resource: Service[] }>('GET', '/api/v2/system/service').then((r) => r.resource))
  return (
    <section aria-labelledby="services-title">
      <div class="heading">
        <h1 id="services-title">Services</h1>
        <Link to="/services/new" class="button">
          New service
        </Link>
      </div>
      <GetStarted />
      <LoadStatus load={load} loading="Loading services…" />
      {load.state === 'ready' && load.data.length === 0 && (
        <p class="empty">No database connected yet.</p>
      )}
      {load.state === 'ready' && load.data.length > 0 && (
        <table>
          <caption class="sr-only">Services</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Label</th>
              <th scope="col">Type</th>
              <th scope="col">Active</th>
              <th scope="col">Schema</th>
            </tr>
          </thead>
          <tbody>
            {load.data.map((s) => (
              <tr key={s.id}>
                <td>
                  <Link to={`/services/${s.id}`}>{s.name}</Link>
                </td>
                <td>{s.label}</td>
                <td>{s.type}</td>
                <td>{s.is_active ? 'Yes' : 'No'}</td>
                <td>
                  <Link to={`/services/${s.id}/schema`}>
                    Browse<span class="sr-only"> the schema of {s.name}</span>
                  </Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}
