// The role's access review: what it reaches, who holds it, and which grants went unused.
import { useState } from 'preact/hooks'
import { api } from '../api'
import { useLoad } from '../load'
import { LoadStatus } from '../LoadStatus'
import { holdersText, type ProviderHolder } from '../providers'
import { Link } from '../router'
import { RolePage } from './RoleTabs'

interface Review {
  role: { id: number; name: string; is_active: boolean }
  days: number
  reviewed_at: string
  holders: {
    users: { user_id: number; email: string | null; app_id: number | null }[]
    apps: { app_id: number; name: string; is_active: boolean }[]
    providers: ProviderHolder[]
  }
  permissions: {
    access_id: number
    service: string | null
    component: string
    verbs: { verb: string; last_used: string | null; unused: boolean }[]
    row_filters: unknown
    field_rules: unknown
  }[]
  related_reach: { service: string; table: string; relationship: string; reaches: string }[]
  unused: { access_id: number; service: string | null; component: string; verb: string }[]
}

const PERIODS = [30, 90, 365]

export function RoleReview(props: { id: number }) {
  const [days, setDays] = useState(90)
  const [load] = useLoad(() => api<Review>('GET', `/api/v2/system/role/${props.id}/review?days=${days}`), [props.id, days])
  return (
    <RolePage id={props.id} title={`Access review${load.state === 'ready' ? ` of ${load.data.role.name}` : ''}`} current="Access review">
      <label for="review-days">Usage over the last</label>{' '}
      <select id="review-days" value={days} onChange={(e) => setDays(Number((e.target as HTMLSelectElement).value))}>
        {PERIODS.map((d) => (
          <option value={d}>{d} days</option>
        ))}
      </select>
      <LoadStatus load={load} loading="Reading the audit trail…" />
      {load.state === 'ready' && (
        <>
          <h2>Who holds it</h2>
          {load.data.holders.apps.length + load.data.holders.users.length + load.data.holders.providers.length === 0 ? (
            <p class="empty">No app, user or identity provider gives this role.</p>
          ) : (
            <ul class="plain">
              {load.data.holders.apps.map((a) => (
                <li>
                  App <Link to={`/apps/${a.app_id}`}>{a.name}</Link>
                  {a.is_active ? '' : ' (inactive)'}
                </li>
              ))}
              {load.data.holders.users.map((u) => (
                <li>User {u.email ?? `#${u.user_id}`}</li>
              ))}
              {load.data.holders.providers.map((p) => (
                <li>
                  Signed in by <Link to={`/providers/${p.service_id}`}>{p.service}</Link>
                  {p.is_active ? '' : ' (inactive)'}: {holdersText(p)}
                </li>
              ))}
            </ul>
          )}
          <h2>What it reaches</h2>
          <table>
            <caption class="sr-only">Grants and their last use</caption>
            <thead>
              <tr>
                <th scope="col">Service</th>
                <th scope="col">Component</th>
                <th scope="col">Verbs (last used)</th>
              </tr>
            </thead>
            <tbody>
              {load.data.permissions.map((p) => (
                <tr>
                  <td>{p.service ?? 'every service'}</td>
                  <td>{p.component}</td>
                  <td>
                    {p.verbs.map((v) => `${v.verb} (${v.last_used ? v.last_used.slice(0, 10) : 'never'})`).join(', ')}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2>Also read embedded, through relationships</h2>
          {load.data.related_reach.length === 0 ? (
            <p class="empty">Nothing beyond its grants.</p>
          ) : (
            <ul class="plain">
              {load.data.related_reach.map((r) => (
                <li>
                  {r.service}/{r.reaches}, embedded in {r.table} records ({r.relationship})
                </li>
              ))}
            </ul>
          )}
          <h2>Unused in {load.data.days} days</h2>
          {load.data.unused.length === 0 ? (
            <p class="empty">Every grant was used.</p>
          ) : (
            <ul class="plain">
              {load.data.unused.map((u) => (
                <li>
                  {u.verb} on {u.service ?? 'every service'}/{u.component}
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </RolePage>
  )
}
