// Debian's Chromium driven by playwright-core: the one way the project starts a browser.
// No tool downloads a browser of its own. The flags keep Chromium off the network (this
// machine's is closed) and quiet.
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export function launchBrowser({ extraArgs = [] } = {}) {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-default-apps', '--disable-extensions', ...extraArgs],
  });
}
