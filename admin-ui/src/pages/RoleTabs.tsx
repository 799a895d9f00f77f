// The views of one role — its access (the editor), what it sees, its API, its review — and
// the frame every one of them shares: the way back, the title, and the tabs.
import { Link } from '../router'

const TABS = [
  { name: 'Access', path: '' },
  { name: 'See as this role', path: '/preview' },
  { name: 'API', path: '/api' },
  { name: 'Access review', path: '/review' },
]

export function RoleTabs(props: { id: number; current: string }) {
  return (
    <nav class="tabs" aria-label="Role views">
      {TABS.map((t) => (
        <Link to={`/roles/${props.id}${t.path}`} aria-current={t.name === props.current ? 'page' : undefined}>
          {t.name}
        </Link>
      ))}
    </nav>
  )
}

/** A role view: back to the roles, the title, the tabs (when the role exists), the content. */
export function RolePage(props: { id?: number; title: string; current: string; children: preact.ComponentChildren }) {
  return (
    <section aria-labelledby="role-page-title">
      <p>
        <Link to="/roles">← Roles</Link>
      </p>
      <div class="heading">
        <h1 id="role-page-title">{props.title}</h1>
        {props.id !== undefined && (
          <Link to={`/apps/new?role=${props.id}`} class="button secondary">
            Create an app key with this role
          </Link>
        )}
      </div>
      {props.id !== undefined && <RoleTabs id={props.id} current={props.current} />}
      {props.children}
    </section>
  )
}
