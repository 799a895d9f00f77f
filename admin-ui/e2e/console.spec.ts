// The console as an admin meets it: sign-in (and back to the page asked for), the services
// list from the real server, sign-out, expired sessions, reloads and unknown routes; each
// screen checked with axe-core and photographed for review.
import { expect, test } from '@playwright/test'
import { EMAIL, PASSWORD, screen, signIn, watch } from './helpers'

test('an unauthenticated visit signs in and returns to the page asked for', async ({ page }) => {
  const problems = watch(page)
  await page.goto('services')
  await expect(page).toHaveURL(/\/admin\/login\?next=%2Fservices$/)
  await expect(page.getByRole('heading', { name: 'Sign in to Rampart' })).toBeVisible()
  await screen(page, 'sign-in')
  await signIn(page)
  await expect(page).toHaveURL(/\/admin\/services$/)
  await expect(page.getByRole('heading', { name: 'Services' })).toBeVisible()
  // The fixture's database service, as the system API lists it.
  await expect(page.getByRole('row', { name: /^db\b.*pgsql/ })).toBeVisible()
  await expect(page.getByRole('link', { name: 'db', exact: true })).toBeVisible()
  await expect(page.getByRole('link', { name: 'Services' })).toHaveAttribute('aria-current', 'page')
  // The way to a first key, ticked off from what the server holds (a database and roles, no app yet).
  const start = page.getByRole('complementary', { name: /Get started/ })
  await expect(start.getByText('Connect a PostgreSQL database (done)')).toBeVisible()
  await expect(start.getByRole('link', { name: 'Define a role' })).toHaveCount(0)
  await expect(start.getByRole('link', { name: 'Create an app key with that role' })).toBeVisible()
  await screen(page, 'services')
  // A reload keeps the session and the page.
  await page.reload()
  await expect(page.getByRole('heading', { name: 'Services' })).toBeVisible()
  expect(problems).toEqual([])
})

test("a refused sign-in shows the server's message where the form is", async ({ page }) => {
  const problems = watch(page)
  await page.goto('login')
  await page.getByLabel('Email').fill(EMAIL)
  await page.getByLabel('Password').fill('not-the-password-at-all')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.getByRole('alert')).toHaveText('Invalid credentials supplied.')
  await expect(page).toHaveURL(/\/admin\/login$/)
  expect(problems).toEqual([])
})

test('an ended session returns to sign-in, then to the page', async ({ page }) => {
  const problems = watch(page)
  await page.goto('login')
  await signIn(page)
  await expect(page.getByRole('heading', { name: 'Services' })).toBeVisible()
  // The server no longer knows the token (as after an expiry or a revocation).
  await page.evaluate(() => sessionStorage.setItem('rampart.session', 'expired-or-revoked'))
  await page.goto('services')
  await expect(page).toHaveURL(/\/admin\/login\?next=%2Fservices$/)
  await signIn(page)
  await expect(page).toHaveURL(/\/admin\/services$/)
  expect(problems).toEqual([])
})

test('sign-out ends the session; unknown routes say so; keyboard reaches every control', async ({ page }) => {
  const problems = watch(page)
  await page.goto('login')
  // Keyboard only: the fields and the button in order, submitted with Enter.
  await page.getByLabel('Email').focus()
  await page.keyboard.type(EMAIL)
  await page.keyboard.press('Tab')
  await expect(page.getByLabel('Password')).toBeFocused()
  await page.keyboard.type(PASSWORD)
  await page.keyboard.press('Enter')
  await expect(page.getByRole('heading', { name: 'Services' })).toBeVisible()

  await page.goto('no-such-page')
  await expect(page.getByRole('heading', { name: 'Not found' })).toBeVisible()
  await screen(page, 'not-found')

  await page.getByRole('button', { name: 'Sign out' }).click()
  await expect(page).toHaveURL(/\/admin\/login$/)
  await page.goto('services')
  await expect(page).toHaveURL(/\/admin\/login\?next=%2Fservices$/)
  expect(problems).toEqual([])
})

test('a narrow window keeps every control usable', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 800 })
  await page.goto('login')
  await signIn(page)
  await expect(page.getByRole('heading', { name: 'Services' })).toBeVisible()
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeInViewport()
  await screen(page, 'services-narrow')
})

test('a service is connected to a real PostgreSQL, browsed, and deleted', async ({ page }) => {
  const problems = watch(page)
  const db = JSON.parse(process.env.SERVICE_CONFIG ?? '{}')
  await page.goto('login')
  await signIn(page)
  await page.getByRole('link', { name: 'New service' }).click()
  await expect(page.getByRole('heading', { name: 'New PostgreSQL service' })).toBeVisible()
  // Host and port are filled in; typing starts at the database.
  await expect(page.getByLabel('Database')).toBeFocused()
  await page.getByLabel('Name', { exact: true }).fill('shop2')
  await page.getByLabel('Host').fill(String(db.host))
  await page.getByLabel('Port').fill('1')
  await page.getByLabel('Database').fill(String(db.database))
  await page.getByLabel('Username').fill(String(db.username))
  await page.getByLabel('Password', { exact: true }).fill(String(db.password ?? ''))
  await page.getByLabel('TLS (sslmode)').selectOption('disable')
  // A wrong port: the server's own message, inline; nothing is created.
  await page.getByRole('button', { name: 'Test connection' }).click()
  await expect(page.getByRole('alert')).toContainText('Could not connect to the database')
  await page.getByLabel('Port').fill(String(db.port))
  await page.getByRole('button', { name: 'Test connection' }).click()
  await expect(page.getByRole('status')).toHaveText('Connected.')
  await screen(page, 'service-new')
  await page.getByRole('button', { name: 'Create service' }).click()

  // The new service's schema.
  await expect(page.getByRole('heading', { name: 'Schema of shop2' })).toBeVisible()
  await page.getByLabel('Find a table').fill('ord')
  await page.getByRole('button', { name: 'orders', exact: true }).click()
  await expect(page.getByRole('heading', { name: 'orders' })).toBeVisible()
  await expect(page.getByRole('row', { name: /customer_id .*→ customers\.id/ })).toBeVisible()
  await screen(page, 'schema')

  // Editing keeps the stored password unless a new one is typed; deleting asks first.
  await page.getByRole('link', { name: 'Connection' }).click()
  await expect(page.getByLabel('Password', { exact: true })).toHaveAttribute('placeholder', 'unchanged')
  await page.getByRole('button', { name: 'Test connection' }).click()
  await expect(page.getByRole('status')).toHaveText('Connected.')
  await screen(page, 'service-edit')
  await page.getByRole('button', { name: 'Delete service' }).click()
  await expect(page.getByRole('alertdialog', { name: 'Delete service shop2?' })).toBeVisible()
  await page.getByRole('button', { name: 'Delete shop2' }).click()
  await expect(page.getByRole('heading', { name: 'Services' })).toBeVisible()
  await expect(page.getByRole('link', { name: 'shop2' })).toHaveCount(0)
  expect(problems).toEqual([])
})

test('every console page loads on its own (a reload or a shared link) and passes axe', async ({ page }) => {
  const problems = watch(page)
  await page.goto('login')
  await signIn(page)
  await expect(page.getByRole('heading', { name: 'Services' })).toBeVisible()
  const pages: [string, string][] = [
    ['services/new', 'New PostgreSQL service'],
    ['roles', 'Roles'],
    ['roles/new', 'New role'],
    ['apps', 'Apps and API keys'],
    ['apps/new', 'New app'],
    ['users', 'Users'],
    ['users/new', 'New user'],
    ['providers', 'Identity providers'],
    ['providers/new', 'New identity provider'],
    ['agents', 'MCP authorization'],
    ['lookups', 'Lookups'],
    ['cors', 'CORS'],
    ['limits', 'Limits'],
    ['audit', 'Audit log'],
  ]
  for (const [route, heading] of pages) {
    await page.goto(route)
    await expect(page.getByRole('heading', { name: heading, exact: true })).toBeVisible()
    await expect(page).toHaveTitle(new RegExp(`· Rampart console$`))
    await screen(page, `page-${route.replace('/', '-')}`)
  }
  expect(problems).toEqual([])
})
