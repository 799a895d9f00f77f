// The console's shell: sign-in for visitors without a session, otherwise the navigation and the
// page of the current route.
import { useEffect, useState } from 'preact/hooks'
import { signOut, toSignIn, token } from './api'
import { takeFlash } from './flash'
import { Link, match, navigate, pathOf, useRoute } from './router'
import { Login } from './pages/Login'
import { Services } from './pages/Services'
import { ServiceForm } from './pages/ServiceForm'
import { Schema } from './pages/Schema'
import { Roles } from './pages/Roles'
import { RoleEditor } from './pages/RoleEditor'
import { RolePreview } from './pages/RolePreview'
import { RoleApi } from './pages/RoleApi'
import { RoleReview } from './pages/RoleReview'
import { Apps, NewApp } from './pages/Apps'
import { AppDetail } from './pages/AppDetail'
import { UserForm, Users } from './pages/Users'
import { Audit } from './pages/Audit'
import { ProviderForm, Providers } from './pages/Providers'
import { Cors, Limits, Lookups } from './pages/Policies'
import { Agents } from './pages/Agents'

type Params = Record<string, string>

/** Every page: its route pattern, the section it belongs to, and its title. */
const PAGES: { pattern: string; section: string; title: (p: Params) => string; page: (p: Params) => preact.JSX.Element }[] = [
  { pattern: '/services', section: 'Services', title: () => 'Services', page: () => <Services /> },
  { pattern: '/services/new', section: 'Services', title: () => 'New service', page: () => <ServiceForm /> },
  { pattern: '/services/:id', section: 'Services', title: () => 'Service', page: (p) => <ServiceForm id={Number(p.id)} /> },
  { pattern: '/services/:id/schema', section: 'Services', title: () => 'Schema', page: (p) => <Schema id={Number(p.id)} /> },
  { pattern: '/roles', section: 'Roles', title: () => 'Roles', page: () => <Roles /> },
  { pattern: '/roles/new', section: 'Roles', title: () => 'New role', page: () => <RoleEditor /> },
  { pattern: '/roles/:id', section: 'Roles', title: () => 'Role', page: (p) => <RoleEditor id={Number(p.id)} /> },
  { pattern: '/roles/:id/preview', section: 'Roles', title: () => 'See as role', page: (p) => <RolePreview id={Number(p.id)} /> },
  { pattern: '/roles/:id/api', section: 'Roles', title: () => 'Role API', page: (p) => <RoleApi id={Number(p.id)} /> },
  { pattern: '/roles/:id/review', section: 'Roles', title: () => 'Access review', page: (p) => <RoleReview id={Number(p.id)} /> },
  { pattern: '/apps', section: 'Apps', title: () => 'Apps', page: () => <Apps /> },
  { pattern: '/apps/new', section: 'Apps', title: () => 'New app', page: () => <NewApp /> },
  { pattern: '/apps/:id', section: 'Apps', title: () => 'App', page: (p) => <AppDetail id={Number(p.id)} /> },
  { pattern: '/users', section: 'Users', title: () => 'Users', page: () => <Users /> },
  { pattern: '/users/new', section: 'Users', title: () => 'New user', page: () => <UserForm /> },
  { pattern: '/users/:id', section: 'Users', title: () => 'User', page: (p) => <UserForm id={Number(p.id)} /> },
  { pattern: '/providers', section: 'Identity', title: () => 'Identity providers', page: () => <Providers /> },
  { pattern: '/providers/new', section: 'Identity', title: () => 'New identity provider', page: () => <ProviderForm /> },
  { pattern: '/providers/:id', section: 'Identity', title: () => 'Identity provider', page: (p) => <ProviderForm id={Number(p.id)} /> },
  { pattern: '/agents', section: 'MCP', title: () => 'MCP authorization', page: () => <Agents /> },
  { pattern: '/lookups', section: 'Lookups', title: () => 'Lookups', page: () => <Lookups /> },
  { pattern: '/cors', section: 'CORS', title: () => 'CORS', page: () => <Cors /> },
  { pattern: '/limits', section: 'Limits', title: () => 'Limits', page: () => <Limits /> },
  { pattern: '/audit', section: 'Audit log', title: () => 'Audit log', page: () => <Audit /> },
]

/** The sections in the navigation, each with its first page. */
const SECTIONS: { name: string; path: string }[] = [
  { name: 'Services', path: '/services' },
  { name: 'Roles', path: '/roles' },
  { name: 'Apps', path: '/apps' },
  { name: 'Users', path: '/users' },
  { name: 'Identity', path: '/providers' },
  { name: 'MCP', path: '/agents' },
  { name: 'Lookups', path: '/lookups' },
  { name: 'CORS', path: '/cors' },
  { name: 'Limits', path: '/limits' },
  { name: 'Audit log', path: '/audit' },
]

export function App() {
  const route = useRoute()
  const path = pathOf(route)
  const signedIn = token() !== null
  let params: Params = {}
  const current = PAGES.find((p) => {
    const m = match(p.pattern, path)
    if (m) params = m
    return m !== null
  })
  const title = current ? current.title(params) : 'Not found'

  useEffect(() => {
    if (!signedIn && path !== '/login') toSignIn()
    else if (signedIn && path === '/') navigate('/services', true)
    else if (path !== '/login') document.title = `${title} · Rampart console`
  }, [signedIn, path, title])

  if (path === '/login') return <Login route={route} />
  if (!signedIn || path === '/') return null
  return (
    <div class="shell">
      <header class="bar">
        <span class="brand">Rampart</span>
        <nav aria-label="Console">
          {SECTIONS.map((s) => (
            <Link to={s.path} aria-current={current?.section === s.name ? 'page' : undefined}>
              {s.name}
            </Link>
          ))}
        </nav>
        <button
          type="button"
          class="quiet"
          onClick={async () => {
            await signOut().catch(() => undefined)
            navigate('/login', true)
          }}
        >
          Sign out
        </button>
      </header>
      <main>
        {current ? (
          // A new key per route, so a page's state never leaks into the next one.
          <div key={path}>
            <Flash />
            {current.page(params)}
          </div>
        ) : (
          <section>
            <h1>Not found</h1>
            <p>
              There is no console page at <code>{path}</code>. <Link to="/services">Go to services</Link>.
            </p>
          </section>
        )}
      </main>
    </div>
  )
}

/** What the previous page finished ("Role created."), announced once on arrival. */
function Flash() {
  const [notice] = useState(takeFlash)
  return notice ? (
    <p class="ok flash" role="status">
      {notice.text}
      {notice.next && (
        <>
          {' '}
          <Link to={notice.next.to}>{notice.next.label}</Link>
        </>
      )}
    </p>
  ) : null
}
