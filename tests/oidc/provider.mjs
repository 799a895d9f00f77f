// A real OpenID Connect provider for the test suite (npm `oidc-provider`), with login and
// consent pages that check passwords (the package's development pages accept any name).
//
// Environment: REDIRECT_URIS (comma-separated, registered verbatim), ID_TOKEN_ALG (RS256 by
// default; HS256 signs ID tokens with the client secret, which a relying party must refuse).
// Prints `listening PORT` once ready; the issuer is http://127.0.0.1:PORT.
//
// `GET /test/forge/<how>` makes the token endpoint hand out ID tokens it has altered after
// issuing them, as a broken or hostile provider would: `audience` (minted for another client),
// `issuer` (another issuer, re-signed with this provider's key), `expired`, `unsigned`
// (`alg: none`), or `off`.
//
// People (password `<name>-password-1`): alice (group sales, tenant 1), bob (support,
// tenant 2), carol (no group), mallory (claims alice's e-mail, unverified).

import http from 'node:http';
import { generateKeyPair, exportJWK, decodeJwt, SignJWT } from 'jose';
import Provider from 'oidc-provider';

const people = {
  alice: { email: 'alice@example.org', email_verified: true, name: 'Alice Archer', groups: ['sales'], tenant: 1 },
  bob: { email: 'bob@example.org', email_verified: true, name: 'Bob Baker', groups: ['support'], tenant: 2 },
  carol: { email: 'carol@example.org', email_verified: true, name: 'Carol Cook', groups: [], tenant: 1 },
  mallory: { email: 'alice@example.org', email_verified: false, name: 'Mallory', groups: [], tenant: 2 },
};
const passwordOf = (name) => `${name}-password-1`;

const page = (title, body) => `<!doctype html><title>${title}</title>${body}`;

function readBody(req) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.on('data', (c) => { data += c; if (data.length > 1e5) req.destroy(); });
    req.on('end', () => resolve(Object.fromEntries(new URLSearchParams(data))));
    req.on('error', reject);
  });
}

let op;
let forgery = 'off';

async function forge(idToken, how, key) {
  const claims = decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  if (how === 'audience') claims.aud = 'another-client';
  if (how === 'issuer') claims.iss = 'http://127.0.0.1:1';
  if (how === 'expired') Object.assign(claims, { iat: now - 3600, exp: now - 1800 });
  if (how === 'unsigned') {
    const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
  }
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'op-key-1' }).sign(key);
}

async function interaction(req, res, uid, action) {
  const details = await op.interactionDetails(req, res);
  const send = (html) => { res.setHeader('content-type', 'text/html'); res.end(html); };
  const loginForm = (note) => send(page('Sign in', `${note || ''}<form method="post" action="/interaction/${uid}/login">
    <input name="login"><input type="password" name="password"><button>Sign in</button></form>`));
  if (!action) {
    if (details.prompt.name === 'login') return loginForm();
    return send(page('Consent', `<form method="post" action="/interaction/${uid}/confirm"><button>Allow</button></form>
      <form method="post" action="/interaction/${uid}/abort"><button>Deny</button></form>`));
  }
  const body = await readBody(req);
  if (action === 'login') {
    const ok = people[body.login] && body.password && body.password === passwordOf(body.login);
    if (!ok) return loginForm('<p>Wrong name or password.</p>');
    return op.interactionFinished(req, res, { login: { accountId: body.login } }, { mergeWithLastSubmission: false });
  }
  if (action === 'confirm') {
    const { prompt: { details: missing }, params, session } = details;
    const grant = details.grantId
      ? await op.Grant.find(details.grantId)
      : new op.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    const grantId = await grant.save();
    return op.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  return op.interactionFinished(req, res, { error: 'access_denied', error_description: 'The person denied access.' }, { mergeWithLastSubmission: false });
}

const server = http.createServer(async (req, res) => {
  const path = new URL(req.url, 'http://op').pathname;
  const f = path.match(/^\/test\/forge\/(off|audience|issuer|expired|unsigned)$/);
  if (f) { forgery = f[1]; return res.end(forgery); }
  const m = path.match(/^\/interaction\/([^/]+)(?:\/(login|confirm|abort))?$/);
  if (!m) return op.callback()(req, res);
  try {
    await interaction(req, res, m[1], m[2]);
  } catch (e) {
    res.statusCode = 400;
    res.end(String(e));
  }
});

server.listen(0, '127.0.0.1', async () => {
  const port = server.address().port;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'op-key-1', alg: 'RS256', use: 'sig' };
  const alg = process.env.ID_TOKEN_ALG || 'RS256';
  op = new Provider(`http://127.0.0.1:${port}`, {
    clients: [{
      client_id: 'rampart',
      client_secret: 'rampart-client-secret-0123456789abcdef',
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: alg,
      redirect_uris: (process.env.REDIRECT_URIS || '').split(',').filter(Boolean),
    }],
    enabledJWA: { idTokenSigningAlgValues: ['RS256', 'HS256'] },
    jwks: { keys: [jwk] },
    cookies: { keys: ['test-only-cookie-key'] },
    pkce: { required: () => true },
    responseTypes: ['code'],
    scopes: ['openid', 'email', 'profile', 'groups'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'tenant'], groups: ['groups'] },
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, i) => `/interaction/${i.uid}` },
    ttl: { AuthorizationCode: 60, IdToken: 300, AccessToken: 300, Interaction: 300, Session: 300, Grant: 300 },
    findAccount: async (ctx, sub) => (people[sub]
      ? { accountId: sub, claims: async () => ({ sub, ...people[sub] }) }
      : undefined),
  });
  op.use(async (ctx, next) => {
    await next();
    if (forgery !== 'off' && ctx.path === '/token' && ctx.body && ctx.body.id_token) {
      ctx.body = { ...ctx.body, id_token: await forge(ctx.body.id_token, forgery, privateKey) };
    }
  });
  console.log(`listening ${port}`);
});
