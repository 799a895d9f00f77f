// The console's shell: sign-in for visitors without a session, otherwise the navigation and the
// page of the current route.
import { useEffect } from 'preact/hooks'
import { signOut, toSignIn, token } from './api'
import { Link, navigate, pathOf, useRoute } from './router'
import { Login } from './pages/Login'
import { Services } from './pages/Services'

const PAGES: { path: string; title: string; page: () => preact.JSX.Element }[] = [
  { path: '/services', title: 'Services', page: Services },
]

export function App() {
  const route = useRoute()
  const path = pathOf(route)
  const signedIn = token() !== null

  const current = PAGES.find((p) => p.path === path)

  useEffect(() => {
    if (!signedIn && path !== '/login') toSignIn()
    else if (signedIn && path === '/') navigate('/services', true)
    else if (path !== '/login') document.title = `${current?.title ?? 'Not found'} · Rampart console`
  }, [signedIn, path, current])

  if (path === '/login') return <Login route={route} />
  if (!signedIn || path === '/') return null
  return (
    <div class="shell">
      <header class="bar">
        <span class="brand">Rampart</span>
        <nav aria-label="Console">
          {PAGES.map((p) => (
            <Link to={p.path} aria-current={p.path === path ? 'page' : undefined}>
              {p.title}
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
          <current.page />
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
