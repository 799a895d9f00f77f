// Routing on the history API under the console's base path (/admin/): a route is the path
// below it. Links push history entries; listeners re-render on every change.
import { useEffect, useState } from 'preact/hooks'

const BASE = import.meta.env.BASE_URL.replace(/\/$/, '')

/** The current route: the path below /admin, starting with '/'. */
export function currentRoute(): string {
  const path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : location.pathname
  return (path || '/') + location.search
}

const listeners = new Set<() => void>()

/** Goes to a route; `replace` keeps the history length (redirects). */
export function navigate(route: string, replace = false): void {
  const url = BASE + route
  if (replace) history.replaceState(null, '', url)
  else history.pushState(null, '', url)
  listeners.forEach((l) => l())
}

addEventListener('popstate', () => listeners.forEach((l) => l()))

/** The current route, re-rendering the caller when it changes. */
export function useRoute(): string {
  const [route, setRoute] = useState(currentRoute())
  useEffect(() => {
    const update = () => setRoute(currentRoute())
    listeners.add(update)
    return () => void listeners.delete(update)
  }, [])
  return route
}

/** A query parameter of a route. */
export function param(route: string, name: string): string | null {
  const q = route.indexOf('?')
  return q < 0 ? null : new URLSearchParams(route.slice(q + 1)).get(name)
}

/** The path of a route, without its query. */
export function pathOf(route: string): string {
  const q = route.indexOf('?')
  return q < 0 ? route : route.slice(0, q)
}

/** An in-console link: a real <a href> (open in a new tab works) that navigates in place. */
export function Link(props: { to: string; children: preact.ComponentChildren; class?: string; 'aria-current'?: 'page' }) {
  return (
    <a
      href={BASE + props.to}
      class={props.class}
      aria-current={props['aria-current']}
      onClick={(e: MouseEvent) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
        e.preventDefault()
        navigate(props.to)
      }}
    >
      {props.children}
    </a>
  )
}

export { match } from './match'
