import { expect, test } from '@jupyterlab/galata';

test.describe('jupyterlab-deardiary', () => {
  test('the frontend reaches the server extension', async ({ page }) => {
    // Not awaited: the command resolves when its dialog is closed.
    await page.evaluate(() => {
      void window.jupyterapp.commands.execute('deardiary:server-status');
    });
    const dialog = page.getByRole('dialog');
    await expect(dialog).toContainText(
      /jupyterlab_deardiary server extension \d+\.\d+\.\d+.* is running/
    );
    await dialog.getByRole('button', { name: 'Ok' }).click();
  });

  test('the status command is in the command palette', async ({ page }) => {
    await page.keyboard.press('Control+Shift+C');
    await page
      .getByRole('textbox', { name: /search/i })
      .first()
      .fill('DearDiary: Server');
    await expect(
      page.getByText('DearDiary: Server Extension Status')
    ).toBeVisible();
  });
});
