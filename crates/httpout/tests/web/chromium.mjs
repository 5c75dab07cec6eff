// What the tests' page drivers share: a bound on the whole run, and
// Debian's Chromium launched headless through puppeteer-core.
import puppeteer from "puppeteer-core";

// Exits (3), saying so on stderr, if the run outlasts `env` ms (default
// `fallback`).
export function bound(name, env, fallback) {
  const limit = Number(process.env[env] || fallback);
  setTimeout(() => {
    console.error(`${name}: no result within ${limit} ms`);
    process.exit(3);
  }, limit).unref();
}

export function launch() {
  return puppeteer.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run"],
  });
}
