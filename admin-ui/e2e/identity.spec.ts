// An LDAP directory (a real slapd) connected through the console: settings tested against
// the directory, a group mapped to a role, and a test sign-in that shows the person's groups
// and the role they would get, creating nobody.
import { expect, test } from '@playwright/test'
import { screen, signIn, watch } from './helpers'

const LDAP = JSON.parse(process.env.LDAP_CONFIG ?? '{}')

test('a directory is connected, mapped to a role, and tried', async ({ page }) => {
  test.skip(!LDAP.host, 'needs LDAP_CONFIG')
  const problems = watch(page)
  await page.goto('login')
  await signIn(page)
  // A role to map to.
  await page.getByRole('link', { name: 'Roles', exact: true }).click()
  await page.getByRole('link', { name: 'New role' }).click()
  await page.getByLabel('Name', { exact: true }).fill('directory-sales')
  await page.getByRole('button', { name: 'Create role' }).click()
  await expect(page.getByRole('heading', { name: 'Role directory-sales' })).toBeVisible()

  await page.getByRole('link', { name: 'Identity', exact: true }).click()
  await expect(page.getByText('No identity provider')).toBeVisible()
  await page.getByRole('link', { name: 'New identity provider' }).click()
  await page.getByLabel('Kind').selectOption({ label: 'LDAP' })
  await page.getByLabel('Name', { exact: true }).fill('corp')
  await page.getByLabel('Host').fill(LDAP.host)
  await page.getByLabel('Port').fill(String(LDAP.port))
  await page.getByLabel('TLS').selectOption(LDAP.tls)
  await page.getByLabel('CA certificate (PEM)').fill(LDAP.ca_cert)
  await page.getByLabel('Base DN').fill(LDAP.base_dn)
  await page.getByLabel('Service account DN').fill(LDAP.bind_dn)
  // A wrong service password: the directory's refusal, inline.
  await page.getByLabel('Service account password').fill('not-the-password')
  await page.getByRole('button', { name: 'Test settings' }).click()
  await expect(page.getByRole('alert')).toBeVisible()
  await page.getByLabel('Service account password').fill(LDAP.bind_password)
  await page.getByRole('button', { name: 'Test settings' }).click()
  await expect(page.getByRole('status')).toBeVisible()
  await page.getByRole('button', { name: 'Add a group mapping' }).click()
  await page.getByLabel('Group of mapping 1').fill(LDAP.group)
  await page.getByLabel('Role of mapping 1').selectOption({ label: 'directory-sales' })
  await page.getByRole('button', { name: 'Create identity provider' }).click()
  await expect(page.getByRole('heading', { name: 'Identity provider corp' })).toBeVisible()
  // Stored: the secret is not shown back, the mapping is.
  await expect(page.getByLabel('Service account password')).toHaveValue('')
  await expect(page.getByLabel('Group of mapping 1')).toHaveValue(LDAP.group)

  await page.getByLabel('Username').fill(LDAP.user)
  await page.getByLabel('Password', { exact: true }).fill(LDAP.password)
  await page.getByRole('button', { name: 'Test sign-in' }).click()
  await expect(page.getByText("Signed in; the role would be 'directory-sales' (by a group mapping).")).toBeVisible()
  await expect(page.getByText(/Groups: .*cn=sales/i)).toBeVisible()
  await screen(page, 'provider-ldap')
  await page.getByLabel('Password', { exact: true }).fill('wrong-password')
  await page.getByRole('button', { name: 'Test sign-in' }).click()
  await expect(page.getByRole('status').filter({ hasText: 'Invalid credentials supplied.' })).toBeVisible()
  await expect(page.getByRole('heading', { name: 'Identity provider corp' })).toBeVisible()

  await page.getByRole('link', { name: '← Identity providers' }).click()
  await expect(page.getByRole('row', { name: /corp.*LDAP.*1.*Yes/ })).toBeVisible()
  await screen(page, 'providers')
  // Nobody was created by the tests.
  await page.getByRole('link', { name: 'Users', exact: true }).click()
  await expect(page.getByRole('link', { name: /corp/ })).toHaveCount(0)
  expect(problems).toEqual([])
})

const OIDC = JSON.parse(process.env.OIDC_CONFIG ?? '{}')

test('an OpenID Connect provider is connected and its real sign-in tried', async ({ page, context }) => {
  test.skip(!OIDC.discovery_url, 'needs OIDC_CONFIG')
  const problems = watch(page)
  await page.goto('login')
  await signIn(page)
  await page.getByRole('link', { name: 'Identity', exact: true }).click()
  await page.getByRole('link', { name: 'New identity provider' }).click()
  await page.getByLabel('Kind').selectOption({ label: 'OpenID Connect' })
  await page.getByLabel('Name', { exact: true }).fill('corp_sso')
  await page.getByLabel('Discovery URL').fill(OIDC.discovery_url)
  await page.getByLabel('Client id').fill(OIDC.client_id)
  await page.getByLabel('Client secret').fill(OIDC.client_secret)
  await page.getByLabel('Redirect URL').fill(OIDC.redirect_url)
  await page.getByLabel('Scopes').fill('openid, email, profile, groups')
  await page.getByRole('button', { name: 'Test settings' }).click()
  await expect(page.getByRole('status')).toBeVisible()
  await page.getByRole('button', { name: 'Add a group mapping' }).click()
  await page.getByLabel('Group of mapping 1').fill(OIDC.group)
  await page.getByLabel('Role of mapping 1').selectOption({ label: 'directory-sales' })
  await page.getByRole('button', { name: 'Create identity provider' }).click()
  await expect(page.getByRole('heading', { name: 'Identity provider corp_sso' })).toBeVisible()
  await screen(page, 'provider-oidc')

  // The real sign-in, in a new tab: the provider's pages, then Rampart's session with the role.
  const [tab] = await Promise.all([context.waitForEvent('page'), page.getByRole('link', { name: 'Open the provider’s sign-in' }).click()])
  await tab.locator('input[name=login]').fill(OIDC.user)
  await tab.locator('input[name=password]').fill(OIDC.password)
  await tab.getByRole('button', { name: 'Sign in' }).click()
  const allow = tab.getByRole('button', { name: 'Allow' })
  if (await allow.isVisible().catch(() => false)) await allow.click()
  await expect(tab.locator('body')).toContainText('"role":"directory-sales"')
  await tab.close()
  expect(problems).toEqual([])
})
