// The views of one role: its access (the editor), what it sees, its API, and its review.
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
