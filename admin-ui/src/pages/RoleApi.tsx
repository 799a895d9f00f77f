// The role's API: the OpenAPI document a caller with this role gets (pruned to what it may
// do), fetched with the admin's session and shown in the Swagger UI the server already serves
// at /api/docs — loaded on demand, so it costs the console nothing until this page opens.
import { useEffect, useRef, useState } from 'preact/hooks'
import { api } from '../api'
import { useLoad } from '../load'
import { LoadStatus } from '../LoadStatus'
import type { Role } from '../roles'
import { RolePage } from './RoleTabs'
import { checkedOf } from '../ui'

type Swagger = (options: {
  spec: unknown
  domNode: HTMLElement
  deepLinking: boolean
  tryItOutEnabled: boolean
  defaultModelsExpandDepth: number
}) => unknown

/** Loads Swagger UI's script and stylesheet from /api/docs once. */
let swagger: Promise<Swagger> | null = null
function loadSwagger(): Promise<Swagger> {
  swagger ??= new Promise<Swagger>((resolve, reject) => {
    const css = document.createElement('link')
    css.rel = 'stylesheet'
    css.href = '/api/docs/swagger-ui.css'
    document.head.appendChild(css)
    const script = document.createElement('script')
    script.src = '/api/docs/swagger-ui-bundle.js'
    script.onload = () => resolve((window as unknown as { SwaggerUIBundle: Swagger }).SwaggerUIBundle)
    script.onerror = () => {
      swagger = null
      reject(new Error('Swagger UI could not be loaded from /api/docs.'))
    }
    document.head.appendChild(script)
  })
  return swagger
}

interface Doc {
  paths: Record<string, Record<string, unknown>>
  tags?: { name: string }[]
}

const SYSTEM = '/api/v2/system'

/** The document without the system API (sign-in and admin endpoints every document lists). */
function servicesOnly(doc: Doc): Doc {
  return {
    ...doc,
    paths: Object.fromEntries(Object.entries(doc.paths).filter(([p]) => !p.startsWith(SYSTEM))),
    tags: doc.tags?.filter((t) => !t.name.startsWith('system')),
  }
}

export function RoleApi(props: { id: number }) {
  const [load] = useLoad(
    () =>
      Promise.all([
        api<Role>('GET', `/api/v2/system/role/${props.id}`),
        api<Doc>('GET', `/api/v2/system/role/${props.id}/openapi`),
      ]),
    [props.id],
  )
  const host = useRef<HTMLDivElement>(null)
  const [failed, setFailed] = useState<string | null>(null)
  const [withSystem, setWithSystem] = useState(false)
  useEffect(() => {
    if (load.state !== 'ready' || !host.current) return
    const node = host.current
    const spec = withSystem ? load.data[1] : servicesOnly(load.data[1])
    loadSwagger()
      // Without the system API, its data models are left out too (-1 hides the models list).
      .then((ui) => ui({ spec, domNode: node, deepLinking: false, tryItOutEnabled: false, defaultModelsExpandDepth: withSystem ? 1 : -1 }))
      .catch((e: Error) => setFailed(e.message))
  }, [load, withSystem])
  if (load.state !== 'ready') return <LoadStatus load={load} loading="Loading the role's API…" />
  const [role, doc] = load.data
  const count = (d: Doc) => Object.values(d.paths).reduce((n, item) => n + Object.keys(item).length, 0)
  const own = count(servicesOnly(doc))
  return (
    <RolePage id={role.id} title={`API of ${role.name}`} current="API">
      <p class="muted">
        What a caller with this role may do with the database services: {own} operations. Tables, verbs and functions the role
        may not use are absent. The full document a caller gets at <code>/api/docs</code> also lists the system API (
        {count(doc) - own} operations: sign-in for everyone, the rest for admins only).
      </p>
      <label class="check">
        <input type="checkbox" checked={withSystem} onChange={(e) => setWithSystem(checkedOf(e))} /> Show the system API too
      </label>
      {failed && (
        <p class="error" role="alert">
          {failed}
        </p>
      )}
      <div ref={host} class="swagger" />
    </RolePage>
  )
}
