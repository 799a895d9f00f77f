// The console's promise, end to end: an admin defines a role with table access, a masked
// field, a hidden field and a row filter; sees the table as that role (the server's own
// answer); creates an app, copies its key once; and the REST API then gives that key exactly
// the role's rows. Each screen checked with axe-core and photographed.
import { expect, test } from '@playwright/test'
import { screen, signIn, watch } from './helpers'

const SECRETS = ['123-45-6789', '987-65-4321', '555-12-3456']

test('a restricted role, previewed, then used through an app key', async ({ page, context, request }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write'])
  const problems = watch(page)
  await page.goto('login')
  await signIn(page)
  await page.getByRole('link', { name: 'Roles', exact: true }).click()
  await expect(page.getByRole('heading', { name: 'Roles' })).toBeVisible()
  await page.getByRole('link', { name: 'New role' }).click()
  await page.getByLabel('Name', { exact: true }).fill('tenant-one')
  await page.getByLabel('Description').fill('Tenant 1 support desk')
  // A new role starts with one access row on the database, its table still to be chosen.
  const row = page.getByRole('group', { name: 'Access row 1' })
  await expect(row.getByLabel('Service')).toHaveValue(/\d+/)
  await row.getByLabel('Service').selectOption({ label: 'db' })
  const table = row.getByRole('combobox', { name: 'Table', exact: true })
  await table.focus()
  const tables = table.locator('optgroup[label="Tables and views"]')
  for (const t of ['customers', 'orders', 'shipped_orders']) await expect(tables.getByRole('option', { name: t, exact: true })).toHaveCount(1)
  await expect(table.locator('optgroup[label="Functions"]').getByRole('option', { name: 'order_total()' })).toHaveCount(1)
  await table.selectOption({ label: 'customers' })
  await expect(table).toHaveValue('_table/customers/*')
  // What the grant also opens, said where it is made, and shut off in one click: a row for
  // orders with no verbs.
  await expect(row.getByText('Also readable, embedded in its records (related): orders (orders_by_customer_id).')).toBeVisible()
  await row.getByRole('button', { name: 'Block orders' }).click()
  const shut = page.getByRole('group', { name: 'Access row 2' })
  await expect(shut.getByRole('combobox', { name: 'Table', exact: true })).toHaveValue('_table/orders/*')
  for (const verb of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) await expect(shut.getByRole('checkbox', { name: verb })).not.toBeChecked()
  await expect(row.getByRole('button', { name: 'Block orders' })).toHaveCount(0)
  await expect(shut.getByText('(blocked: no verbs, not even embedded)')).toBeVisible()
  await expect(row.getByRole('checkbox', { name: 'GET' })).toBeChecked()
  await expect(row.getByRole('checkbox', { name: 'DELETE' })).not.toBeChecked()
  // A pattern can still be typed by hand.
  await table.selectOption({ label: 'A pattern (type it)…' })
  await expect(row.getByLabel('Component')).toHaveValue('_table/customers/*')
  await row.getByLabel('Component').fill('_table/cust*')
  await expect(row.getByText('Field rules apply to one table: choose one above.')).toBeVisible()
  await table.selectOption({ label: 'customers' })
  await expect(row.getByLabel('Component')).toHaveCount(0)
  // A new row shows its row filter and field rules at once.
  await expect(row.getByRole('button', { name: 'Hide row filter and field rules' })).toHaveAttribute('aria-expanded', 'true')

  // The server's parser judges the filter as it is typed, and points at the mistake.
  const filter = row.getByLabel('Row filter')
  await filter.fill('tenant_id = 1 and (name = 2')
  await expect(row.getByText(/unclosed '\(' \(at character 19\)/)).toBeVisible()
  await expect(filter).toHaveAttribute('aria-invalid', 'true')
  await filter.fill('tenant_id = 1 and nmae = 2')
  await expect(row.getByText("Table 'customers' has no column 'nmae'. (at character 19)")).toBeVisible()
  await filter.fill('tenant_id = {tenant}')
  await expect(row.getByText('The filter is valid.')).toBeVisible()

  // Field rules, chosen from the table's columns.
  await row.getByLabel('Rule for ssn').selectOption({ label: 'Masked (last4): ****6789' })
  await row.getByLabel('Rule for email').selectOption({ label: 'Hidden' })
  await page.getByRole('button', { name: 'Add lookup' }).click()
  await page.getByLabel('Name of lookup 1').fill('tenant')
  await page.getByLabel('Value of lookup 1').fill('1')
  await screen(page, 'role-new')
  await page.getByRole('button', { name: 'Create role' }).click()
  await expect(page.getByRole('heading', { name: 'Role tenant-one' })).toBeVisible()
  await expect(page.getByRole('status').filter({ hasText: 'Role tenant-one created.' })).toBeVisible()
  // Stored as entered: a reload shows the same rules.
  await page.reload()
  const stored = page.getByRole('group', { name: 'Access row 1' })
  await expect(stored.getByLabel('Rule for ssn')).toHaveValue('mask:last4')
  await expect(stored.getByLabel('Row filter')).toHaveValue('tenant_id = {tenant}')
  await screen(page, 'role-edit')
  await page.setViewportSize({ width: 390, height: 800 })
  // Nothing wider than the window: every control is reached without scrolling sideways.
  const wide = await page.evaluate(() =>
    [...document.querySelectorAll('main *')]
      .filter((e) => e.getBoundingClientRect().right > innerWidth + 1 && !e.closest('.scroll'))
      .map((e) => `${e.tagName}.${e.className}`),
  )
  expect(wide).toEqual([])
  await screen(page, 'role-edit-narrow')
  await page.setViewportSize({ width: 1280, height: 800 })

  // See as this role: the server's answer, through the real pipeline.
  await page.getByRole('link', { name: 'See as this role' }).click()
  // The tables the role names are offered; the first is chosen.
  await expect(page.getByLabel('Table')).toHaveValue('customers')
  await expect(page.getByLabel('Table').getByRole('option')).toHaveCount(1)
  await page.getByRole('button', { name: 'Show rows' }).click()
  const rows = page.getByRole('table', { name: /customers as tenant-one/ })
  await expect(rows).toBeVisible()
  await expect(rows.getByRole('row')).toHaveCount(3) // the header and tenant 1's two customers
  await expect(rows.getByRole('cell', { name: '****6789' })).toBeVisible()
  await expect(rows.getByRole('cell', { name: 'Ada Lovelace' })).toBeVisible()
  await expect(rows.getByRole('cell', { name: 'Alan Turing' })).toHaveCount(0)
  await expect(rows.getByRole('columnheader', { name: 'email' })).toHaveCount(0)
  for (const s of SECRETS) expect(await page.content()).not.toContain(s)
  await screen(page, 'role-preview')

  // The role's API in Swagger UI: its table is there, others are not.
  await page.getByRole('link', { name: 'API', exact: true }).click()
  await expect(page.getByText('/api/v2/db/_table/customers', { exact: true }).first()).toBeVisible({ timeout: 15_000 })
  await expect(page.getByText('/api/v2/db/_table/orders', { exact: true })).toHaveCount(0)
  // The system API only on request.
  await expect(page.getByText('/api/v2/system/role', { exact: true })).toHaveCount(0)
  await page.getByRole('checkbox', { name: 'Show the system API too' }).check()
  await expect(page.getByText('/api/v2/system/role', { exact: true }).first()).toBeVisible()
  await page.screenshot({ path: `${process.env.SCREENSHOTS ?? 'test-results/screens'}/role-api.png`, fullPage: true })

  await page.getByRole('link', { name: 'Access review' }).click()
  await expect(page.getByRole('heading', { name: 'Access review of tenant-one' })).toBeVisible()
  // Orders were blocked in the editor, so customers opens nothing embedded.
  await expect(page.getByRole('heading', { name: 'Also read embedded, through relationships' })).toBeVisible()
  await expect(page.getByText('Nothing beyond its grants.')).toBeVisible()
  await screen(page, 'role-review')

  // An app whose default role is the new one, straight from the role; its key shown once.
  await page.getByRole('link', { name: 'Access', exact: true }).click()
  await page.getByRole('link', { name: 'Create an app key with this role' }).click()
  await expect(page.getByLabel('Default role')).toHaveValue(/\d+/)
  await expect(page.getByLabel('Default role').locator('option:checked')).toHaveText('tenant-one')
  // Named after its role until the admin names it.
  await expect(page.getByLabel('Name', { exact: true })).toHaveValue('tenant-one-app')
  await page.getByLabel('Name', { exact: true }).fill('support-desk')
  await page.getByRole('button', { name: 'Create app' }).click()
  await expect(page.getByRole('heading', { name: 'App support-desk' })).toBeVisible()
  let key = await page.getByLabel('API key', { exact: true }).inputValue()
  expect(key.length).toBeGreaterThan(20)
  await page.getByRole('button', { name: 'Copy key' }).click()
  await expect(page.getByRole('status').filter({ hasText: 'Copied.' })).toBeVisible()
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key)
  // Regenerated: a new key, and the old one stops at once.
  await page.getByRole('button', { name: 'Regenerate key' }).click()
  await page.getByRole('alertdialog').getByRole('button', { name: 'Regenerate' }).click()
  await expect(page.getByLabel('API key', { exact: true })).not.toHaveValue(key)
  const old = await request.get('../api/v2/db/_table/customers', { headers: { 'X-DreamFactory-API-Key': key } })
  expect(old.status()).toBe(401)
  key = await page.getByLabel('API key', { exact: true }).inputValue()
  // A first request to try, for the table the role names.
  await expect(page.getByLabel('Try it')).toHaveValue(new RegExp(`X-DreamFactory-API-Key: ${key}.*/api/v2/db/_table/customers`))
  // Connect an agent: the configurations carry this key and this server.
  await page.getByRole('button', { name: 'VS Code' }).click()
  const config = JSON.parse(await page.getByLabel(/VS Code/).inputValue())
  expect(config.servers.rampart.env.RAMPART_API_KEY).toBe(key)
  await page.getByRole('button', { name: 'Streamable HTTP' }).click()
  const http = JSON.parse(await page.getByLabel(/Streamable HTTP/).inputValue())
  expect(http.servers.rampart.headers['X-DreamFactory-API-Key']).toBe(key)
  await screen(page, 'app-key')

  // The key is in no browser storage, and gone once the page is left.
  const stores = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }))
  expect(stores).not.toContain(key)
  await page.reload()
  await expect(page.getByRole('heading', { name: 'App support-desk' })).toBeVisible()
  await expect(page.getByLabel('API key', { exact: true })).toHaveCount(0)
  await screen(page, 'app-edit')

  // The REST API gives the key exactly the role's rows, masked and without the hidden field.
  const api = await request.get('../api/v2/db/_table/customers?order=id', { headers: { 'X-DreamFactory-API-Key': key } })
  expect(api.status()).toBe(200)
  const body = await api.json()
  expect(body.resource.map((r: { id: number }) => r.id)).toEqual([1, 3])
  expect(body.resource[0].ssn).toBe('****6789')
  expect(body.resource[0]).not.toHaveProperty('email')
  const orders = await request.get('../api/v2/db/_table/orders', { headers: { 'X-DreamFactory-API-Key': key } })
  expect(orders.status()).toBe(403)
  // Orders were shut off in the editor: not even through related.
  const related = await request.get('../api/v2/db/_table/customers?related=*', { headers: { 'X-DreamFactory-API-Key': key } })
  expect(related.status()).toBe(200)
  expect((await related.json()).resource[0]).not.toHaveProperty('orders_by_customer_id')

  await page.getByRole('link', { name: 'Apps', exact: true }).click()
  await expect(page.getByRole('row', { name: /support-desk.*tenant-one/ })).toBeVisible()
  await screen(page, 'apps')
  await page.getByRole('link', { name: 'Roles', exact: true }).click()
  await page.getByLabel('Find a role').fill('tenant')
  await expect(page.getByRole('row', { name: /tenant-one/ })).toBeVisible()
  await screen(page, 'roles')
  expect(problems).toEqual([])
})

test('users are created, found, given a role for an app, and disabled', async ({ page }) => {
  const problems = watch(page)
  await page.goto('login')
  await signIn(page)
  await page.getByRole('link', { name: 'Users', exact: true }).click()
  await page.getByRole('link', { name: 'New user' }).click()
  await page.getByLabel('Email').fill('lin@example.com')
  await page.getByLabel('Display name').fill('Lin Support')
  await page.getByLabel('Password').fill('too-short')
  await page.getByRole('button', { name: 'Create user' }).click()
  await expect(page.getByRole('alert')).toContainText('12')
  await page.getByLabel('Password').fill('a-long-and-unusual-passphrase')
  await page.getByRole('button', { name: 'Create user' }).click()
  await expect(page.getByRole('heading', { name: 'Users' })).toBeVisible()
  await page.getByLabel('Search users').fill('lin@')
  await expect(page.getByRole('row')).toHaveCount(2)
  await screen(page, 'users')
  await page.getByRole('link', { name: 'lin@example.com' }).click()
  // A role for one app (the app and role of the test before).
  await page.getByRole('button', { name: 'Add a role for an app' }).click()
  await page.getByLabel('App of assignment 1').selectOption({ label: 'support-desk' })
  await page.getByLabel('Role of assignment 1').selectOption({ label: 'tenant-one' })
  // Her own lookup overrides the role's.
  await page.getByRole('button', { name: 'Add lookup' }).click()
  await page.getByLabel('Name of lookup 1').fill('tenant')
  await page.getByLabel('Value of lookup 1').fill('2')
  await page.getByRole('button', { name: 'Save user' }).click()
  await expect(page.getByRole('heading', { name: 'Users' })).toBeVisible()
  await page.getByRole('link', { name: 'lin@example.com' }).click()
  await expect(page.getByLabel('Role of assignment 1').locator('option:checked')).toHaveText('tenant-one')
  await expect(page.getByLabel('Value of lookup 1')).toHaveValue('2')

  // The role as she sees it: her tenant's customers, not the role's default tenant.
  await page.getByRole('link', { name: 'Roles', exact: true }).click()
  await page.getByLabel('Find a role').fill('tenant-one')
  await page.getByRole('link', { name: 'tenant-one' }).click()
  await page.getByRole('link', { name: 'See as this role' }).click()
  await page.getByLabel('As user').selectOption({ label: 'lin@example.com' })
  await page.getByRole('button', { name: 'Show rows' }).click()
  const rows = page.getByRole('table', { name: /customers as tenant-one/ })
  await expect(rows.getByRole('cell', { name: 'Alan Turing' })).toBeVisible()
  await expect(rows.getByRole('cell', { name: 'Ada Lovelace' })).toHaveCount(0)
  await page.getByRole('link', { name: 'Users', exact: true }).click()
  await page.getByRole('link', { name: 'lin@example.com' }).click()
  await page.getByRole('checkbox', { name: /Active/ }).uncheck()
  await screen(page, 'user-edit')
  await page.getByRole('button', { name: 'Save user' }).click()
  await expect(page.getByRole('row', { name: /lin@example.com.*No$/ })).toBeVisible()
  expect(problems).toEqual([])
})
