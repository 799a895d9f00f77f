// The system API client. The admin session token lives in sessionStorage (it survives a reload,
// not a new tab); API keys are never stored. A 401 ends the session and returns to sign-in,
// which brings the admin back to the page they were on.
import { currentRoute, navigate } from './router'

const TOKEN = 'rampart.session'

export function token(): string | null {
  return sessionStorage.getItem(TOKEN)
}

/** An error the server answered with: its status and its message, shown as is. */
export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
  ) {
    super(message)
  }
}

/** Ends the session here and goes to sign-in, remembering where the admin was. */
export function toSignIn(): void {
  sessionStorage.removeItem(TOKEN)
  const here = currentRoute()
  // Several requests of a page may fail at once: the first one's redirect (and its `next`) stands.
  if (here.startsWith('/login')) return
  navigate(`/login?next=${encodeURIComponent(here)}`, true)
}

/** Calls the API; answers the parsed JSON body or throws ApiError with the server's message. */
export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  const t = token()
  if (t) headers['X-DreamFactory-Session-Token'] = t
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  let res: Response
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  } catch {
    throw new ApiError(0, 'The server cannot be reached. Check that Rampart is running.')
  }
  const text = await res.text()
  let json: any = null
  try {
    json = text ? JSON.parse(text) : null
  } catch {
    json = null
  }
  if (!res.ok) {
    const message: string = json?.error?.message ?? `The server answered ${res.status}.`
    if (res.status === 401 && t) toSignIn()
    throw new ApiError(res.status, message)
  }
  return json as T
}

/** Signs in as an admin; the token is kept for the session. */
export async function signIn(email: string, password: string): Promise<void> {
  const r = await api<{ session_token: string }>('POST', '/api/v2/system/admin/session', { email, password })
  sessionStorage.setItem(TOKEN, r.session_token)
}

/** Signs out (the server ends the session) and forgets the token. */
export async function signOut(): Promise<void> {
  try {
    await api('DELETE', '/api/v2/system/admin/session')
  } finally {
    sessionStorage.removeItem(TOKEN)
  }
}

/** Downloads what a GET answers (an export) as a file, with the session's credentials. */
export async function download(path: string, filename: string): Promise<void> {
  const headers: Record<string, string> = {}
  const t = token()
  if (t) headers['X-DreamFactory-Session-Token'] = t
  const res = await fetch(path, { headers })
  if (!res.ok) {
    const json = await res.json().catch(() => null)
    if (res.status === 401 && t) toSignIn()
    throw new ApiError(res.status, json?.error?.message ?? `The server answered ${res.status}.`)
  }
  const url = URL.createObjectURL(await res.blob())
  const a = document.createElement('a')
  a.href = url
  a.download = filename
  a.click()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}
