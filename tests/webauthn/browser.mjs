#!/usr/bin/env node
// Real browser responses through libmfa: headless Chromium (Debian's, via
// playwright-core from tests/e2e) with the DevTools WebAuthn domain's
// virtual authenticators (ctap2 with and without user verification, u2f)
// on a page served over loopback at http://localhost:PORT.  The options
// come from libmfa (webauthn-tool), the page passes them through
// PublicKeyCredential.parseCreationOptionsFromJSON / parseRequestOptionsFromJSON
// to navigator.credentials, and the responses' toJSON() goes back to
// libmfa.  Every response then becomes a case in the vectors' form, judged
// by libmfa and by python-fido2 (compare.py --cases), which must agree.
//
//   node browser.mjs WEBAUTHN_TOOL WEBAUTHN_VERDICTS COMPARE_PY [--keep FILE]
// Exit 77 (skip) without Chromium or playwright-core (scripts/e2e-setup.sh).
// The last line is "N passed, N failed".

import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const [tool, verdicts, comparePy] = process.argv.slice(2, 5);
const keep = process.argv.indexOf('--keep') > 0
  ? process.argv[process.argv.indexOf('--keep') + 1] : null;
const chromiumPath = process.env.MFA_CHROMIUM || '/usr/bin/chromium';
let chromium;
try {
  const require = createRequire(path.join(here, '..', 'e2e', 'package.json'));
  ({ chromium } = require('playwright-core'));
} catch (e) {
  console.log(`SKIP: playwright-core missing (scripts/e2e-setup.sh): ${e.message}`);
  process.exit(77);
}
if (!fs.existsSync(chromiumPath)) {
  console.log(`SKIP: ${chromiumPath} not found (apt-get install chromium)`);
  process.exit(77);
}
if (!tool || !verdicts || !comparePy) {
  console.error('usage: browser.mjs WEBAUTHN_TOOL WEBAUTHN_VERDICTS COMPARE_PY');
  process.exit(2);
}

let passed = 0, failed = 0;
function check(ok, what) {
  if (ok) passed++; else { failed++; console.log(`FAIL ${what}`); }
  return ok;
}

const b64u = (buf) => Buffer.from(buf).toString('base64url');

// ---- the page ------------------------------------------------------------------

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/html' });
  res.end('<!doctype html><title>passkeys</title><p>libmfa passkey test</p>');
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;
const origin = `http://localhost:${port}`;
const rpBase = { rp_id: 'localhost', origins: [origin], algs: [-7, -8, -257] };

function lib(req) {
  const out = execFileSync(tool, [], { input: JSON.stringify({ ...rpBase, ...req }) });
  return JSON.parse(out.toString());
}

const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
         '--disable-background-networking', '--disable-component-update',
         '--disable-sync'],
});
const context = await browser.newContext();
const page = await context.newPage();
await page.goto(`${origin}/`);
const cdp = await context.newCDPSession(page);
await cdp.send('WebAuthn.enable', { enableUI: false });

async function authenticator(options) {
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { transport: 'usb', automaticPresenceSimulation: true, ...options },
  });
  return authenticatorId;
}

async function create(options) {
  return page.evaluate(async (o) => {
    try {
      const c = await navigator.credentials.create({
        publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(o) });
      return c.toJSON();
    } catch (e) { return { error: `${e.name}: ${e.message}` }; }
  }, options);
}

async function get(options) {
  return page.evaluate(async (o) => {
    try {
      const c = await navigator.credentials.get({
        publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(o) });
      return c.toJSON();
    } catch (e) { return { error: `${e.name}: ${e.message}` }; }
  }, options);
}

// ---- the ceremonies -------------------------------------------------------------

const cases = [];
function addCase(name, ceremony, rp, challenge, userHandle, response, expect, extra = {}) {
  cases.push({ name, ceremony, ...rpBase, uv: rp.uv || 'preferred',
               challenge: b64u(challenge), user_handle: b64u(userHandle),
               response, expect, discoverable: false, ...extra });
}

// register on the current authenticator; the stored record, or null
async function register(name, rp, expectFmt) {
  const challenge = crypto.randomBytes(32);
  const handle = crypto.randomBytes(32);
  const o = lib({ op: 'register-options', ...rp, challenge: b64u(challenge),
                  user_handle: b64u(handle) });
  if (!check(o.rc === 'MFA_OK', `${name}: register-options ${o.rc}`)) return null;
  const resp = await create(o.options);
  if (!check(!resp.error, `${name}: navigator.credentials.create: ${resp.error}`)) return null;
  const v = lib({ op: 'register-verify', ...rp, challenge: b64u(challenge),
                  user_handle: b64u(handle), response: resp });
  check(v.rc === 'MFA_OK', `${name}: register-verify ${v.rc}`);
  if (v.rc !== 'MFA_OK') return null;
  check(v.credential.fmt === expectFmt, `${name}: format ${v.credential.fmt}, expected ${expectFmt}`);
  addCase(name, 'register', rp, challenge, handle, resp, 'MFA_OK');
  console.log(`${name}: ${v.credential.fmt}, alg ${v.credential.alg}, ` +
              `flags 0x${v.credential.flags.toString(16)}, count ${v.credential.sign_count}`);
  return { cred: v.credential, handle };
}

async function login(name, rp, reg, { allow = true } = {}) {
  const challenge = crypto.randomBytes(32);
  const o = lib({ op: 'login-options', ...rp, challenge: b64u(challenge),
                  allow: allow ? [reg.cred.id] : [] });
  if (!check(o.rc === 'MFA_OK', `${name}: login-options ${o.rc}`)) return null;
  const resp = await get(o.options);
  if (!check(!resp.error, `${name}: navigator.credentials.get: ${resp.error}`)) return null;
  return { challenge, resp };
}

function loginCase(name, rp, reg, a, expect, extra = {}) {
  addCase(name, 'login', rp, a.challenge, reg.handle, a.resp, expect,
          { credential: reg.cred, discoverable: !!extra.discoverable, ...extra });
}

// 1. a security key with a PIN/biometric: passkey (resident), UV required
const key = await authenticator({ protocol: 'ctap2', hasResidentKey: true,
  hasUserVerification: true, isUserVerified: true });
const strict = { uv: 'required', rk: 'required' };
const reg1 = await register('ctap2-uv-register', strict, 'none');
if (reg1) {
  const a = await login('ctap2-uv-login', strict, reg1);
  if (a) {
    loginCase('ctap2-uv-login', strict, reg1, a, 'MFA_OK');
    // the captured assertion re-sent for the next login's challenge
    loginCase('ctap2-captured-assertion-resent', strict, reg1,
              { ...a, challenge: crypto.randomBytes(32) }, 'MFA_ERR_WEBAUTHN_CHALLENGE');
    // ... or with its own challenge, once the new count is stored
    const count = Number(Buffer.from(a.resp.response.authenticatorData, 'base64url')
      .readUInt32BE(33));
    check(count > reg1.cred.sign_count, `ctap2 sign count ${count} did not increase`);
    loginCase('ctap2-same-assertion-after-its-count', strict,
              { ...reg1, cred: { ...reg1.cred, sign_count: count } }, a,
              'MFA_ERR_WEBAUTHN_CLONED');
  }
  // usernameless: no allowCredentials, the user handle names the account
  const d = await login('ctap2-discoverable', strict, reg1, { allow: false });
  if (d) {
    check(d.resp.response.userHandle === b64u(reg1.handle),
          'discoverable login: user handle is not the registered one');
    loginCase('ctap2-discoverable-login', strict, reg1, d, 'MFA_OK', { discoverable: true });
  }
}
// 2. the same key asked for attestation: packed
const reg2 = await register('ctap2-direct-attestation', { attestation: 'direct' }, 'packed');
if (reg2) {
  const a = await login('ctap2-packed-login', {}, reg2);
  if (a) {
    loginCase('ctap2-packed-login', {}, reg2, a, 'MFA_OK');
    // checked against another stored credential (one removed, say)
    if (reg1) loginCase('ctap2-assertion-of-another-credential', {}, reg1, a,
                        'MFA_ERR_WEBAUTHN_UNKNOWN_CREDENTIAL');
  }
}
await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: key });

// 3. a key without user verification: fine when preferred, refused when
//    the server requires it
const touch = await authenticator({ protocol: 'ctap2', hasResidentKey: false,
  hasUserVerification: false });
const reg3 = await register('ctap2-touch-only-register', { rk: 'discouraged' }, 'none');
if (reg3) {
  const a = await login('ctap2-touch-only-login', {}, reg3);
  if (a) {
    loginCase('ctap2-touch-only-login', {}, reg3, a, 'MFA_OK');
    loginCase('ctap2-touch-only-when-uv-required', { uv: 'required' }, reg3, a,
              'MFA_ERR_WEBAUTHN_USER_VERIFICATION');
  }
}
await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: touch });

// 4. a U2F key, attestation asked for: fido-u2f
const u2f = await authenticator({ protocol: 'u2f', hasResidentKey: false,
  hasUserVerification: false });
const reg4 = await register('u2f-register', { attestation: 'direct', rk: 'discouraged' },
                            'fido-u2f');
if (reg4) {
  const a = await login('u2f-login', {}, reg4);
  if (a) loginCase('u2f-login', {}, reg4, a, 'MFA_OK');
}
await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: u2f });
await browser.close();
server.close();

// ---- both relying parties on every response --------------------------------------

const file = keep || path.join(os.tmpdir(), `mfa-browser-cases-${process.pid}.json`);
fs.writeFileSync(file, JSON.stringify(cases, null, 1));
let out;
try {
  out = execFileSync('/usr/bin/python3', [comparePy, verdicts, '--cases', file],
                     { encoding: 'utf8' });
} catch (e) {
  out = (e.stdout || '') + (e.status === 77 ? '' : '\n(compare.py failed)');
  if (e.status === 77) console.log('python-fido2 missing: libmfa verdicts only');
}
if (!keep) fs.unlinkSync(file);
process.stdout.write(out);
const m = out.match(/(\d+) passed, (\d+) failed\s*$/);
if (m) { passed += Number(m[1]); failed += Number(m[2]); } else check(false, 'compare.py gave no result');
check(cases.length >= 10, `only ${cases.length} browser cases`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
