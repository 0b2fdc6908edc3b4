#!/usr/bin/env node
// The three floods of issue 15, as an anonymous visitor would send them,
// bounded and on loopback only.  Each prints its figures and returns
// { ok, figures }: ok is whether the victim kept what it had.
//
//   node tests/e2e/floods.mjs PATH/TO/mfa-control-panel [password|sessions|idle ...]
//
// starts a server of its own (fresh data directory, test clock) per flood
// and prints one line of figures for each; run.mjs imports the same
// functions as browser-suite tests 20-22.  Run it against an older binary
// to see the "before" figures: the floods only speak plain HTTP.
//
// The attacker's requests leave from 127.0.0.3 and the victim's from
// 127.0.0.2 (both loopback on Linux), so that a per-address limit on the
// attacker is seen as such and does not also hit the victim.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const ATTACKER = '127.0.0.3';
export const VICTIM = '127.0.0.2';

// One plain HTTP request: { status, headers, body } or { error }.
export function request(base, method, p, { cookie, form, local, timeout = 20000 } = {}) {
  const u = new URL(p, base);
  const body = form ? new URLSearchParams(form).toString() : null;
  const headers = {};
  if (cookie) headers.cookie = cookie;
  if (body) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    headers['content-length'] = Buffer.byteLength(body);
  }
  return new Promise((resolve) => {
    const started = Date.now();
    const r = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search,
                             method, headers, localAddress: local, agent: false, timeout },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { data += d; });
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data,
                                      ms: Date.now() - started }));
      });
    r.on('timeout', () => { r.destroy(new Error('timeout')); });
    r.on('error', (e) => resolve({ error: e.message, ms: Date.now() - started }));
    if (body) r.write(body);
    r.end();
  });
}

// A browser's worth of state: the cookies the server set, and the last
// CSRF token seen on a form.
export class Client {
  constructor(base, local) { this.base = base; this.local = local; this.jar = new Map(); this.csrf = ''; }
  cookie() { return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; '); }
  async go(method, p, form) {
    const f = form ? { ...form, csrf: this.csrf } : undefined;
    const r = await request(this.base, method, p, { cookie: this.cookie(), form: f, local: this.local });
    if (r.error) return r;
    for (const c of [].concat(r.headers['set-cookie'] || [])) {
      const [kv] = c.split(';');
      const i = kv.indexOf('=');
      this.jar.set(kv.slice(0, i), kv.slice(i + 1));
    }
    const m = r.body.match(/name="csrf" value="([0-9a-f]+)"/);
    if (m) this.csrf = m[1];
    return r;
  }
  get(p) { return this.go('GET', p); }
  post(p, form) { return this.go('POST', p, form || {}); }
}

const errorOf = (r) => (r.body || '').match(/class="error"[^>]*>([^<]*)</)?.[1] || '';

// Start a server of its own; { base, stop, password }.
export async function startServer(bin, { tmp, env = {} } = {}) {
  const dir = fs.mkdtempSync(path.join(tmp || os.tmpdir(), 'mfa-flood-'));
  const clock = path.join(dir, 'clock');
  fs.writeFileSync(clock, '0\n');
  const s = spawn(bin, ['--listen', '127.0.0.1:0', '--data', path.join(dir, 'data')],
                  { env: { ...process.env, MFA_CP_TEST_CLOCK_FILE: clock, ...env },
                    stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  s.stdout.on('data', (d) => { out += d.toString(); });
  let base = null;
  for (let i = 0; i < 200 && !base; i++) {
    const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)\//);
    if (m) base = m[1]; else if (s.exitCode !== null) break; else await sleep(50);
  }
  if (!base) throw new Error('the server did not start');
  const stop = async () => {
    if (s.exitCode === null && s.signalCode === null) {
      const done = new Promise((r) => s.once('exit', r));
      s.kill('SIGTERM');
      if (await Promise.race([done.then(() => 0), sleep(15000).then(() => 1)])) s.kill('SIGKILL');
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  // Seconds added to the server's clock (MFA_CP_TEST_CLOCK_FILE).
  const setClock = (sec) => fs.writeFileSync(clock, `${sec}\n`);
  return { base, stop, setClock, password: out.match(/password "([^"]+)"/)?.[1] };
}

async function signup(base, name, pw) {
  const c = new Client(base, VICTIM);
  await c.get('/signup');
  const r = await c.post('/signup', { username: name, password: pw });
  if (r.status !== 303) throw new Error(`sign-up of ${name} answered ${r.status}`);
}

// Up to `max` wrong passwords for `name`: how many were checked (answered
// "Incorrect ...") before the first "Too many attempts".
async function guessesChecked(c, name, max) {
  for (let i = 0; i < max; i++) {
    const r = await c.post('/login', { username: name, password: `wrong-guess-${i}-${Date.now()}` });
    const e = errorOf(r);
    if (/Too many attempts/.test(e)) return i;
    if (!/Incorrect/.test(e)) throw new Error(`unexpected answer to a wrong password: ${r.status} "${e}"`);
  }
  return max;
}

// Run `n` tasks, `width` at a time.
async function pool(n, width, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) await fn(next++);
  }));
}

// 1. The victim's password counter, then failed logins with made-up names:
//    does the victim's throttle survive?
//    The flood takes minutes of real time (every login costs an Argon2id
//    hash), longer than the victim's first delay: the server's clock is
//    set back by the time it took, so that the answer shows what the
//    throttle remembers, not what time did.
export async function floodPassword(srv, { names = 1030 } = {}) {
  const base = srv.base;
  const victim = `victim${process.pid % 1000}`;
  await signup(base, victim, 'the-victims-real-password');
  const v = new Client(base, VICTIM);
  await v.get('/login');
  const first = await guessesChecked(v, victim, 12);
  const t0 = Date.now();
  const a = new Client(base, ATTACKER);
  await a.get('/login');
  const started = Date.now();
  let refused = 0;
  await pool(names, 4, async (i) => {
    const r = await a.post('/login', { username: `made-up-${i}-${process.pid}`, password: 'x' });
    if (r.status >= 400) refused++;
  });
  const floodMs = Date.now() - started;
  srv.setClock(-Math.ceil((Date.now() - t0) / 1000));
  const after = await guessesChecked(v, victim, 12);
  const figures = `password: ${first} wrong passwords checked before the victim was throttled; ` +
    `${names} failed logins with made-up names in ${(floodMs / 1000).toFixed(1)} s (${refused} answered >= 400); ` +
    `then ${after} more of the victim's passwords checked at once (0: the throttle held)`;
  return { ok: first > 0 && after === 0, figures, first, after };
}

// 2. A logged-in victim, then cookie-less requests: is the victim still in?
export async function floodSessions(srv, { requests = 4200 } = {}) {
  const base = srv.base;
  const victim = `sess${process.pid % 1000}`;
  await signup(base, victim, 'the-victims-real-password');
  const v = new Client(base, VICTIM);
  await v.get('/login');
  const r = await v.post('/login', { username: victim, password: 'the-victims-real-password' });
  const where = async () => (await v.get('/')).headers.location;
  const before = await where();
  if (r.status !== 303 || before === '/login') throw new Error(`victim not logged in (${r.status} ${before})`);
  const started = Date.now();
  let cookies = 0;
  await pool(requests, 16, async () => {
    const x = await request(base, 'GET', '/login', { local: ATTACKER });
    if (x.headers && [].concat(x.headers['set-cookie'] || []).some((c) => /cp_session=/.test(c))) cookies++;
  });
  const floodMs = Date.now() - started;
  const after = await where();
  const figures = `sessions: ${requests} cookie-less GET /login in ${(floodMs / 1000).toFixed(1)} s ` +
    `(${cookies} got a session cookie); the logged-in victim's next page: ${after} ` +
    `(${after === before ? 'still logged in' : 'logged out'})`;
  return { ok: after === before, figures };
}

// 3. Idle half-sent requests from one address: is a new client served?
export async function floodIdle(srv, { conns = 1200, tries = 5 } = {}) {
  const base = srv.base;
  const u = new URL(base);
  const socks = [];
  let closed = 0;
  await pool(conns, 50, async () => {
    await new Promise((resolve) => {
      const s = net.connect({ host: u.hostname, port: Number(u.port), localAddress: ATTACKER });
      s.on('connect', () => { s.write(`GET /login HTTP/1.1\r\nHost: ${u.host}\r\n`); resolve(); });
      s.on('error', () => resolve());
      s.on('close', () => { closed++; resolve(); });
      s.setTimeout(5000, resolve);
      socks.push(s);
    });
  });
  await sleep(1000);
  const open = socks.filter((s) => !s.destroyed && s.readyState === 'open').length;
  let served = 0, worst = 0;
  for (let i = 0; i < tries; i++) {
    const r = await request(base, 'GET', '/login', { local: VICTIM, timeout: 3000 });
    if (r.status === 200) served++;
    worst = Math.max(worst, r.ms);
  }
  socks.forEach((s) => s.destroy());
  const figures = `idle: ${conns} half-sent requests from ${ATTACKER}, ${open} still open after 1 s ` +
    `(${closed} closed by the server); a new client from ${VICTIM}: ${served}/${tries} served ` +
    `(slowest ${worst} ms, 3 s timeout)`;
  return { ok: served === tries, figures };
}

export const floods = { password: floodPassword, sessions: floodSessions, idle: floodIdle };

if (import.meta.url === `file://${process.argv[1]}`) {
  const bin = process.argv[2];
  const which = process.argv.slice(3).length ? process.argv.slice(3) : Object.keys(floods);
  if (!bin) {
    console.error('usage: node floods.mjs PATH/TO/mfa-control-panel [password|sessions|idle ...]');
    process.exit(2);
  }
  let bad = 0;
  for (const w of which) {
    const srv = await startServer(bin);
    try {
      const r = await floods[w](srv);
      console.log(`${r.ok ? 'held ' : 'LOST '} ${r.figures}`);
      if (!r.ok) bad++;
    } finally {
      await srv.stop();
    }
  }
  process.exit(bad ? 1 : 0);
}
