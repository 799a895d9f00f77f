// CORS entries, rate limits and the audit log, through the console: created, edited and
// deleted with the server's own validation shown inline; the audit log filtered with the
// API's filter language, paged, and exported.
import { expect, test } from '@playwright/test'
import { readFileSync } from 'node:fs'
import { screen, signIn, watch } from './helpers'

test('limits and CORS entries are created, edited and deleted', async ({ page }) => {
  const problems = watch(page)
  await page.goto('login')
  await signIn(page)

  await page.getByRole('link', { name: 'Limits', exact: true }).click()
  await expect(page.getByText('No limit: requests are only bounded')).toBeVisible()
  await page.getByRole('button', { name: 'New limit' }).click()
  const form = page.getByRole('form', { name: 'New limit' })
  await form.getByLabel('Name', { exact: true }).fill('each-app')
  await form.getByLabel('Type').selectOption('instance.role')
  await form.getByLabel('Requests').fill('100')
  await form.getByRole('button', { name: 'Create limit' }).click()
  // The server's own refusal: a role limit needs its role.
  await expect(form.getByRole('alert')).toContainText('role')
  await form.getByLabel('Type').selectOption('instance.each_app')
  await form.getByLabel('Per').selectOption('hour')
  await form.getByRole('button', { name: 'Create limit' }).click()
  await expect(page.getByRole('row', { name: /each-app.*instance\.each_app.*100 per hour.*Yes/ })).toBeVisible()
  await screen(page, 'limits')

  await page.getByRole('link', { name: 'CORS', exact: true }).click()
  await page.getByRole('button', { name: 'New entry' }).click()
  const cors = page.getByRole('form', { name: 'New entry' })
  await cors.getByLabel('Origins').fill('not an origin')
  await cors.getByRole('button', { name: 'Create entry' }).click()
  await expect(cors.getByRole('alert')).toBeVisible()
  await cors.getByLabel('Origins').fill('https://shop.example.com')
  await cors.getByLabel('Verbs').fill('GET, POST')
  await cors.getByRole('button', { name: 'Create entry' }).click()
  const row = page.getByRole('row', { name: /shop\.example\.com.*GET, POST.*Yes/ })
  await expect(row).toBeVisible()
  await row.getByRole('button', { name: /^Edit/ }).click()
  await page.getByRole('checkbox', { name: 'Enabled' }).uncheck()
  await page.getByRole('button', { name: 'Save' }).click()
  await expect(page.getByRole('row', { name: /shop\.example\.com.*POST No Edit/ })).toBeVisible()
  await screen(page, 'cors')
  await page.getByRole('row', { name: /shop\.example\.com/ }).getByRole('button', { name: /^Delete/ }).click()
  await expect(page.getByRole('alertdialog')).toBeVisible()
  await page.getByRole('alertdialog').getByRole('button', { name: 'Delete' }).click()
  await expect(page.getByRole('row', { name: /shop\.example\.com/ })).toHaveCount(0)
  expect(problems).toEqual([])
})

test('the audit log is filtered, paged and exported', async ({ page }) => {
  const problems = watch(page)
  await page.goto('login')
  await signIn(page)
  await page.getByRole('link', { name: 'Audit log' }).click()
  await expect(page.getByRole('heading', { name: 'Audit log' })).toBeVisible()
  // The console's own requests are there (the writer stores them within moments).
  await expect(async () => {
    await page.getByRole('button', { name: 'Apply filter' }).click()
    await expect(page.getByRole('table', { name: 'Audit events' }).getByRole('row').nth(1)).toBeVisible({ timeout: 1000 })
  }).toPass()
  await page.getByLabel('Filter', { exact: true }).fill("method = 'POST' and resource = 'admin/session'")
  await page.getByRole('button', { name: 'Apply filter' }).click()
  await expect(page.getByRole('cell', { name: /^POST system\/admin\/session/ }).first()).toBeVisible()
  await expect(page.getByRole('cell', { name: /^GET / })).toHaveCount(0)
  await screen(page, 'audit')
  const [file] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()])
  const csv = readFileSync(await file.path(), 'utf8')
  expect(csv.split('\n')[0]).toMatch(/^id,time,/)
  expect(csv).toContain('admin/session')
  // A bad filter: the server's message, inline.
  await page.getByLabel('Filter', { exact: true }).fill('status >')
  await page.getByRole('button', { name: 'Apply filter' }).click()
  await expect(page.getByRole('alert')).toContainText('position')
  expect(problems).toEqual([])
})
