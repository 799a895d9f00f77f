// The services list: the databases this server serves, with loading, empty and error states.
import { useEffect, useState } from 'preact/hooks'
import { api, ApiError } from '../api'

interface Service {
  id: number
  name: string
  label: string
  type: string
  is_active: boolean
  description: string | null
}

type Load<T> = { state: 'loading' } | { state: 'failed'; message: string } | { state: 'ready'; data: T }

export function Services() {
  const [load, setLoad] = useState<Load<Service[]>>({ state: 'loading' })
  useEffect(() => {
    api<{ resource: Service[] }>('GET', '/api/v2/system/service')
      .then((r) => setLoad({ state: 'ready', data: r.resource }))
      .catch((e) => setLoad({ state: 'failed', message: e instanceof ApiError ? e.message : String(e) }))
  }, [])

  return (
    <section aria-labelledby="services-title">
      <h1 id="services-title">Services</h1>
      {load.state === 'loading' && <p aria-live="polite">Loading services…</p>}
      {load.state === 'failed' && (
        <p class="error" role="alert">
          {load.message}
        </p>
      )}
      {load.state === 'ready' && load.data.length === 0 && (
        <p class="empty">No database is connected yet.</p>
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
            </tr>
          </thead>
          <tbody>
            {load.data.map((s) => (
              <tr key={s.id}>
                <td>
                  <code>{s.name}</code>
                </td>
                <td>{s.label}</td>
                <td>{s.type}</td>
                <td>{s.is_active ? 'Yes' : 'No'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}
