// An OpenID Connect identity provider for PaaS Studio's tests, built on the certified
// `oidc-provider` package (version pinned in package.json).
//
// Run:   node tests/idp/provider.mjs CONFIG.json      (after `npm ci --prefix tests/idp`)
// The Python side (tests/idp/__init__.py) writes CONFIG.json, starts this, waits for READY.
//
// CONFIG.json:
//   {
//     "port": 8123,
//     "clients": [{"client_id": "paas-studio", "client_secret": "...",
//                  "redirect_uris": ["http://127.0.0.1:8000/oidc/callback/"],
//                  "token_endpoint_auth_method": "client_secret_post"}],   // optional key
//     "users": {"erin": {"email": "erin@example.com", "email_verified": true,
//                        "name": "Erin", "groups": ["research-team"],
//                        "password": "..."}}                                // optional key
//   }
//
// What it serves, on http://127.0.0.1:PORT only (the issuer is exactly that, no trailing slash):
//   /.well-known/openid-configuration, /jwks, /auth (authorization code flow only, PKCE S256
//   required for every client), /token, /me (userinfo), /session/end (RP-initiated logout).
// Scopes: openid, email (email, email_verified), profile (name, preferred_username, given_name,
// family_name), groups (groups: a list of strings). The claims of every granted scope are put in
// the ID token too (conformIdTokenClaims: false), not only in userinfo. ID tokens are RS256,
// signed with an RSA key made at start (so a restart changes the JWKS).
//
// The sign-in pages are this file's own, not oidc-provider's devInteractions, so that a login
// missing from "users" is refused and the pages load nothing from the internet:
//   GET  /interaction/UID         login page: <form method=post> with inputs "login" and
//                                 "password" and a button "Sign in"; a "Cancel" link.
//   POST /interaction/UID         a login not in "users" (or a wrong password, for a user whose
//                                 entry has "password") re-renders the page, status 401, with
//                                 "Unknown login or wrong password."; otherwise 303 back to /auth.
//   GET  /interaction/UID/abort   ends the flow with error=access_denied at the redirect URI.
// Consent is given automatically: when oidc-provider asks for consent, the GET of the
// interaction grants everything asked for and redirects on, without a page.
//
// Users are read from CONFIG.json again on every account lookup (sign-in, token, userinfo), so
// a test may rewrite "users" between two sign-ins. Clients are read once, at start.
//
// Prints `READY <issuer>` on stdout once listening; on SIGTERM or SIGINT closes and exits 0.
// oidc-provider's own notices and warnings go to stdout/stderr too: look for the READY line.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const configPath = process.argv[2];
if (!configPath) {
  console.error('usage: node provider.mjs CONFIG.json');
  process.exit(2);
}

function readConfig() {
  return JSON.parse(readFileSync(configPath, 'utf8'));
}

const config = readConfig();
const port = Number(config.port);
const issuer = `http://127.0.0.1:${port}`;

function readUsers() {
  return readConfig().users ?? {};
}

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>`;
}

function loginPage(uid, clientId, { login = '', error = '' } = {}) {
  const message = error ? `<p role="alert" class="error">${escapeHtml(error)}</p>` : '';
  return page('Test identity provider: sign in', `<p>Signing in to <code>${escapeHtml(clientId)}</code>.</p>
${message}
<form method="post" action="/interaction/${escapeHtml(uid)}" autocomplete="off">
<p><label for="login">Login</label>
<input id="login" name="login" type="text" required autofocus value="${escapeHtml(login)}"></p>
<p><label for="password">Password</label>
<input id="password" name="password" type="password"></p>
<p><button type="submit">Sign in</button></p>
</form>
<p><a href="/interaction/${escapeHtml(uid)}/abort">Cancel</a></p>`);
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 65536) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }),
  kid: `test-${randomBytes(4).toString('hex')}`,
  alg: 'RS256',
  use: 'sig',
};

const provider = new Provider(issuer, {
  clients: config.clients.map((client) => ({
    client_id: client.client_id,
    client_secret: client.client_secret,
    redirect_uris: client.redirect_uris,
    post_logout_redirect_uris: client.post_logout_redirect_uris ?? [],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: client.token_endpoint_auth_method ?? 'client_secret_post',
    id_token_signed_response_alg: 'RS256',
  })),
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  pkce: { required: () => true },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username', 'given_name', 'family_name'],
    groups: ['groups'],
  },
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
  },
  interactions: {
    url: (ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  async findAccount(ctx, id) {
    const user = readUsers()[id];
    if (!user) return undefined;
    const { password, ...claims } = user;
    return {
      accountId: id,
      async claims() {
        return { preferred_username: id, ...claims, sub: id };
      },
    };
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    const rows = Object.entries(out)
      .map(([key, value]) => `<p><strong>${escapeHtml(key)}</strong>: ${escapeHtml(value)}</p>`)
      .join('\n');
    ctx.body = page('Test identity provider: error', rows);
  },
});

// The sign-in pages, ahead of oidc-provider's own routes (Provider#use puts them first).
provider.use(async (ctx, next) => {
  const match = /^\/interaction\/([^/]+)(\/abort)?$/.exec(ctx.path);
  if (!match) return next();
  const [, uid, abort] = match;
  ctx.set('Cache-Control', 'no-store');
  let details;
  try {
    details = await provider.interactionDetails(ctx.req, ctx.res);
  } catch (error) {
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = page('Test identity provider: error', `<p>${escapeHtml(error.message)}</p>`);
    return undefined;
  }
  if (details.uid !== uid) ctx.throw(400, 'interaction mismatch');
  const { prompt, params, session } = details;

  if (abort && ctx.method === 'GET') {
    const result = { error: 'access_denied', error_description: 'End-User aborted interaction' };
    await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    ctx.respond = false;
    return undefined;
  }

  if (prompt.name === 'consent' && ctx.method === 'GET') {
    // Auto-consent: grant what was asked for and go on, without a page.
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (prompt.details.missingOIDCScope) {
      grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    }
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const result = { consent: { grantId: await grant.save() } };
    await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
    ctx.respond = false;
    return undefined;
  }

  if (prompt.name !== 'login') ctx.throw(501, `prompt ${prompt.name} is not handled`);

  if (ctx.method === 'GET') {
    ctx.type = 'html';
    ctx.body = loginPage(uid, params.client_id, { login: params.login_hint ?? '' });
    return undefined;
  }
  if (ctx.method !== 'POST') ctx.throw(405);

  const form = await readForm(ctx.req);
  const login = (form.get('login') ?? '').trim();
  const user = readUsers()[login];
  if (!user || ('password' in user && form.get('password') !== user.password)) {
    ctx.status = 401;
    ctx.type = 'html';
    ctx.body = loginPage(uid, params.client_id, {
      login,
      error: 'Unknown login or wrong password.',
    });
    return undefined;
  }
  const result = { login: { accountId: login } };
  await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  ctx.respond = false;
  return undefined;
});

const server = createServer(provider.callback());

server.on('error', (error) => {
  console.error(`test identity provider: ${error.message}`);
  process.exit(1);
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`READY ${issuer}\n`);
});

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  // Bounded: exit even if a connection will not close.
  setTimeout(() => process.exit(0), 2000).unref();
}

process.on('SIGTERM', stop);
process.on('SIGINT', stop);
